/**
 * One machine of a fleet for `npm run bench -- fleet`: fiberapp's server serving alone (`WORKERS`, default 1) with
 * `fleet` on when `BENCH_FLEET=1` (database from `DATABASE_URL`, name from `FLEET_MACHINE`), off otherwise.
 *
 * - `POST /send?run=R&count=N&gap=G` dispatches `bench.fleet.event` with `scope: "all"` N times, with `{ run, i, t }` as
 *   context (`t`: when it was dispatched, `performance.timeOrigin + performance.now()`), G ms apart (0: back to back).
 * - `GET /received?run=R&count=N&timeout=T` waits (at most T ms) until this machine's handler has seen N dispatches
 *   of run R, and answers with their latencies (p50, p99), the first dispatch time and the last receipt time.
 * - `POST /quiet?count=N` dispatches `bench.fleet.quiet`, which nobody listens to, N times with `scope: "all"`, and
 *   answers with the CPU and wall-clock time of the loop.
 * - `TASK=1` adds the one-in-fleet task `bench-beat`, which inserts a row in `fleet_beat` when it starts (its machine,
 *   `clock_timestamp()`) and beats every 200 ms, for the failover case.
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Exit, Layer, Logger, LogLevel, Schedule } from "effect"
import Pg from "pg"
import * as App from "../../src/App.js"
import * as Server from "../../src/Server.js"
import { percentile } from "../lib/fleet-stats.js"
import { announce, host, port } from "../lib/server.js"

const fleetOn = process.env.BENCH_FLEET === "1"
const workers = Number(process.env.WORKERS ?? 1)
const machine = process.env.FLEET_MACHINE ?? `bench-${process.pid}`

const clock = (): number => performance.timeOrigin + performance.now()

interface Run {
  readonly latencies: Array<number>
  firstSent: number
  lastReceived: number
  waiter: { readonly count: number; readonly done: Deferred.Deferred<void> } | undefined
}

const runs = new Map<string, Run>()
const runOf = (name: string): Run => {
  let run = runs.get(name)
  if (run === undefined) {
    run = { latencies: [], firstSent: Number.POSITIVE_INFINITY, lastReceived: 0, waiter: undefined }
    runs.set(name, run)
  }
  return run
}

const receive = (context: Record<string, unknown>) =>
  Effect.sync(() => {
    const received = clock()
    const run = runOf(String(context.run))
    const sent = Number(context.t)
    run.latencies.push(received - sent)
    run.firstSent = Math.min(run.firstSent, sent)
    run.lastReceived = Math.max(run.lastReceived, received)
    if (run.waiter !== undefined && run.latencies.length >= run.waiter.count) {
      Deferred.unsafeDone(run.waiter.done, Exit.void)
    }
  })

const params = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URL(request.url, "http://localhost").searchParams
)

const send = Effect.gen(function* () {
  const search = yield* params
  const run = search.get("run") ?? "run"
  const count = Number(search.get("count") ?? 1)
  const gap = Number(search.get("gap") ?? 0)
  for (let i = 0; i < count; i++) {
    if (gap > 0 && i > 0) yield* Effect.sleep(gap)
    yield* App.dispatch("bench.fleet.event", { scope: "all", context: { run, i, t: clock() } })
  }
  return yield* HttpServerResponse.json({ sent: count })
})

const received = Effect.gen(function* () {
  const search = yield* params
  const run = runOf(search.get("run") ?? "run")
  const count = Number(search.get("count") ?? 1)
  const timeout = Number(search.get("timeout") ?? 10_000)
  if (run.latencies.length < count) {
    const done = yield* Deferred.make<void>()
    run.waiter = { count, done }
    yield* Deferred.await(done).pipe(Effect.timeout(timeout), Effect.ignore)
    run.waiter = undefined
  }
  return yield* HttpServerResponse.json({
    count: run.latencies.length,
    p50: percentile(run.latencies, 0.5),
    p99: percentile(run.latencies, 0.99),
    firstSent: run.firstSent,
    lastReceived: run.lastReceived
  })
})

const quiet = Effect.gen(function* () {
  const search = yield* params
  const count = Number(search.get("count") ?? 1)
  const cpu = process.cpuUsage()
  const wall = performance.now()
  for (let i = 0; i < count; i++) yield* App.dispatch("bench.fleet.quiet", { scope: "all" })
  const wallMs = performance.now() - wall
  const used = process.cpuUsage(cpu)
  return yield* HttpServerResponse.json({ count, wallMs, cpuMs: (used.user + used.system) / 1000 })
})

const Routes = Layer.mergeAll(
  HttpLayerRouter.add("POST", "/send", send),
  HttpLayerRouter.add("GET", "/received", received),
  HttpLayerRouter.add("POST", "/quiet", quiet)
)

/** The one-in-fleet task of the failover case: a row when it starts, a beat every 200 ms while it runs. */
const beat = Effect.acquireRelease(
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: process.env.DATABASE_URL })
    await client.connect()
    const { rows } = await client.query(
      "INSERT INTO fleet_beat (machine, pid, started_at, beat_at) VALUES ($1, $2, clock_timestamp(), clock_timestamp()) RETURNING id",
      [machine, process.pid]
    )
    return { client, id: rows[0].id as number }
  }),
  ({ client }) => Effect.promise(() => client.end().catch(() => {}))
).pipe(
  Effect.flatMap(({ client, id }) =>
    Effect.promise(() => client.query("UPDATE fleet_beat SET beat_at = clock_timestamp() WHERE id = $1", [id])).pipe(
      Effect.repeat(Schedule.spaced("200 millis"))
    )
  ),
  Effect.scoped
)

const Setup = Layer.effectDiscard(
  Effect.gen(function* () {
    const app = yield* App.App
    yield* app.signal("bench.fleet.event", receive)
    if (process.env.TASK === "1") yield* app.addTask(beat, { name: "bench-beat", placement: "one-in-fleet" })
    const server = yield* Server.Server
    announce(server.address.port)
  })
)

const Main = Setup.pipe(
  Layer.provideMerge(
    Server.layer({
      port: port(),
      host,
      routes: Routes,
      workers,
      fleet: fleetOn ? { machine, heartbeat: "1 second", expiry: "5 seconds" } : false,
      gracefulShutdownTimeout: "5 seconds"
    })
  ),
  Layer.provide(App.layer({ name: "bench-fleet" })),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

NodeRuntime.runMain(Layer.launch(Main))
