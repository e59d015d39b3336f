/**
 * A fleet: several machines, each a primary with its workers (or a process serving alone), sharing one PostgreSQL
 * database. With `Server.layer({ fleet: { database } })` (or `FLEET=true` and `DATABASE_URL`):
 *
 * - `dispatch(name, { scope: "all" })` reaches every waiter and handler on every worker of every machine. Each
 *   machine keeps one `LISTEN` connection (in its primary) and relays what arrives to its workers; dispatches leave
 *   with `pg_notify`. Delivery is at most once, as on one machine: a machine that is not listening when an event is
 *   sent never sees it.
 * - `addTask(effect, { name, placement: "one-in-fleet" })` runs the task once in the whole fleet, as an
 *   `@effect/cluster` `Singleton` (every worker process is a cluster runner): moved to another runner when its own
 *   goes away, its state in a table every machine reads, its failures logged and retried per its `retry` policy,
 *   and cancelled from any machine.
 * - Every machine writes a heartbeat with its workers and tasks; the inspector's `GET /fleet` lists them, and can
 *   cancel, restart and scale on another machine (a notification addressed to it).
 *
 * Without a fleet nothing of this is loaded: one machine works as before, and `one-in-fleet` tasks run once on the
 * machine, as `one-worker` ones do.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { App, Server } from "fiberapp"
 *
 * const app = App.layer({ name: "fleet-demo" })
 * const tasks = Layer.effectDiscard(
 *   App.addTask(Effect.log("report").pipe(Effect.repeat({ times: 2 })), { name: "report", placement: "one-in-fleet" })
 * )
 * Server.layer({ port: 8000, workers: 2, fleet: { database: "postgres://postgres@127.0.0.1:5432/test" } }).pipe(
 *   Layer.provide(Layer.merge(app, tasks.pipe(Layer.provide(app)))),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type { Duration, Redacted } from "effect"
import * as errors from "./internal/fleet/errors.js"
import type * as Workers from "./Workers.js"

/**
 * A fleet's settings. The environment wins over them: `FLEET` (`true`/`false`), `DATABASE_URL`, `FLEET_MACHINE`,
 * `FLEET_HOST`, `FLEET_RUNNER_PORT`, `FLEET_TABLE_PREFIX`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Defaults to `true` when options are given. */
  readonly enabled?: boolean | undefined
  /** The PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:5432/test`. */
  readonly database?: string | Redacted.Redacted | undefined
  /** This machine's name in the fleet; unique. Defaults to `<hostname>:<server port>`. */
  readonly machine?: string | undefined
  /** The address other machines reach this machine's runners at. Defaults to `127.0.0.1`. */
  readonly host?: string | undefined
  /**
   * The first port of this machine's runners: worker `k` of `n` listens on `runnerPort + k` (or `runnerPort + k + n`
   * while its previous process still holds that one, during a zero-downtime restart); a process serving alone on
   * `runnerPort`. Defaults to `0`: any free port.
   */
  readonly runnerPort?: number | undefined
  /** The prefix of the fleet's tables and channel; machines of one fleet share it. Defaults to `fiberapp`. */
  readonly tablePrefix?: string | undefined
  /** How often a machine writes its heartbeat (its workers and tasks). Defaults to 2 seconds. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** A machine whose heartbeat is older than this is shown as gone. Defaults to 10 seconds. */
  readonly expiry?: Duration.DurationInput | undefined
  /**
   * Cluster's settings, over fiberapp's defaults ({@link defaultSharding}: a task on a crashed machine moves within
   * about 5 seconds).
   */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/**
 * The cluster settings fiberapp uses unless {@link Options.sharding} says otherwise: shard locks that expire after
 * 4 seconds and are refreshed every second, so that a one-in-fleet task whose machine crashed (no time to release
 * its locks) moves within about 5 seconds. The cost: every runner writes its locks once a second (one `UPDATE` per
 * runner per second) and reads the runner table every 2 seconds. Cluster's own defaults (35 s expiry, 10 s refresh)
 * write less and move later.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardLockExpiration: "4 seconds",
  shardLockRefreshInterval: "1 second",
  refreshAssignmentsInterval: "1 second",
  runnerHealthCheckInterval: "2 seconds",
  shardsPerGroup: 60
}

/**
 * A machine as the fleet's table has it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Machine {
  readonly machine: string
  /** `up` while its heartbeat is fresh, `gone` once it is older than the expiry, `stopped` after a clean stop. */
  readonly state: "up" | "gone" | "stopped"
  readonly pid: number
  /** Where it serves HTTP. */
  readonly url: string
  readonly startedAt: number
  readonly lastSeen: number
  readonly workers: ReadonlyArray<Workers.WorkerInfo>
  readonly tasks: ReadonlyArray<Workers.WorkerTask>
}

/**
 * A one-in-fleet task as the fleet's table has it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FleetTask {
  readonly name: string
  /** `running` on `machine`/`worker`, `waiting` for a runner, or how it ended. */
  readonly status: "waiting" | "running" | "completed" | "failed" | "cancelled"
  readonly machine: string | undefined
  readonly worker: string | undefined
  /** Its runs and failed runs on the machine running it now (from that machine's heartbeat). */
  readonly runs: number
  readonly failures: number
  readonly updatedAt: number
}

/**
 * What went wrong with the fleet: `Unavailable` (the database cannot be reached or refused a query),
 * `ContextTooLarge` (a `scope: "all"` dispatch whose context does not fit a PostgreSQL notification),
 * `MachineNotFound`, `NoAnswer` (a machine did not answer in time).
 *
 * @since 0.1.0
 * @category errors
 */
export const FleetError: typeof errors.FleetError = errors.FleetError

/**
 * @since 0.1.0
 * @category errors
 */
export type FleetError = errors.FleetError

/**
 * The kinds of {@link FleetError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type FleetErrorReason = errors.FleetErrorReason

/**
 * The largest `scope: "all"` dispatch a fleet carries, in bytes of its JSON (PostgreSQL refuses notifications of
 * 8000 bytes or more; the envelope takes the rest).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxEventBytes = errors.maxEventBytes
