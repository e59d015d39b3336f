import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { format, soak } from "../soak/soak.js"

const seconds = Number(process.env.SOAK_SECONDS ?? 20)

describe("soak, shortened", () => {
  it.live(
    `${seconds} s of HTTP, websockets, tasks and events on 2 workers, one of them killed: nothing else fails or stays`,
    () =>
      Effect.gen(function* () {
        const report = yield* soak({ seconds })
        console.log(format(report).join("\n"))
        assert.deepStrictEqual(report.unexpectedErrors, [])
        assert.isAbove(report.requests, 0)
        assert.isAbove(report.websocketMessages, 0)
        assert.isAbove(report.tasksAdded, 0)
        assert.isAtLeast(report.kills, 1)
        assert.strictEqual(report.restarts, report.kills, "every killed worker was replaced, once")
        for (const millis of report.recoveryMillis) assert.isBelow(millis, 15_000)
        // Settled: each worker holds its purger task only, and its heap is back near where it started.
        assert.deepStrictEqual(
          report.workerHeapEnd.map((w) => w.tasks),
          [1, 1]
        )
        for (const worker of report.workerHeapEnd) assert.isBelow(worker.heapUsed, report.workerHeapStart * 1.5)
        assert.strictEqual(report.exitCode, 0)
        assert.strictEqual(report.processesLeft, 0)
      }).pipe(Effect.scoped),
    { timeout: (seconds + 90) * 1000 }
  )
})
