import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  eventually,
  feed,
  freshDatabase,
  type Machine,
  overlaps,
  probeRuns,
  query,
  spawnMachine
} from "../fixtures/fleet-harness.js"
import { request } from "../fixtures/workers-harness.js"

interface FleetView {
  readonly machine: string
  readonly machines: ReadonlyArray<{
    readonly machine: string
    readonly state: string
    readonly workers: ReadonlyArray<unknown>
  }>
  readonly tasks: ReadonlyArray<{ readonly name: string; readonly status: string; readonly machine?: string }>
}

const fleetOf = (machine: Machine): Effect.Effect<FleetView | undefined> =>
  request(machine.inspectorPort, "/fleet").pipe(
    Effect.map((response) => (response.status === 200 ? (JSON.parse(response.body) as FleetView) : undefined)),
    Effect.orElseSucceed(() => undefined)
  )

const outputs = (machines: ReadonlyArray<Machine>) => () =>
  machines.map((machine) => `--- ${machine.name}:\n${machine.output().slice(-3000)}`).join("\n")

/** Where the probe task runs now, by the fleet's table. */
const probeHost = (url: string) =>
  Effect.map(
    query<{ status: string; machine: string | null }>(
      url,
      "SELECT status, machine FROM fiberapp_tasks WHERE name = 'probe'"
    ),
    (rows) => (rows[0]?.status === "running" ? (rows[0].machine ?? undefined) : undefined)
  )

describe("a fleet of three machines on one PostgreSQL database", () => {
  it.live(
    "a scope all dispatch reaches a websocket on every machine; the one-in-fleet task runs once and moves on SIGTERM and SIGKILL",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase
        const machines = [
          yield* spawnMachine(url, "machine-a"),
          yield* spawnMachine(url, "machine-b"),
          // A machine serving alone is a runner and a member at once.
          yield* spawnMachine(url, "machine-c", { WORKERS: "1" })
        ]
        const [a, b, c] = machines as [Machine, Machine, Machine]
        const detail = outputs(machines)
        const byName = new Map(machines.map((machine) => [machine.name, machine]))

        const view = yield* eventually(
          "three machines up in /fleet",
          Effect.map(fleetOf(a), (fleet) =>
            fleet !== undefined && fleet.machines.filter((m) => m.state === "up").length === 3 ? fleet : undefined
          ),
          // Seven processes start under tsx: on a busy 2-core machine that takes a while.
          "150 seconds",
          detail
        )
        expect(view.machine).toBe("machine-a")
        expect(view.machines.find((m) => m.machine === "machine-b")?.workers).toHaveLength(2)
        expect(view.machines.find((m) => m.machine === "machine-c")?.workers).toHaveLength(1)

        // Events everywhere: a dispatch made on machine a reaches the feeds of b and c too.
        const clients = [yield* feed(a), yield* feed(b), yield* feed(c)]
        yield* eventually(
          "every machine's websocket to get a message",
          Effect.zipRight(
            request(a.port, "/notify", { method: "POST" }),
            Effect.sync(() => (clients.every((client) => client.received() > 0) ? true : undefined))
          ),
          "20 seconds",
          detail
        )

        // Another machine's workers, steered from this machine's inspector (through the database).
        const pidOf = (machine: Machine, worker: string) =>
          Effect.map(
            request(machine.inspectorPort, "/"),
            (response) =>
              (JSON.parse(response.body).workers as ReadonlyArray<{ name: string; pid: number }>).find(
                (row) => row.name === worker
              )?.pid
          )
        const before = yield* pidOf(b, "worker-1")
        const restarted = yield* request(a.inspectorPort, "/fleet/machine-b/restart", {
          method: "POST",
          body: JSON.stringify({ workers: ["worker-1"] }),
          timeoutMs: 60_000
        })
        expect(restarted.status, restarted.body).toBe(200)
        expect(yield* pidOf(b, "worker-1")).not.toBe(before)
        const missing = yield* request(a.inspectorPort, "/fleet/machine-b/tasks/worker-0/nope/cancel", {
          method: "POST"
        })
        expect(missing.status).toBe(404)

        // The one-in-fleet task: running somewhere, and only there.
        const first = yield* eventually("the probe to run", probeHost(url), "30 seconds", detail)
        const firstHost = byName.get(first)!
        yield* eventually(
          "the probe to beat",
          Effect.map(probeRuns(url), (runs) => (runs.length > 0 ? runs : undefined)),
          "10 seconds",
          detail
        )

        // SIGTERM its machine: it moves to another one.
        const stoppedAt = Date.now()
        firstHost.kill("SIGTERM")
        yield* firstHost.exit
        const second = yield* eventually(
          "the probe to move after SIGTERM",
          Effect.map(probeHost(url), (host) => (host !== undefined && host !== first ? host : undefined)),
          "20 seconds",
          detail
        )
        const movedAfterTerm = Date.now() - stoppedAt
        const secondHost = byName.get(second)!

        // SIGKILL the next one: nothing releases its locks; it moves once they expire.
        yield* eventually(
          "the probe to beat on its new machine",
          Effect.map(probeRuns(url), (runs) => (runs.some((run) => run.machine === second) ? true : undefined)),
          "10 seconds",
          detail
        )
        const killedAt = Date.now()
        secondHost.kill("SIGKILL")
        yield* secondHost.exit
        const third = yield* eventually(
          "the probe to move after SIGKILL",
          Effect.map(probeHost(url), (host) =>
            host !== undefined && host !== first && host !== second ? host : undefined
          ),
          "30 seconds",
          detail
        )
        const movedAfterKill = Date.now() - killedAt
        const survivor = byName.get(third)!
        yield* eventually(
          "the probe to beat on the last machine",
          Effect.map(probeRuns(url), (runs) => (runs.some((run) => run.machine === third) ? true : undefined)),
          "10 seconds",
          detail
        )

        const runs = yield* probeRuns(url)
        expect(overlaps(runs)).toEqual([])
        // Within the documented failover (about 5 s after a crash), with room for a busy 2-core machine.
        expect(movedAfterKill).toBeLessThan(15_000)
        expect(movedAfterTerm).toBeLessThan(15_000)

        // The survivor's inspector shows the killed machine gone and the stopped one stopped.
        const after = yield* eventually(
          "the killed machine to show as gone",
          Effect.map(fleetOf(survivor), (fleet) =>
            fleet?.machines.find((m) => m.machine === second)?.state === "gone" ? fleet : undefined
          ),
          "20 seconds",
          detail
        )
        expect(after.machines.find((m) => m.machine === first)?.state).toBe("stopped")
        expect(after.machines.find((m) => m.machine === third)?.state).toBe("up")
        expect(after.tasks.find((task) => task.name === "probe")).toMatchObject({ status: "running", machine: third })
        // Its runs, from its machine's heartbeat (a copy granted, moved back and granted again has run twice).
        yield* eventually(
          "the probe's runs in the fleet's view",
          Effect.map(fleetOf(survivor), (fleet) =>
            ((fleet?.tasks.find((task) => task.name === "probe") as { runs?: number } | undefined)?.runs ?? 0) >= 1
              ? true
              : undefined
          ),
          "10 seconds",
          detail
        )
      }).pipe(Effect.scoped),
    360_000
  )
})
