/**
 * The inspector: an HTTP endpoint on its own port that shows the processes, the worker table and every worker's
 * tasks, and can cancel a task, restart or scale the workers, and shut down. Off by default; on with the server's
 * `inspector` option or `INSPECTOR=true`. It runs in the primary (or in the process serving alone).
 *
 * | Request | Answer |
 * |---|---|
 * | `GET /` | process info and the worker table |
 * | `GET /tasks` | `{ tasks }`: every worker's recorded tasks (`worker`, `name`, `status`, times, `placement`, `runs`, `failures`, `attempt`, `lastRun`, `nextRunAt`); a one-worker task once |
 * | `POST /tasks/<worker>/<name>/cancel` | cancels the task in that worker (404 for an unknown worker or task) |
 * | `POST /restart` | restarts workers, zero-downtime unless the body says `"zeroDowntime": false`; optional `{ "workers": ["worker-0"] }` |
 * | `POST /scale` | body `{ "replicas": N }` |
 * | `POST /shutdown` | stops the server as SIGTERM does (202) |
 *
 * With an API key every request needs `Authorization: Bearer <key>` (401 "Bad API key" otherwise). Bad JSON and
 * unknown actions get 400, a wrong method 405; no answer carries a task's result or error.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { App, Server } from "fiberapp"
 *
 * // two workers, and the inspector on 127.0.0.1:6457 (`curl -s localhost:6457/tasks`)
 * Server.layer({ port: 8000, workers: 2, inspector: { port: 6457 } }).pipe(
 *   Layer.provide(App.layer({ name: "inspected" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Option, Redacted, Scope } from "effect"
import { Effect } from "effect"
import * as auth from "./internal/inspector/auth.js"
import * as errors from "./internal/inspector/errors.js"
import * as config from "./internal/server/config.js"
import type { SupervisorService } from "./Workers.js"

/**
 * The inspector's port when none is given: 6457, as Sanic's.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPort = 6457

/**
 * The inspector's host when none is given: loopback only.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHost = "127.0.0.1"

/**
 * The environment variables `INSPECTOR` (`true`/`false`), `INSPECTOR_PORT`, `INSPECTOR_HOST` and
 * `INSPECTOR_API_KEY` take precedence over these.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Defaults to `true` when options are given. */
  readonly enabled?: boolean | undefined
  /** Defaults to 6457; `0` picks a free port. */
  readonly port?: number | undefined
  /** Defaults to `127.0.0.1`. Any other than a loopback address requires an API key. */
  readonly host?: string | undefined
  readonly apiKey?: string | Redacted.Redacted | undefined
}

/**
 * The settings in force, with the environment applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly port: number
  readonly host: string
  readonly apiKey: Option.Option<Redacted.Redacted>
}

/**
 * Where the inspector listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * The inspector cannot start: a bad setting (`InvalidSetting`), a non-loopback host without an API key
 * (`NotLoopback`), or its port is taken (`ListenFailed`).
 *
 * @since 0.1.0
 * @category errors
 */
export const InspectorError: typeof errors.InspectorError = errors.InspectorError

/**
 * The type of a `InspectorError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InspectorError = errors.InspectorError

/**
 * Why the inspector cannot start.
 *
 * @since 0.1.0
 * @category models
 */
export type InspectorErrorReason = errors.InspectorErrorReason

/**
 * Applies the environment to the options. `None` when the inspector is off.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  options: boolean | Options | undefined
): Effect.Effect<Option.Option<Resolved>, InspectorError> => config.resolveInspector(options)

/**
 * Serves the inspector for a supervisor in the current scope. The server does this for you; this is for custom
 * setups and tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  supervisor: SupervisorService,
  options: Resolved
): Effect.Effect<Address, InspectorError, Scope.Scope> =>
  // Loaded on use: a worker importing this module never pays for the inspector's HTTP stack.
  Effect.flatMap(
    Effect.promise(() => import("./internal/inspector/http.js")),
    (internal) => internal.serve(supervisor, options)
  )

/**
 * Whether a host name or address is a loopback one (`localhost`, `127.x.x.x`, `::1`).
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopback = (host: string): boolean => auth.isLoopback(host)
