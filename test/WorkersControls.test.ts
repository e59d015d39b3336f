import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as App from "../src/App.js"
import { hooksOf } from "../src/internal/hooks.js"
import { processNames } from "../src/internal/workers/managed.js"
import * as Workers from "../src/Workers.js"
import {
  type Cluster,
  ClusterTag,
  clusterLayer,
  inspect,
  isAlive,
  request,
  spawnCluster,
  table,
  type WorkerRow,
  waitFor
} from "./fixtures/workers-harness.js"

/** The primary serves once every worker acknowledged; workers boot slowly on a busy machine. */
const ready = (cluster: Cluster) =>
  waitFor(
    cluster,
    "the primary to serve",
    () => cluster.lines().find((l) => l.role === "main" && l.what === "serving"),
    "60 seconds"
  )

interface Answer {
  readonly status: number
  readonly ok?: any
  readonly error?: { readonly _tag: string; readonly reason?: string; readonly message: string }
  readonly pid: number
  readonly worker: string
}

/** A call of the worker's own supervisor (`app.m`) through the fixture's `/m/...` routes. */
const m = (cluster: Cluster, path: string, method = "POST") =>
  Effect.map(request(cluster.port, path, { method, timeoutMs: 120_000 }), (response) => ({
    status: response.status,
    ...(JSON.parse(response.body) as Omit<Answer, "status">)
  }))

const row = (rows: ReadonlyArray<WorkerRow>, name: string) => rows.find((w) => w.name === name)
const servers = (rows: ReadonlyArray<WorkerRow>) => rows.filter((w) => w.kind === "server")

/** The inspector's table once `check` holds for it. */
const tableWhen = (cluster: Cluster, what: string, check: (rows: ReadonlyArray<WorkerRow>) => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 600; i++) {
      const rows = yield* table(cluster)
      if (check(rows)) return rows
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.dieMessage(`Timed out waiting for ${what}:\n${JSON.stringify(yield* table(cluster))}`)
  })

describe("Workers.manage: registration (Sanic's manager tests)", () => {
  const withApp = <A, E>(f: (app: App.AppService) => Effect.Effect<A, E, App.App>) =>
    Effect.scoped(Effect.flatMap(App.make({ name: "managed" }), (app) => Effect.provideService(f(app), App.App, app)))
  const entry = (app: App.AppService, name: string) => hooksOf(app).managed.get(name)!

  it.effect("test_manage_basic: Sanic's defaults: durable, not restartable, tracked, started, one process", () =>
    withApp((app) =>
      Effect.gen(function* () {
        yield* Workers.manage("TEST", Effect.void)
        const test = entry(app, "TEST")
        assert.deepStrictEqual(
          [test.transient, test.restartable, test.tracked, test.autoStart, test.workers],
          [false, false, true, true, 1]
        )
        assert.deepStrictEqual(processNames(test), ["TEST"])
      })
    )
  )

  it.effect(
    "test_manage_transient: transient implies restartable; several processes are named name-0, name-1, ...",
    () =>
      withApp((app) =>
        Effect.gen(function* () {
          yield* Workers.manage("TEST", Effect.void, { transient: true, workers: 3 })
          const test = entry(app, "TEST")
          assert.deepStrictEqual(
            [test.transient, test.restartable, test.tracked, test.autoStart],
            [true, true, true, true]
          )
          assert.deepStrictEqual(processNames(test), ["TEST-0", "TEST-1", "TEST-2"])
        })
      )
  )

  it.effect("test_manage_restartable: restartable and not started at first", () =>
    withApp((app) =>
      Effect.gen(function* () {
        yield* Workers.manage("TEST", Effect.void, { restartable: true, autoStart: false })
        const test = entry(app, "TEST")
        assert.deepStrictEqual([test.transient, test.restartable, test.autoStart], [false, true, false])
      })
    )
  )

  it.effect("test_manage_untracked: not kept in the table once ended", () =>
    withApp((app) =>
      Effect.gen(function* () {
        yield* Workers.manage("TEST", Effect.void, { tracked: false })
        assert.deepStrictEqual([entry(app, "TEST").tracked, entry(app, "TEST").restartable], [false, false])
      })
    )
  )

  it.effect("test_manage_duplicate_ident: a second program under a name is refused, the first kept", () =>
    withApp((app) =>
      Effect.gen(function* () {
        const first = Effect.log("first")
        yield* Workers.manage("TEST", first)
        const error = yield* Effect.flip(Workers.manage("TEST", Effect.void))
        assert.strictEqual(error._tag, "WorkersError")
        assert.strictEqual(error.reason, "NameInUse")
        assert.strictEqual(error.message, "Worker TEST already exists.")
        assert.strictEqual(hooksOf(app).managed.size, 1)
      })
    )
  )

  it.effect("test_transient_not_restartable: refused as in Sanic; so are bad names and counts, and late calls", () =>
    withApp((app) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Workers.manage("TEST", Effect.void, { transient: true, restartable: false }))
        assert.strictEqual(error.reason, "InvalidManaged")
        assert.include(error.message, "Cannot create a transient process that is not restartable")
        for (const name of ["worker-3", "primary", "main", "", "a b"]) {
          assert.strictEqual((yield* Effect.flip(Workers.manage(name, Effect.void))).reason, "InvalidManaged")
        }
        assert.strictEqual(
          (yield* Effect.flip(Workers.manage("x", Effect.void, { workers: 0 }))).reason,
          "InvalidManaged"
        )
        hooksOf(app).shared.mode = "sealed"
        assert.strictEqual((yield* Effect.flip(Workers.manage("late", Effect.void))).reason, "Sealed")
        assert.strictEqual(hooksOf(app).managed.size, 0)
      })
    )
  )
})

layer(clusterLayer({ WORKERS: "2", FIXTURE_RESTART_MS: "100", GRACEFUL_SHUTDOWN_TIMEOUT: "5" }), {
  excludeTestServices: true,
  timeout: "180 seconds"
})("Workers.supervisor inside a worker (Sanic's app.m)", (it) => {
  it.effect(
    "test_properties: a worker's supervisor knows its name, pid and state, and reads the primary's table",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const self = yield* m(cluster, "/m/self", "GET")
        assert.strictEqual(self.status, 200, JSON.stringify(self))
        assert.strictEqual(self.ok.mode, "worker")
        assert.strictEqual(self.ok.name, self.worker)
        assert.strictEqual(self.ok.pid, self.pid)
        assert.strictEqual(self.ok.state, "serving")
        const rows = yield* table(cluster)
        assert.deepStrictEqual(
          self.ok.table.map((w: WorkerRow) => [w.name, w.pid, w.kind]),
          rows.map((w) => [w.name, w.pid, "server"])
        )
      }),
    120_000
  )

  it.effect(
    "Workers.setState: a worker's values show in its row of the table and the inspector; table keys and non-JSON refused",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const set = yield* m(cluster, "/m/state?queue=5&lag=2")
        assert.strictEqual(set.status, 200, JSON.stringify(set))
        const shown = row(yield* table(cluster), set.worker) as WorkerRow & { queue?: number; lag?: number }
        assert.deepStrictEqual([shown.queue, shown.lag, shown.pid], [5, 2, set.pid])
        const self = yield* m(cluster, "/m/self", "GET")
        const mine = row(self.ok.table, set.worker) as WorkerRow & { custom?: unknown }
        assert.deepStrictEqual(mine.custom, { queue: 5, lag: 2 })
        const reserved = yield* m(cluster, "/m/state?pid=1")
        assert.deepStrictEqual([reserved.error?._tag, reserved.error?.reason], ["WorkersError", "ReservedKey"])
        const notJson = yield* m(cluster, "/m/state?bad=1")
        assert.strictEqual(notJson.error?.reason, "NotJson")
      }),
    120_000
  )

  it.effect(
    "test_restart_self: restart() from a worker replaces that worker; the call completes before the old process stops",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const before = yield* table(cluster)
        const answer = yield* m(cluster, "/m/restart")
        assert.strictEqual(answer.status, 200, JSON.stringify(answer))
        const after = yield* table(cluster)
        const now = row(after, answer.worker)!
        assert.notStrictEqual(now.pid, answer.pid)
        assert.strictEqual(now.restarts, row(before, answer.worker)!.restarts + 1)
        assert.strictEqual(now.state, "serving")
        for (const other of after.filter((w) => w.name !== answer.worker))
          assert.strictEqual(other.pid, row(before, other.name)!.pid)
        // The old process stops gracefully after having answered.
        yield* waitFor(cluster, "the old worker to stop", () => (!isAlive(answer.pid) ? true : undefined), "30 seconds")
        const own = cluster
          .lines()
          .filter((l) => l.pid === answer.pid)
          .map((l) => l.what)
        assert.includeMembers(own, ["before_server_stop", "after_server_stop"])
      }),
    120_000
  )

  it.effect(
    "test_restart_foo: restart({ workers }) from a worker restarts the named one only",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const before = yield* table(cluster)
        const answer = yield* m(cluster, "/m/restart?workers=worker-0")
        assert.strictEqual(answer.status, 200, JSON.stringify(answer))
        const after = yield* table(cluster)
        assert.notStrictEqual(row(after, "worker-0")!.pid, row(before, "worker-0")!.pid)
        assert.strictEqual(row(after, "worker-1")!.pid, row(before, "worker-1")!.pid)
      }),
    120_000
  )

  it.effect(
    "test_restart_params: workers with all is ambiguous, an unknown worker is not found, all restarts every worker",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const ambiguous = yield* m(cluster, "/m/restart?workers=worker-1&all=1")
        assert.deepStrictEqual([ambiguous.error?._tag, ambiguous.error?.reason], ["WorkersError", "AmbiguousRestart"])
        const unknown = yield* m(cluster, "/m/restart?workers=worker-9")
        assert.strictEqual(unknown.error?._tag, "WorkerNotFound")
        const before = yield* table(cluster)
        const all = yield* m(cluster, "/m/restart?all=1&zd=1")
        assert.strictEqual(all.status, 200, JSON.stringify(all))
        const after = yield* tableWhen(cluster, "every worker replaced", (rows) =>
          rows.every((w) => w.state === "serving" && w.pid !== row(before, w.name)!.pid)
        )
        assert.strictEqual(after.length, 2)
        // Without zero downtime the worker is answered before it is stopped, then replaced.
        const stopFirst = yield* m(cluster, "/m/restart?zd=0")
        assert.strictEqual(stopFirst.status, 200, JSON.stringify(stopFirst))
        yield* tableWhen(cluster, "the worker replaced", (rows) => {
          const now = row(rows, stopFirst.worker)
          return now !== undefined && now.state === "serving" && now.pid !== stopFirst.pid
        })
      }),
    180_000
  )

  it.effect(
    "test_scale: scale(n) from a worker changes the number of workers; a bad count comes back typed",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const up = yield* m(cluster, "/m/scale?n=3")
        assert.strictEqual(up.status, 200, JSON.stringify(up))
        const three = yield* table(cluster)
        assert.deepStrictEqual(
          servers(three).map((w) => [w.name, w.state]),
          [
            ["worker-0", "serving"],
            ["worker-1", "serving"],
            ["worker-2", "serving"]
          ]
        )
        const bad = yield* m(cluster, "/m/scale?n=0")
        assert.deepStrictEqual([bad.error?._tag, bad.error?.reason], ["WorkersError", "InvalidReplicas"])
        const down = yield* m(cluster, "/m/scale?n=2")
        assert.strictEqual(down.status, 200, JSON.stringify(down))
        assert.deepStrictEqual(
          servers(yield* table(cluster)).map((w) => w.name),
          ["worker-0", "worker-1"]
        )
      }),
    180_000
  )
})

describe("terminate from a worker", () => {
  it.scopedLive(
    "test_terminate: terminate() from a worker stops the whole server gracefully",
    () =>
      Effect.gen(function* () {
        const cluster = yield* spawnCluster({ WORKERS: "2", GRACEFUL_SHUTDOWN_TIMEOUT: "5" })
        yield* ready(cluster)
        const workers = (yield* table(cluster)).map((w) => w.pid)
        const answer = yield* m(cluster, "/m/terminate")
        assert.strictEqual(answer.status, 200, JSON.stringify(answer))
        const exit = yield* cluster.exit.pipe(Effect.timeout("60 seconds"))
        assert.deepStrictEqual(exit, { code: 0, signal: null })
        const lines = cluster.lines()
        for (const pid of workers) {
          assert.includeMembers(
            lines.filter((l) => l.pid === pid).map((l) => l.what),
            ["before_server_stop", "after_server_stop"]
          )
        }
        assert.strictEqual(lines.filter((l) => l.what === "main_process_stop").length, 1)
        for (const line of lines) assert.isFalse(isAlive(line.pid), `${line.pid} (${line.role}) outlived the primary`)
      }),
    120_000
  )
})

const managedStarts = (cluster: Cluster, name: string) =>
  cluster.lines().filter((l) => l.what === `managed ${name} start from-main`)

layer(
  clusterLayer({
    WORKERS: "2",
    FIXTURE_RESTART_MS: "100",
    FIXTURE_RESTART_RECURS: "2",
    // Seven processes boot at once here; on a busy machine that takes far longer than the default 30 s.
    FIXTURE_START_TIMEOUT_MS: "150000",
    GRACEFUL_SHUTDOWN_TIMEOUT: "5",
    FIXTURE_MANAGED:
      "consumer:transient,crasher:crash+restartable,fixed:crash,oneshot:done+untracked,lazy:restartable+nostart"
  }),
  { excludeTestServices: true, timeout: "240 seconds" }
)("managed processes (Sanic's app.manager.manage)", (it) => {
  it.effect(
    "test_manage: a managed program runs in a process of its own with the shared values, listed as managed, never serving HTTP",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const [started] = yield* waitFor(
          cluster,
          "the consumer to start",
          () => {
            const lines = managedStarts(cluster, "consumer")
            return lines.length > 0 ? lines : undefined
          },
          "90 seconds"
        )
        const rows = yield* tableWhen(
          cluster,
          "the consumer to run",
          (rows) => row(rows, "consumer")?.state === "serving"
        )
        const consumer = row(rows, "consumer")!
        assert.deepStrictEqual([consumer.kind, consumer.pid], ["managed", started!.pid])
        assert.strictEqual(started!.role, "managed:consumer")
        const workerPids = servers(rows).map((w) => w.pid)
        assert.notInclude(workerPids, consumer.pid)
        assert.notStrictEqual(consumer.pid, cluster.pid)
        // Never started as a server: no listeners, no tasks, no HTTP.
        assert.notInclude(
          cluster
            .lines()
            .filter((l) => l.pid === consumer.pid)
            .map((l) => l.what),
          "before_server_start from-main"
        )
        const answers = yield* Effect.forEach(Array.from({ length: 6 }), () => request(cluster.port, "/pid"))
        for (const answer of answers) assert.include(workerPids, JSON.parse(answer.body).pid)
      }),
    180_000
  )

  it.effect(
    "test_manage_restartable: a restartable program that fails is restarted with the backoff until given up; one not started at first starts on request",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const rows = yield* tableWhen(
          cluster,
          "the crasher to be given up",
          (rows) => row(rows, "crasher")?.state === "failed"
        )
        // One start and two restarts (the schedule recurs twice), each a new process.
        assert.strictEqual(row(rows, "crasher")!.starts, 3)
        const starts = managedStarts(cluster, "crasher")
        assert.strictEqual(new Set(starts.map((l) => l.pid)).size, 3)

        const lazy = row(rows, "lazy")!
        assert.deepStrictEqual([lazy.state, lazy.starts, lazy.pid], ["stopped", 0, undefined])
        assert.strictEqual(managedStarts(cluster, "lazy").length, 0)
        const started = yield* inspect(cluster, "/restart", { method: "POST", body: '{"workers":["lazy"]}' })
        assert.strictEqual(started.status, 200, started.body)
        const now = row(yield* table(cluster), "lazy")!
        assert.strictEqual(now.state, "serving")
        assert.deepStrictEqual(
          managedStarts(cluster, "lazy").map((l) => l.pid),
          [now.pid]
        )
      }),
    240_000
  )

  it.effect(
    "test_manage_basic: a program that is not restartable is left failed when it fails; restarting it is refused",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const rows = yield* tableWhen(
          cluster,
          "the fixed one to fail",
          (rows) => row(rows, "fixed")?.state === "failed"
        )
        assert.strictEqual(row(rows, "fixed")!.starts, 1)
        assert.strictEqual(managedStarts(cluster, "fixed").length, 1)
        const refused = yield* inspect(cluster, "/restart", { method: "POST", body: '{"workers":["fixed"]}' })
        assert.strictEqual(refused.status, 409)
        assert.include(refused.body, "not restartable")
      }),
    180_000
  )

  it.effect(
    "test_manage_untracked: an untracked program that completes leaves the table",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        yield* waitFor(
          cluster,
          "the oneshot to run",
          () => (managedStarts(cluster, "oneshot").length > 0 ? true : undefined),
          "90 seconds"
        )
        yield* tableWhen(cluster, "the oneshot to leave the table", (rows) => row(rows, "oneshot") === undefined)
        const pid = managedStarts(cluster, "oneshot")[0]!.pid
        yield* waitFor(cluster, "the oneshot to exit", () => (!isAlive(pid) ? true : undefined), "30 seconds")
      }),
    180_000
  )

  it.effect(
    "test_manage_transient: a zero-downtime restart of all restarts the transient program with the workers, not the durable ones",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const before = yield* tableWhen(
          cluster,
          "the consumer to run",
          (rows) => row(rows, "consumer")?.state === "serving"
        )
        const restarted = yield* inspect(cluster, "/restart", { method: "POST" })
        assert.strictEqual(restarted.status, 200, restarted.body)
        const after = yield* table(cluster)
        for (const name of ["consumer", "worker-0", "worker-1"]) {
          assert.notStrictEqual(row(after, name)!.pid, row(before, name)!.pid, name)
          assert.strictEqual(row(after, name)!.state, "serving")
        }
        for (const name of ["lazy", "crasher", "fixed"]) {
          assert.strictEqual(row(after, name)!.starts, row(before, name)!.starts, name)
        }
        const old = row(before, "consumer")!.pid
        yield* waitFor(
          cluster,
          "the old consumer to be interrupted",
          () => cluster.lines().find((l) => l.pid === old && l.what === "managed consumer stop"),
          "30 seconds"
        )
      }),
    240_000
  )

  it.effect(
    "SIGTERM to the primary interrupts the managed programs and stops their processes",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ClusterTag
        yield* ready(cluster)
        const rows = yield* table(cluster)
        const consumer = row(rows, "consumer")!.pid
        cluster.child.kill("SIGTERM")
        const exit = yield* cluster.exit.pipe(Effect.timeout("60 seconds"))
        assert.deepStrictEqual(exit, { code: 0, signal: null })
        assert.isDefined(cluster.lines().find((l) => l.pid === consumer && l.what === "managed consumer stop"))
        for (const line of cluster.lines())
          assert.isFalse(isAlive(line.pid), `${line.pid} (${line.role}) outlived the primary`)
      }),
    120_000
  )
})
