import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { DispatchOptions } from "../../Events.js"
import type { FleetTask, Machine } from "../../Fleet.js"
import type { SupervisorService, WorkerInfo, WorkerTask } from "../../Workers.js"
import { describeCause } from "../describe.js"
import { type Call, listen, type Message, send, sendAll, unavailable } from "./bus.js"
import { FleetError } from "./errors.js"
import type { FleetSettings } from "./settings.js"

/** What the inspector and the server need of this machine's membership in the fleet. */
export interface Member {
  readonly machine: string
  /** How often this machine writes its heartbeat: the pace at which the fleet's view changes. */
  readonly heartbeat: Duration.Duration
  /** Sends a `scope: "all"` dispatch made on this machine to the other machines. */
  readonly publish: (event: string, options: DispatchOptions) => Effect.Effect<void, FleetError>
  readonly machines: Effect.Effect<ReadonlyArray<Machine>, FleetError>
  readonly tasks: Effect.Effect<ReadonlyArray<FleetTask>, FleetError>
  /** Carries a call to another machine and waits for its answer: an HTTP status and, for a refusal, why. */
  readonly ask: (
    machine: string,
    call: Call
  ) => Effect.Effect<{ readonly status: number; readonly error?: string | undefined }, FleetError>
}

/** How long a call to another machine may take before it counts as unanswered (a restart waits for new workers). */
const askTimeout = Duration.seconds(60)

/**
 * This machine in the fleet: its heartbeat row (with its workers and tasks), the one `LISTEN` connection that brings
 * other machines' events (handed to `deliver`, which reaches this machine's workers) and calls, and the answers.
 */
export const make = (options: {
  readonly settings: FleetSettings
  readonly database: Context.Context<PgClient.PgClient>
  readonly app: string
  readonly url: string
  readonly supervisor: SupervisorService
  readonly deliver: (event: string, options: DispatchOptions) => Effect.Effect<void>
}): Effect.Effect<Member, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { app, settings, supervisor } = options
    const machine = settings.machine
    const sql = Context.get(options.database, PgClient.PgClient)
    const table = `${settings.prefix}_machines`
    const waiting = new Map<string, Deferred.Deferred<{ status: number; error?: string | undefined }>>()
    let nextId = 0
    const emit = (message: Message) => Effect.provide(send(settings, message), options.database)

    const answer = (call: Call): Effect.Effect<{ status: number; error?: string | undefined }> => {
      const done: Effect.Effect<void, { readonly _tag: string; readonly message: string }> =
        call._tag === "cancel"
          ? supervisor.cancelTask(call.worker, call.name)
          : call._tag === "restart"
            ? supervisor.restart({
                ...(call.workers !== undefined ? { workers: call.workers } : {}),
                ...(call.zeroDowntime !== undefined ? { zeroDowntime: call.zeroDowntime } : {})
              })
            : supervisor.scale(call.replicas)
      return Effect.match(done, {
        onSuccess: () => ({ status: 200 }),
        onFailure: (error) => ({
          status: error._tag === "WorkerNotFound" || error._tag === "TaskNotFound" ? 404 : 409,
          error: error.message
        })
      })
    }

    const onMessage = (message: Message): Effect.Effect<void> => {
      switch (message._tag) {
        case "event":
          if (message.from === machine || message.app !== app) return Effect.void
          return options.deliver(message.event, {
            ...(message.context !== undefined ? { context: message.context as never } : {}),
            ...(message.condition !== undefined ? { condition: message.condition as never } : {})
          })
        case "ask":
          if (message.to !== machine || message.app !== app) return Effect.void
          return answer(message.call).pipe(
            Effect.flatMap((result) =>
              emit({ _tag: "answer", from: machine, to: message.from, id: message.id, ...result })
            ),
            Effect.catchAll((error) => Effect.logWarning(`Fleet: could not answer ${message.from}: ${error.message}`)),
            Effect.forkDaemon,
            Effect.asVoid
          )
        case "answer": {
          if (message.to !== machine) return Effect.void
          const waiter = waiting.get(message.id)
          if (waiter !== undefined) {
            Deferred.unsafeDone(
              waiter,
              Exit.succeed({ status: message.status, ...(message.error !== undefined ? { error: message.error } : {}) })
            )
          }
          return Effect.void
        }
      }
    }
    yield* listen(settings, onMessage)

    // Events leave through one fiber, in order, as many per query as have queued: one `pg_notify` query (and pool
    // connection) per dispatch made a burst wait for connections until the pool's timeout dropped events, and
    // starved the heartbeat.
    const outbox = yield* Queue.unbounded<Message>()
    yield* Effect.addFinalizer(() => Queue.shutdown(outbox))
    let seq = 0
    yield* Queue.takeBetween(outbox, 1, 500).pipe(
      Effect.flatMap((batch) =>
        Effect.provide(sendAll(settings, [...batch]), options.database).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`Fleet: ${batch.length} event(s) did not reach the other machines: ${error.message}`)
          )
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const startedAt = new Date()
    const beat = Effect.gen(function* () {
      const workers: ReadonlyArray<WorkerInfo> = yield* supervisor.table
      const tasks: ReadonlyArray<WorkerTask> = yield* supervisor.tasks
      yield* sql`INSERT INTO ${sql(table)} (app, machine, pid, url, started_at, last_seen, workers, tasks)
        VALUES (${app}, ${machine}, ${process.pid}, ${options.url}, ${startedAt}, now(),
          ${JSON.stringify(workers)}::jsonb, ${JSON.stringify(tasks)}::jsonb)
        ON CONFLICT (app, machine) DO UPDATE SET pid = EXCLUDED.pid, url = EXCLUDED.url,
          started_at = EXCLUDED.started_at, last_seen = now(), stopped_at = NULL,
          workers = EXCLUDED.workers, tasks = EXCLUDED.tasks`
      // The one-in-fleet tasks running here: their runs and failures, for every machine's view. A machine serving
      // alone records no worker in the tasks table (its one process is the runner); its heartbeat says "main".
      for (const task of tasks) {
        if (task.placement !== "one-in-fleet" || task.status !== "running" || task.name === undefined) continue
        yield* sql`UPDATE ${sql(`${settings.prefix}_tasks`)} SET runs = ${task.runs}, failures = ${task.failures}
          WHERE app = ${app} AND name = ${task.name} AND machine = ${machine}
          AND (worker = ${task.worker} OR worker IS NULL) AND status = 'running'`
      }
    })
    let failing = false
    yield* beat.pipe(
      Effect.tap(() =>
        Effect.suspend(() => {
          if (!failing) return Effect.void
          failing = false
          return Effect.logInfo("Fleet: heartbeat written again")
        })
      ),
      Effect.catchAllCause((cause) =>
        Effect.suspend(() => {
          if (failing) return Effect.void
          failing = true
          return Effect.logWarning(`Fleet: heartbeat failed; retrying. ${describeCause(cause)}`)
        })
      ),
      Effect.repeat(Schedule.spaced(settings.heartbeat)),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() =>
      sql`UPDATE ${sql(table)} SET stopped_at = now() WHERE app = ${app} AND machine = ${machine}`.pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.ignore
      )
    )

    const expiry = Duration.toSeconds(settings.expiry)
    const machines = sql<{
      machine: string
      pid: number
      url: string
      startedAt: Date
      lastSeen: Date
      stoppedAt: Date | null
      gone: boolean
      workers: ReadonlyArray<WorkerInfo>
      tasks: ReadonlyArray<WorkerTask>
    }>`SELECT machine, pid, url, started_at AS "startedAt", last_seen AS "lastSeen", stopped_at AS "stoppedAt",
        last_seen < now() - make_interval(secs => ${expiry}) AS gone, workers, tasks
      FROM ${sql(table)} WHERE app = ${app} ORDER BY machine`.pipe(
      Effect.map((rows) =>
        rows.map(
          (row): Machine => ({
            machine: row.machine,
            state: row.stoppedAt !== null ? "stopped" : row.gone ? "gone" : "up",
            pid: row.pid,
            url: row.url,
            startedAt: row.startedAt.getTime(),
            lastSeen: row.lastSeen.getTime(),
            workers: row.workers,
            tasks: row.tasks
          })
        )
      ),
      Effect.mapError((error) => unavailable(settings, error))
    )
    const tasks = sql<{
      name: string
      status: FleetTask["status"]
      machine: string | null
      worker: string | null
      runs: number
      failures: number
      updatedAt: Date
    }>`SELECT name, status, machine, worker, runs, failures, updated_at AS "updatedAt"
      FROM ${sql(`${settings.prefix}_tasks`)}
      WHERE app = ${app} ORDER BY name`.pipe(
      Effect.map((rows) =>
        rows.map(
          (row): FleetTask => ({
            name: row.name,
            status: row.status,
            machine: row.machine ?? undefined,
            worker: row.worker ?? undefined,
            runs: row.runs,
            failures: row.failures,
            updatedAt: row.updatedAt.getTime()
          })
        )
      ),
      Effect.mapError((error) => unavailable(settings, error))
    )

    return {
      machine,
      heartbeat: settings.heartbeat,
      publish: (event, dispatch) =>
        Queue.offer(outbox, {
          _tag: "event",
          from: machine,
          app,
          event,
          ...(dispatch.context !== undefined ? { context: dispatch.context } : {}),
          ...(dispatch.condition !== undefined ? { condition: dispatch.condition } : {}),
          seq: seq++
        }).pipe(Effect.asVoid),
      machines,
      tasks,
      ask: (to, call) =>
        Effect.gen(function* () {
          const known = yield* machines
          const target = known.find((entry) => entry.machine === to)
          if (target === undefined || target.state !== "up") {
            return yield* new FleetError({
              reason: "MachineNotFound",
              machine: to,
              detail:
                target === undefined
                  ? `No machine "${to}" in the fleet.`
                  : `The machine "${to}" is ${target.state}: nothing answers there.`
            })
          }
          const id = `${machine}/${process.pid}/${nextId++}`
          const reply = Deferred.unsafeMake<{ status: number; error?: string | undefined }>(FiberId.none)
          waiting.set(id, reply)
          return yield* emit({ _tag: "ask", from: machine, to, id, app, call }).pipe(
            Effect.zipRight(Deferred.await(reply)),
            Effect.timeoutFail({
              duration: askTimeout,
              onTimeout: () =>
                new FleetError({
                  reason: "NoAnswer",
                  machine: to,
                  detail: `The machine "${to}" did not answer within ${Duration.format(askTimeout)}.`
                })
            }),
            Effect.ensuring(Effect.sync(() => waiting.delete(id)))
          )
        })
    }
  })
