import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AppService } from "../App.js"
import type { DispatchOptions, InvalidEventName } from "../Events.js"
import type { Task } from "../Task.js"
import type { Lifecycle } from "./app/lifecycle.js"
import type { Reach } from "./app/reach.js"
import type { TransportService } from "./events/transport.js"
import type { AppMetrics } from "./metrics/definitions.js"
import type { Placement } from "./task/placement.js"

/**
 * The key under which an app keeps the hooks that the server and the workers use. They are not part of the app's
 * public service: users start and stop an app with `start`/`stop` or `Server.layer`.
 */
export const HooksTypeId: unique symbol = Symbol.for("fiberapp/App/Hooks")

/** Carries dispatches made with `scope: "all"` out of this process. */
export type Transport = TransportService

/** The values `Workers.shared` carries from the primary to the workers, encoded with their schemas. */
export interface SharedValues {
  readonly values: Map<string, unknown>
  /** `open` in a primary before the workers fork; `sealed` after; `readOnly` in a worker. */
  mode: "open" | "sealed" | "readOnly"
}

/** A program `Workers.manage` registered: what the primary starts in its own process, under `name`. */
export interface ManagedEntry {
  readonly name: string
  readonly program: Effect.Effect<unknown, unknown, never>
  readonly restartable: boolean
  readonly transient: boolean
  readonly tracked: boolean
  readonly autoStart: boolean
  readonly workers: number
}

/** What the server and the workers need of an app, beyond its public service. */
export interface Hooks {
  /**
   * `start` with a step between the `before_server_start` listeners and the queued tasks: the server binds there.
   * If anything fails, what was started is stopped and the app ends `stopped`.
   */
  readonly startWith: Lifecycle["startWith"]
  /**
   * `stop` with a step between the `before_server_stop` listeners and ending the tasks: the server drains there.
   * `timeout` replaces the app's `gracefulShutdownTimeout` for this stop.
   */
  readonly stopWith: Lifecycle["stopWith"]
  /** Runs the listeners of one kind (start kinds fail with `StartError`; stop kinds report failures). */
  readonly runListeners: Lifecycle["runListeners"]
  /** Whether any handler or waiter could match `event`: lets hot paths skip building a dispatch. */
  readonly hasListeners: (event: string) => boolean
  /** Changes whenever `hasListeners` could change its answer: lets a cache of its answers know it is current. */
  readonly listening: () => number
  /** The recorded tasks, synchronously. */
  readonly unsafeTasks: () => ReadonlyArray<Task>
  /** Delivers a dispatch that arrived from another process to this process's waiters and handlers only. */
  readonly dispatchLocal: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  /** Sends `scope: "all"` dispatches through `transport` while the scope is open. */
  readonly useTransport: (transport: Transport) => Effect.Effect<void, never, Scope.Scope>
  /** Reaches every worker's tasks (`scope: "all"`) through `reach` while the scope is open. */
  readonly useReach: (reach: Reach) => Effect.Effect<void, never, Scope.Scope>
  /** Places `one-worker` tasks through `placement` while the scope is open. */
  readonly usePlacement: (placement: Placement) => Effect.Effect<void, never, Scope.Scope>
  /** Places `one-in-fleet` tasks through `placement` (a fleet's cluster) while the scope is open. */
  readonly useFleetPlacement: (placement: Placement) => Effect.Effect<void, never, Scope.Scope>
  /** Adds these annotations to the app's own log lines, and to the tasks that start, while the scope is open. */
  readonly useLogAnnotations: (annotations: Readonly<Record<string, string>>) => Effect.Effect<void, never, Scope.Scope>
  readonly shared: SharedValues
  /** The app's metrics, labelled with its name. */
  readonly metrics: AppMetrics
  /** The managed processes (`Workers.manage`), by name, in registration order. */
  readonly managed: Map<string, ManagedEntry>
}

/** The hooks of an app made by `App.make`. */
export const hooksOf = (app: AppService): Hooks => {
  const hooks = (app as unknown as { readonly [HooksTypeId]?: Hooks })[HooksTypeId]
  if (hooks === undefined) throw new Error(`The app "${app.name}" was not made by App.make.`)
  return hooks
}
