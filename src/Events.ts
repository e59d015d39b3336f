/**
 * Events: Sanic's signals on Effect. `dispatch` wakes the waiters of `event` and runs the handlers
 * registered with `signal`. The app exposes these as `app.dispatch`, `app.event` and `app.signal`.
 *
 * Names are one word (`"ready"`) or three dot-separated parts (`"my.custom.event"`). Only the third
 * part may be dynamic: `<name>` matches any third part, `<name:int>` only an integer one (given to
 * waiters and handlers as a number). A waiter may use `*` as the third part. The namespaces `server`,
 * `http` and `websocket` hold only the {@link builtinEvents}.
 *
 * Conditions work as in Sanic: a dispatch without a condition reaches the waiters and handlers that
 * have no condition, and those with a condition and `exclusive: false`; a dispatch with a condition
 * reaches only those whose condition is equal to it (same keys, same values). So a waiter or handler
 * without a condition is not reached by a conditioned dispatch. An empty condition counts as none.
 *
 * The handlers of one dispatch run one after another, higher priority first; every one of them runs,
 * whatever the others return or however they fail. Without `inline` they run in a background fiber
 * owned by the app, so a slow handler delays only the later handlers of its own dispatch. A handler
 * runs with the services that were in context where `signal` was called.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Either } from "effect"
import { Data, Duration as Durations } from "effect"
import { durationHint } from "./internal/duration.js"
import * as internal from "./internal/events.js"

/**
 * The context a dispatch carries, merged with the dynamic parts of the name for waiters and handlers.
 * The waiters and handlers of one dispatch share one object: treat it as read-only. When a key of the
 * context has the name of a dynamic part, the context's value wins (as in Sanic).
 *
 * @since 0.1.0
 * @category models
 */
export type EventContext = Record<string, unknown>

/**
 * A handler registered with `signal`.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<R = never> = (context: EventContext) => Effect.Effect<unknown, unknown, R>

/**
 * Where a dispatch goes. `local` reaches this process only; `all` reaches every worker.
 *
 * @since 0.1.0
 * @category models
 */
export type DispatchScope = "local" | "all"

/**
 * @since 0.1.0
 * @category models
 */
export interface DispatchOptions {
  /** Copied (shallowly) when the dispatch runs. */
  readonly context?: EventContext | undefined
  /** Reaches only the waiters and handlers with an equal condition; without it, those without a condition. */
  readonly condition?: Record<string, string> | undefined
  /** Wait for every handler to finish before returning. */
  readonly inline?: boolean | undefined
  /** `"all"` reaches the waiters and handlers of every worker. Defaults to `"local"`. */
  readonly scope?: DispatchScope | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** Fails with `EventTimeout` when no matching dispatch arrives in time. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Matches only dispatches with an equal condition (same keys and values). */
  readonly condition?: Record<string, string> | undefined
  /** With a condition: `false` also matches dispatches that carry no condition. Defaults to `true`. */
  readonly exclusive?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SignalOptions {
  /** Matches only dispatches with an equal condition (same keys and values). */
  readonly condition?: Record<string, string> | undefined
  /** With a condition: `false` also matches dispatches that carry no condition. Defaults to `true`. */
  readonly exclusive?: boolean | undefined
  /** Higher runs first; equal priorities run in registration order. Defaults to `0`. */
  readonly priority?: number | undefined
}

/**
 * A parsed event name.
 *
 * - `static`: a concrete name, the only kind that can be dispatched.
 * - `dynamic`: the last part is `<param>` or `<param:int>`.
 * - `wildcard`: the last part is `*` (waiters only).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventName {
  /** The name as given. */
  readonly name: string
  /** One part for a single word, three otherwise; `parts.join(".") === name`. */
  readonly parts: ReadonlyArray<string>
  readonly kind: "static" | "dynamic" | "wildcard"
  /** The name of the dynamic part, when `kind` is `"dynamic"`. */
  readonly param: string | undefined
  /** The type of the dynamic part (`<id>` is `"str"`), when `kind` is `"dynamic"`. */
  readonly type: "str" | "int" | undefined
}

/**
 * The built-in events: the only names that handlers may be registered on in the reserved namespaces.
 *
 * @since 0.1.0
 * @category constants
 */
export const builtinEvents = [
  "server.init.before",
  "server.init.after",
  "server.shutdown.before",
  "server.shutdown.after",
  "server.exception.report",
  "http.lifecycle.request",
  "http.lifecycle.response",
  "http.routing.before",
  "http.routing.after",
  "http.handler.before",
  "http.handler.after",
  "websocket.handler.before",
  "websocket.handler.after",
  "websocket.handler.exception"
] as const

/**
 * @since 0.1.0
 * @category models
 */
export type BuiltinEvent = (typeof builtinEvents)[number]

/**
 * The namespaces (first parts) that hold only built-in events.
 *
 * @since 0.1.0
 * @category constants
 */
export const reservedNamespaces: ReadonlyArray<string> = ["server", "http", "websocket"]

/**
 * Parses an event name, once per distinct name (results are cached). Never throws: anything that is
 * not a valid name, including a value that is not a string, gives `InvalidEventName`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (name: unknown): Either.Either<EventName, InvalidEventName> => internal.parse(name)

/**
 * Whether `name` may be given to `signal`: it is valid and, in a reserved namespace, a built-in event
 * (or a dynamic name whose first two parts are those of a built-in event, as `server.init.<phase>`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const validateSignalName = (name: unknown): Either.Either<EventName, InvalidEventName | ReservedEventName> =>
  internal.parseForSignal(name)

/**
 * The event name is not of a valid form.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEventName extends Data.TaggedError("InvalidEventName")<{
  readonly event: unknown
  readonly reason: string
}> {
  override get message(): string {
    return (
      `Invalid event name ${describe(this.event)}: ${this.reason}. ` +
      `A valid name is one word ("ready") or three dot-separated parts ("my.custom.event"), ` +
      `where only the third part may be dynamic ("orders.paid.<id>", "orders.paid.<amount:int>").`
    )
  }
}

/**
 * The event name is in a namespace reserved for built-in events (`server`, `http`, `websocket`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReservedEventName extends Data.TaggedError("ReservedEventName")<{ readonly event: string }> {
  override get message(): string {
    return (
      `Cannot declare reserved event "${this.event}": the namespaces "server", "http" and "websocket" ` +
      `hold only the built-in events (for example "server.init.before"). Use your own namespace, ` +
      `such as "app.${this.event.split(".").slice(1).join(".")}".`
    )
  }
}

/**
 * No matching dispatch arrived within the timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventTimeout extends Data.TaggedError("EventTimeout")<{
  readonly event: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `Timed out after ${Durations.format(this.timeout)} waiting for event "${this.event}".`
  }
}

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || typeof value !== "object") return String(value)
  try {
    return String(value)
  } catch {
    return "[object]"
  }
}

/**
 * The `timeout` given to `event` is not a non-negative duration.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEventTimeout extends Data.TaggedError("InvalidEventTimeout")<{
  readonly event: string
  readonly timeout: unknown
}> {
  override get message(): string {
    return `Invalid timeout ${describe(this.timeout)} waiting for event "${this.event}": use ${durationHint}.`
  }
}
