/**
 * The inspector: an HTTP endpoint on its own port that shows the processes, the worker table and every worker's
 * tasks, and can cancel a task, restart or scale the workers, and shut down. Off by default; on with the server's
 * `inspector` option or `INSPECTOR=true`. It runs in the primary (or in the process serving alone).
 *
 * | Request | Answer |
 * |---|---|
 * | `GET /` | process info and the worker table; a browser (`Accept` naming `text/html`) gets the live page instead |
 * | `GET /page/app.js`, `GET /page/app.css` | the page's script and style (the page and these need no key) |
 * | `GET /page/events` | server-sent events for the page: a `snapshot`, then `changes` (rows added or changed, ids gone) |
 * | `GET /tasks` | `{ tasks }`: every worker's recorded tasks (`worker`, `name`, `status`, times, `placement`, `runs`, `failures`, `attempt`, `lastRun`, `nextRunAt`); a one-worker task once |
 * | `POST /tasks/<worker>/<name>/cancel` | cancels the task in that worker (404 for an unknown worker or task) |
 * | `POST /restart` | restarts workers, zero-downtime unless the body says `"zeroDowntime": false`; optional `{ "workers": ["worker-0"] }` |
 * | `POST /reload` | Sanic's name for `/restart`, with Sanic's body and default: `{ "zero_downtime": true }` (off unless given; `zeroDowntime` and `workers` work too); answers Sanic's `{ meta: { action: "reload" }, result }` |
 * | `POST /scale` | body `{ "replicas": N }` |
 * | `POST /shutdown` | stops the server as SIGTERM does; answers as Sanic: 200 `{ meta: { action: "shutdown" }, result: null }` |
 * | `POST /<command>` | a custom command (see {@link command}): 200 `{ meta: { action: "<command>" }, result }` |
 *
 * With an API key every request needs `Authorization: Bearer <key>` (401 "Bad API key" otherwise), custom commands
 * and the event stream included, the page's own files excepted; without one, only loopback clients. A request whose
 * `Origin` is not the inspector's own host and port gets 403. Every answer carries a `Content-Security-Policy` of the
 * inspector's own origin (`default-src 'self'`, no inline code, no frames), `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`. Bad JSON and bodies that do not decode get 400 with the reason, unknown actions and
 * paths 404, a wrong method 405; no answer carries a task's result or error.
 *
 * Custom commands (Sanic's inspector subclass methods) are declared with {@link command} and given to the server
 * as a layer ({@link layerCommands}) beside `Server.layer`: the inspector, in the primary, serves each as
 * `POST /<name>` and runs its handler there with the services the layer was built with (`App` among them).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema } from "effect"
 * import { App, Inspector, Server } from "fiberapp"
 *
 * // `curl -s -XPOST localhost:6457/drain -d '{"task":"mailer"}'` answers
 * // {"meta":{"action":"drain"},"result":{"app":"inspected","task":"mailer"}}
 * const drain = Inspector.command("drain", Schema.Struct({ task: Schema.String }), ({ task }) =>
 *   Effect.map(App.App, (app) => ({ app: app.name, task }))
 * )
 *
 * // two workers, and the inspector on 127.0.0.1:6457 (`curl -s localhost:6457/tasks`)
 * Server.layer({ port: 8000, workers: 2, inspector: { port: 6457 } }).pipe(
 *   Layer.provide(Inspector.layerCommands([drain])),
 *   Layer.provide(App.layer({ name: "inspected" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Layer, Option, Redacted, Schema, Scope } from "effect"
import { Effect } from "effect"
import * as auth from "./internal/inspector/auth.js"
import * as commands_ from "./internal/inspector/commands.js"
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
 * Serves the inspector for a supervisor in the current scope, with the custom commands of a {@link Commands}
 * service when the context has one. The server does this for you; this is for custom setups and tests.
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
    Effect.zip(
      Effect.promise(() => import("./internal/inspector/http.js")),
      Effect.serviceOption(commands_.Commands)
    ),
    ([internal, commands]) => internal.serve(supervisor, options, commands._tag === "Some" ? commands.value : undefined)
  )

/**
 * A custom inspector command, served as `POST /<name>`: the JSON body (`{}` when empty) is decoded with `schema`
 * (excess keys refused), `handler` runs in the primary with the services of {@link layerCommands}, and its result
 * is answered as JSON in Sanic's shape, `{ meta: { action: name }, result }`. A body that does not decode gets 400
 * with the schema's message; a failing handler 500 with the failure's message (and a logged cause).
 *
 * @since 0.2.0
 * @category models
 */
export interface Command<A = any, E = any, R = any> {
  readonly name: string
  readonly schema: Schema.Schema<A, any>
  readonly handler: (input: A) => Effect.Effect<unknown, E, R>
}

/**
 * Declares a custom inspector command (Sanic: a method of an `Inspector` subclass). The result must be JSON: a
 * value that `JSON.stringify` refuses (a bigint) gets 500.
 *
 * @since 0.2.0
 * @category constructors
 */
export const command: <A, I, E = never, R = never>(
  name: string,
  schema: Schema.Schema<A, I>,
  handler: (input: A) => Effect.Effect<unknown, E, R>
) => Command<A, E, R> = commands_.command

/**
 * The services a list of commands needs.
 *
 * @since 0.2.0
 * @category models
 */
export type CommandContext<C extends Command> = C extends Command<any, any, infer R> ? R : never

/**
 * The custom commands the inspector serves: provide {@link layerCommands} to `Server.layer` (or to the caller of
 * {@link serve}). Optional: without it the inspector has its built-in actions only.
 *
 * @since 0.2.0
 * @category tags
 */
export const Commands: typeof commands_.Commands = commands_.Commands

/**
 * The type of a `Commands` value.
 *
 * @since 0.2.0
 * @category tags
 */
export type Commands = commands_.Commands

/**
 * Gives the inspector its custom commands. The layer captures the services it is built with (`App`, and whatever
 * the handlers need), and its handlers run with them. It fails with `InspectorCommandError` when a name is a
 * built-in action (`tasks`, `restart`, `reload`, `scale`, `shutdown`), is taken twice, or is not a plain path
 * segment (letters, digits, `_`, `-`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerCommands = <const C extends ReadonlyArray<Command>>(
  commands: C
): Layer.Layer<Commands, InspectorCommandError, CommandContext<C[number]>> =>
  commands_.layer(commands as ReadonlyArray<Command<any, any, CommandContext<C[number]>>>)

/**
 * A custom command cannot be served: `reason` says why (`BuiltinAction`, `Duplicate`, `InvalidName`).
 *
 * @since 0.2.0
 * @category errors
 */
export const InspectorCommandError: typeof commands_.InspectorCommandError = commands_.InspectorCommandError

/**
 * The type of a `InspectorCommandError` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type InspectorCommandError = commands_.InspectorCommandError

/**
 * Why a custom command cannot be served.
 *
 * @since 0.2.0
 * @category models
 */
export type InspectorCommandErrorReason = commands_.InspectorCommandErrorReason

/**
 * Whether a host name or address is a loopback one (`localhost`, `127.x.x.x`, `::1`).
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopback = (host: string): boolean => auth.isLoopback(host)
