/**
 * Events: Sanic's signals on Effect. `dispatch` wakes the waiters of `event` and runs the handlers
 * registered with `signal`. The app exposes these as `app.dispatch`, `app.event` and `app.signal`.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Duration, Effect } from "effect"

/**
 * The context a dispatch carries, merged with the dynamic parts of the name for waiters and handlers.
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
  readonly context?: EventContext | undefined
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
  readonly timeout?: Duration.DurationInput | undefined
  readonly condition?: Record<string, string> | undefined
  /** With a condition: `false` also matches dispatches that carry no condition. Defaults to `true`. */
  readonly exclusive?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SignalOptions {
  readonly condition?: Record<string, string> | undefined
  /** With a condition: `false` also matches dispatches that carry no condition. Defaults to `true`. */
  readonly exclusive?: boolean | undefined
  /** Higher runs first; equal priorities run in registration order. Defaults to `0`. */
  readonly priority?: number | undefined
}

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
      `Invalid event name ${JSON.stringify(String(this.event))}: ${this.reason}. ` +
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
    return `Timed out after ${this.timeout.toString()} waiting for event "${this.event}".`
  }
}
