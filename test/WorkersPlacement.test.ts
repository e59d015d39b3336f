import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import {
  type Cluster,
  ClusterTag,
  clusterLayer,
  inspect,
  isAlive,
  type Line,
  request,
  table,
  waitFor
} from "./fixtures/workers-harness.js"

/** The runs of the one-worker task (it logs one every 50 ms), in the order the processes appended them. */
const runs = (cluster: Cluster): ReadonlyArray<Line> => cluster.lines().filter((line) => line.what === "singleton run")

/**
 * The processes that ran the task, one block each: a pid that shows up again after another's runs began means two
 * copies ran at once (or a dead host came back), which must never happen.
 */
const hosts = (cluster: Cluster): ReadonlyArray<number> => {
  const blocks: Array<number> = []
  for (const run of runs(cluster)) if (blocks.at(-1) !== run.pid) blocks.push(run.pid)
  const seen = new Set<number>()
  for (const pid of blocks) {
    assert.isFalse(seen.has(pid), `pid ${pid} ran the one-worker task in two separate spells: ${blocks.join(" → ")}`)
    seen.add(pid)
  }
  return blocks
}

/** The primary serves, and the one-worker task has run at least once. */
const settled = (cluster: Cluster) =>
  Effect.gen(function* () {
    yield* waitFor(
      cluster,
      "the primary to serve",
      () => cluster.lines().find((l) => l.role === "main" && l.what === "serving"),
      "40 seconds"
    )
    return yield* waitFor(cluster, "a run of the one-worker task", () => runs(cluster).at(-1), "20 seconds")
  })

/** The worker table, once all three rows serve. */
const allServing = (cluster: Cluster) =>
  Effect.gen(function* () {
    for (;;) {
      const rows = yield* table(cluster)
      if (rows.length === 3 && rows.every((row) => row.state === "serving")) return rows
      yield* Effect.sleep("50 millis")
    }
  }).pipe(Effect.timeout("30 seconds"), Effect.orDie)

const singletonRows = (cluster: Cluster) =>
  Effect.map(inspect(cluster, "/tasks"), (response) =>
    (JSON.parse(response.body).tasks as Array<any>).filter((task) => task.name === "singleton")
  )

layer(
  clusterLayer({
    WORKERS: "3",
    FIXTURE_ONE_WORKER: "1",
    FIXTURE_LOGFMT: "1",
    FIXTURE_RESTART_MS: "100",
    FIXTURE_RESTART_RECURS: "50",
    GRACEFUL_SHUTDOWN_TIMEOUT: "5"
  }),
  { excludeTestServices: true, timeout: "180 seconds" }
)("a one-worker task on three workers", (it) => {
  it.effect(
    "runs on the lowest-numbered worker only, and the inspector lists it once, with that worker",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* settled(cluster)
        const rows = yield* allServing(cluster)
        const worker0 = rows.find((row) => row.name === "worker-0")!
        assert.deepStrictEqual(hosts(cluster), [worker0.pid])
        const listed = yield* singletonRows(cluster)
        assert.strictEqual(listed.length, 1)
        assert.strictEqual(listed[0].worker, "worker-0")
        assert.strictEqual(listed[0].status, "running")
        assert.strictEqual(listed[0].placement, "one-worker")
        assert.isAbove(listed[0].runs, 0)

        // Every log line says which process wrote it: the server's, the app's own reports, the primary's.
        const entries = cluster.output().split("\n")
        const has = (...parts: ReadonlyArray<string>) =>
          entries.some((entry) => parts.every((part) => entry.includes(part)))
        for (const worker of ["worker-0", "worker-1", "worker-2"]) {
          assert.isTrue(has(`message="Listening on`, "app=fixture", `worker=${worker}`), `Listening on ${worker}`)
          assert.isTrue(has(`message="Task \\"failing\\" failed"`, "task=failing", `worker=${worker}`), worker)
        }
        assert.isTrue(has("One-worker task", "runs on worker-0", "worker=primary"), "the primary's line")
      }),
    60_000
  )

  it.effect(
    "its host killed 5 times in a row: always one copy, back on another worker before the killed one is replaced",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* settled(cluster)
        const gaps: Array<number> = []
        for (let kill = 0; kill < 5; kill++) {
          yield* allServing(cluster)
          const host = runs(cluster).at(-1)!
          const killedAt = Date.now()
          process.kill(host.pid, "SIGKILL")
          const next = yield* waitFor(
            cluster,
            `the task to run again after killing pid ${host.pid}`,
            () => runs(cluster).find((run) => run.at >= killedAt && run.pid !== host.pid),
            "10 seconds"
          )
          const replaced = yield* waitFor(
            cluster,
            `${host.role} to be replaced`,
            () =>
              cluster.lines().find((l) => l.role === host.role && l.what === "after_server_start" && l.at >= killedAt),
            "30 seconds"
          )
          assert.isFalse(isAlive(host.pid))
          assert.isAtMost(next.at, replaced.at, "the task waited for the killed worker's replacement")
          gaps.push(next.at - killedAt)
        }
        // Never two copies at once, and never back on a killed process.
        const blocks = hosts(cluster)
        assert.isAtLeast(blocks.length, 6)
        yield* Effect.logInfo(`one-worker task back after a kill in ${gaps.join(", ")} ms`)
        const listed = yield* singletonRows(cluster)
        assert.strictEqual(listed.length, 1)
        assert.strictEqual(listed[0].status, "running")
        const rows = yield* table(cluster)
        assert.strictEqual(rows.find((row) => row.name === listed[0].worker)!.pid, blocks.at(-1))
      }),
    150_000
  )

  it.effect(
    "a restart of its host moves it, so does scaling its host away; a cancel ends every copy, a later add starts afresh",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* settled(cluster)
        yield* allServing(cluster)
        const [before] = yield* singletonRows(cluster)
        const hostPid = runs(cluster).at(-1)!.pid
        const restarted = yield* inspect(cluster, "/restart", {
          method: "POST",
          body: JSON.stringify({ workers: [before.worker], zeroDowntime: false })
        })
        assert.strictEqual(restarted.status, 200, restarted.body)
        const moved = yield* waitFor(
          cluster,
          "the task to move off the restarted worker",
          () => runs(cluster).find((run) => run.pid !== hostPid && run.at > before.startedAt && !isAlive(hostPid)),
          "10 seconds"
        )
        assert.notStrictEqual(moved.pid, hostPid)

        // Scaled away: keep worker-0 only, with the task on another worker (restart worker-0 once more if need be).
        if (moved.role === "worker:worker-0") {
          const again = yield* inspect(cluster, "/restart", {
            method: "POST",
            body: JSON.stringify({ workers: ["worker-0"], zeroDowntime: false })
          })
          assert.strictEqual(again.status, 200, again.body)
          yield* waitFor(
            cluster,
            "the task to move off worker-0",
            () => (runs(cluster).at(-1)!.role !== "worker:worker-0" ? true : undefined),
            "10 seconds"
          )
        }
        assert.notStrictEqual(runs(cluster).at(-1)!.role, "worker:worker-0")
        const scaled = yield* inspect(cluster, "/scale", { method: "POST", body: JSON.stringify({ replicas: 1 }) })
        assert.strictEqual(scaled.status, 200, scaled.body)
        const [worker0] = yield* table(cluster)
        assert.strictEqual(worker0?.name, "worker-0")
        const scaledAt = Date.now()
        yield* waitFor(
          cluster,
          "the task to run on worker-0 after scaling down",
          () => runs(cluster).find((run) => run.at >= scaledAt && run.pid === worker0!.pid),
          "10 seconds"
        )
        assert.strictEqual(runs(cluster).at(-1)!.pid, worker0!.pid)
        hosts(cluster)
        const back = yield* inspect(cluster, "/scale", { method: "POST", body: JSON.stringify({ replicas: 3 }) })
        assert.strictEqual(back.status, 200, back.body)
        yield* allServing(cluster)

        const [current] = yield* singletonRows(cluster)
        const cancelled = yield* inspect(cluster, `/tasks/${current.worker}/singleton/cancel`, { method: "POST" })
        assert.strictEqual(cancelled.status, 200, cancelled.body)
        const count = runs(cluster).length
        // Cancelled on its host, the task ends on every worker: the waiting copies end too. A worker started
        // afterwards adds it again and, as a re-add does, starts it afresh: the only copy left to run is its own.
        const again = yield* inspect(cluster, "/restart", {
          method: "POST",
          body: JSON.stringify({ workers: ["worker-2"], zeroDowntime: false })
        })
        assert.strictEqual(again.status, 200, again.body)
        const worker2 = (yield* allServing(cluster)).find((row) => row.name === "worker-2")!
        const fresh = yield* waitFor(
          cluster,
          "the re-added task to run on the new worker-2",
          () => (runs(cluster).length > count ? runs(cluster).slice(count) : undefined),
          "10 seconds"
        )
        // nothing ran in the second or so the restart took, but the new worker-2's own copy
        assert.deepStrictEqual(Array.from(new Set(fresh.map((run) => run.pid))), [worker2.pid])
        hosts(cluster)
        const listed = yield* singletonRows(cluster)
        assert.strictEqual(listed.length, 1)
        assert.strictEqual(listed[0].worker, "worker-2")
        assert.strictEqual(listed[0].status, "running")
      }),
    90_000
  )

  it.effect(
    "app code on any worker lists every worker's tasks and cancels one everywhere (scope: all, through the primary)",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* settled(cluster)
        const rows = yield* allServing(cluster)
        const listed = yield* request(cluster.port, "/all-tasks")
        const { from, tasks } = JSON.parse(listed.body) as {
          from: string
          tasks: Array<{ worker: string; name: string; status: string }>
        }
        assert.include(
          rows.map((row) => row.name),
          from
        )
        assert.sameMembers(
          tasks.filter((task) => task.name === "ticker").map((task) => task.worker),
          rows.map((row) => row.name)
        )
        assert.isAtMost(tasks.filter((task) => task.name === "singleton").length, 1)

        const cancelled = yield* request(cluster.port, "/cancel-all?name=ticker", { method: "POST" })
        assert.strictEqual(cancelled.status, 204)
        const after = JSON.parse((yield* inspect(cluster, "/tasks")).body).tasks as Array<any>
        assert.deepStrictEqual(
          after.filter((task) => task.name === "ticker").map((task) => task.status),
          ["cancelled", "cancelled", "cancelled"]
        )
        const missing = yield* request(cluster.port, "/cancel-all?name=nope", { method: "POST" })
        assert.strictEqual(missing.status, 404)
      }),
    60_000
  )
})
