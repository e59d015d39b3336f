/**
 * Events: Sanic's signals on Effect. `dispatch` wakes the waiters of `event` and runs the handlers
 * registered with `signal`. The app exposes these as `app.dispatch`, `app.event` and `app.signal`.
 *
 * Names are one word (`"ready"`) or three dot-separated parts (`"my.custom.event"`). Only the third
 * part may be dynamic: `<name>` matches any third part, `<name:type>` only the parts of that type, and
 * `<name:regex>` the parts a regular expression matches; waiters and handlers get the part converted
 * (see {@link ParamType}). A waiter may use `*` as the third part. The namespaces `server`, `http` and
 * `websocket` hold only the {@link builtinEvents}.
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
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { App } from "fiberapp"
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* App.App
 *   yield* app.signal("orders.paid.<amount:int>", (context) => Effect.log(`paid ${context.amount}`))
 *   const waiter = yield* Effect.fork(app.event("orders.paid.*", { timeout: "5 seconds" }))
 *   yield* Effect.yieldNow()
 *   yield* app.dispatch("orders.paid.9", { context: { by: "card" }, inline: true })
 *   return yield* waiter.await
 * })
 *
 * Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "shop" }))))
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Either, Schema, Stream } from "effect"
import type { App } from "./App.js"
import * as errors from "./internal/events/errors.js"
import * as names from "./internal/events/names.js"
import * as transport from "./internal/events/transport.js"
import * as typed from "./internal/events/typed.js"

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
 * Options of `dispatch`.
 *
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
 * Options of `event` (waiting for the next dispatch).
 *
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
 * An event declared with a `Schema` (see {@link define}): its context has one type everywhere. `dispatch` encodes it
 * (so a `scope: "all"` dispatch carries JSON), and every receiver decodes it, in this process or another: a `Date`
 * stays a `Date`, a `bigint` a `bigint`. Waiters and handlers of the raw name see the encoded form.
 *
 * @since 0.2.0
 * @category models
 */
export interface TypedEvent<A, I extends EventContext = EventContext> {
  readonly name: string
  readonly schema: Schema.Schema<A, I>
  /** Encodes `context` and dispatches it on the app in context. */
  readonly dispatch: (
    context: A,
    options?: Omit<DispatchOptions, "context">
  ) => Effect.Effect<void, InvalidEventName | UnserializableEventContext | InvalidEventContext, App>
  /** Waits for the next dispatch and decodes its context. */
  readonly event: (
    options?: WaitOptions
  ) => Effect.Effect<A, EventTimeout | InvalidEventName | InvalidEventTimeout | InvalidEventContext, App>
  /**
   * Every dispatch from the moment the stream runs, decoded, as a buffered stream (see `AppService.events`). A
   * context that does not decode is skipped with a warning: one bad dispatch does not end the readers' streams.
   */
  readonly events: (options?: EventsOptions) => Stream.Stream<A, InvalidEventName | InvalidEventsOptions, App>
  /** Registers a handler that gets the decoded context; a context that does not decode fails the handler. */
  readonly signal: <R>(
    handler: (context: A) => Effect.Effect<unknown, unknown, R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, App | Exclude<R, App>>
}

/**
 * Declares an event with a schema for its context.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { App, Events } from "fiberapp"
 *
 * const JobDone = Events.define("jobs.job.done", Schema.Struct({ id: Schema.String, at: Schema.Date }))
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* App.App
 *   yield* app.start
 *   const done = yield* Effect.fork(JobDone.event())
 *   yield* Effect.yieldNow()
 *   // scope: "all" carries { id, at: "2026-..." } as JSON; every receiver gets a Date back
 *   yield* JobDone.dispatch({ id: "k2", at: new Date() }, { scope: "all" })
 *   const { at } = yield* Effect.flatten(done.await)
 *   return at.getTime()
 * })
 *
 * Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "jobs" }))))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const define: <A, I extends EventContext>(name: string, schema: Schema.Schema<A, I>) => TypedEvent<A, I> =
  typed.define

/**
 * Options of `events` (a stream of an event's dispatches).
 *
 * @since 0.2.0
 * @category models
 */
export interface EventsOptions {
  /** Matches only dispatches with an equal condition (same keys and values). */
  readonly condition?: Record<string, string> | undefined
  /** With a condition: `false` also matches dispatches that carry no condition. Defaults to `true`. */
  readonly exclusive?: boolean | undefined
  /** How many dispatches wait for the reader at most. Defaults to 1024. */
  readonly bufferSize?: number | undefined
  /** What a full buffer gives up: the newest dispatch (`"dropping"`, the default) or the oldest (`"sliding"`). */
  readonly strategy?: "dropping" | "sliding" | undefined
}

/**
 * Options of `signal` (registering a handler).
 *
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
 * The type of a dynamic part, as in Sanic's router (sanic-routing's patterns). A dispatched third part never holds a
 * dot (dots separate the parts) and is never empty, which narrows some types compared with Sanic's URL routes.
 *
 * | Type | Matches | Value |
 * |---|---|---|
 * | `str` (`<x>`) | any third part | the string |
 * | `strorempty` | any third part (a part is never empty) | the string |
 * | `int` | `-?\d+` | a number |
 * | `float` | Sanic's float pattern; without a dot that is `-?\d+` | a number |
 * | `alpha` | ASCII letters | the string |
 * | `slug` | `a-z`, `0-9` words joined by `-` (`my-post-2`) | the string |
 * | `uuid` | `8-4-4-4-12` hex digits, either case | the string, lower-cased |
 * | `ymd` | `YYYY-MM-DD`, a real day of the years 1000-2999 | a `Date` at UTC midnight of that day |
 * | `regex` (`<x:[a-z]+>`) | the whole part, JavaScript syntax with the `u` flag | the part, or the text of its one capturing group |
 *
 * A type spec made only of letters names a type: an unknown one (`<x:number>`), `path` and `ext` (which match dotted
 * values, impossible in a part) are refused. Anything else is a regular expression: one that does not compile, has
 * more than one capturing group, or a named group with another name than the part's, is refused.
 *
 * @since 0.2.0
 * @category models
 */
export type ParamType = "str" | "strorempty" | "int" | "float" | "alpha" | "slug" | "uuid" | "ymd" | "regex"

/**
 * A parsed event name.
 *
 * - `static`: a concrete name, the only kind that can be dispatched.
 * - `dynamic`: the last part is `<param>`, `<param:type>` or `<param:regex>`.
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
  readonly type: ParamType | undefined
  /** The regular expression of a `regex` dynamic part. */
  readonly pattern?: string | undefined
}

/**
 * The built-in events: the only names that handlers may be registered on in the reserved namespaces.
 *
 * @since 0.1.0
 * @category constants
 */
export const builtinEvents: typeof names.builtinEvents = names.builtinEvents

/**
 * One of the built-in events.
 *
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
export const reservedNamespaces: ReadonlyArray<string> = names.reservedNamespaces

/**
 * Parses an event name, once per distinct name (results are cached). Never throws: anything that is
 * not a valid name, including a value that is not a string, gives `InvalidEventName`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (name: unknown): Either.Either<EventName, InvalidEventName> => names.parse(name)

/**
 * Whether `name` may be given to `signal`: it is valid and, in a reserved namespace, a built-in event
 * (or a dynamic name whose first two parts are those of a built-in event, as `server.init.<phase>`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const validateSignalName = (name: unknown): Either.Either<EventName, InvalidEventName | ReservedEventName> =>
  names.parseForSignal(name)

/**
 * The event name is not of a valid form; `reason` says which rule it breaks, `detail` and `message` say it in words.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidEventName: typeof errors.InvalidEventName = errors.InvalidEventName

/**
 * The type of a `InvalidEventName` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidEventName = errors.InvalidEventName

/**
 * Which rule of the name grammar an event name breaks.
 *
 * @since 0.1.0
 * @category models
 */
export type InvalidEventNameReason = errors.InvalidEventNameReason

/**
 * The event name is in a namespace reserved for built-in events (`server`, `http`, `websocket`).
 *
 * @since 0.1.0
 * @category errors
 */
export const ReservedEventName: typeof errors.ReservedEventName = errors.ReservedEventName

/**
 * The type of a `ReservedEventName` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReservedEventName = errors.ReservedEventName

/**
 * No matching dispatch arrived within the timeout given to `event`.
 *
 * @since 0.1.0
 * @category errors
 */
export const EventTimeout: typeof errors.EventTimeout = errors.EventTimeout

/**
 * The type of a `EventTimeout` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type EventTimeout = errors.EventTimeout

/**
 * The `timeout` given to `event` is not a non-negative duration.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidEventTimeout: typeof errors.InvalidEventTimeout = errors.InvalidEventTimeout

/**
 * The type of a `InvalidEventTimeout` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidEventTimeout = errors.InvalidEventTimeout

/**
 * The options given to `events` are unusable: `reason` names the option (`bufferSize`, `strategy`).
 *
 * @since 0.2.0
 * @category errors
 */
export const InvalidEventsOptions: typeof errors.InvalidEventsOptions = errors.InvalidEventsOptions

/**
 * The type of a `InvalidEventsOptions` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type InvalidEventsOptions = errors.InvalidEventsOptions

/**
 * A dispatch with `scope: "all"` whose context does not become JSON (a bigint, a cycle): it fails before anything is
 * delivered, here or elsewhere.
 *
 * @since 0.2.0
 * @category errors
 */
export const UnserializableEventContext: typeof errors.UnserializableEventContext = errors.UnserializableEventContext

/**
 * The type of a `UnserializableEventContext` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type UnserializableEventContext = errors.UnserializableEventContext

/**
 * A typed event's context failed its schema: on dispatch (`Encode`) or on receipt (`Decode`), with the schema's words.
 *
 * @since 0.2.0
 * @category errors
 */
export const InvalidEventContext: typeof errors.InvalidEventContext = errors.InvalidEventContext

/**
 * The type of a `InvalidEventContext` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type InvalidEventContext = errors.InvalidEventContext

/**
 * Which way a typed event's context failed its schema.
 *
 * @since 0.2.0
 * @category models
 */
export type InvalidEventContextReason = errors.InvalidEventContextReason

/**
 * Where dispatches made with `scope: "all"` go beyond this process. Optional: provide it to `App.layer` to carry
 * events to other processes or machines; without it, a server with workers carries them between its workers.
 *
 * @since 0.1.0
 * @category tags
 */
export const Transport: typeof transport.Transport = transport.Transport

/**
 * The type of a `Transport` value.
 *
 * @since 0.1.0
 * @category tags
 */
export type Transport = transport.Transport

/**
 * What a `Transport` does: publish a dispatch to the other processes, which deliver it to their own waiters and
 * handlers only.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportService = transport.TransportService
