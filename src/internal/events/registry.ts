import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { DispatchOptions, EventContext, EventsOptions, Handler, SignalOptions, WaitOptions } from "../../Events.js"
import { decodeNonNegative } from "../duration.js"
import * as Metrics from "../metrics/definitions.js"
import { isTracing } from "../tracing.js"
import {
  EventTimeout,
  InvalidEventName,
  InvalidEventsOptions,
  InvalidEventTimeout,
  type ReservedEventName,
  UnserializableEventContext
} from "./errors.js"
import type { ParsedName } from "./names.js"
import { maxCached, parse, signalRefusal } from "./names.js"
import * as Runners from "./runners.js"
import type { Entry, HandlerRecord } from "./table.js"
import { merge, normalizeCondition, Table } from "./table.js"
import type { TransportService } from "./transport.js"

/** The per-app event machinery that App wires in. */
export interface Registry {
  readonly dispatch: (
    event: string,
    options?: DispatchOptions
  ) => Effect.Effect<void, InvalidEventName | UnserializableEventContext>
  readonly event: (
    event: string,
    options?: WaitOptions
  ) => Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout>
  readonly signal: <R>(
    event: string,
    handler: Handler<R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, R>
  readonly events: (
    event: string,
    options?: EventsOptions
  ) => Stream.Stream<EventContext, InvalidEventName | InvalidEventsOptions>
  /** True when some handler or waiter could match `event`: lets hot paths skip building a context. */
  readonly hasListeners: (event: string) => boolean
  /** Changes whenever `hasListeners` could change its answer: lets a cache of its answers know it is current. */
  readonly listening: () => number
  /** Delivers a dispatch to this registry's waiters and handlers only, whatever its `scope`. */
  readonly dispatchLocal: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  /** What the registry holds right now; for tests and inspectors. */
  readonly size: () => RegistrySize
}

export interface RegistrySize {
  readonly names: number
  readonly groups: number
  readonly waiters: number
  readonly handlers: number
  /** Non-inline dispatches whose handlers have not started yet. */
  readonly queued: number
}

export interface RegistryOptions {
  /** The app's name, for the spans' attributes. */
  readonly app?: string | undefined
  /** Counts dispatches and handler failures (the app's; a registry of its own without). */
  readonly metrics?: Metrics.AppMetrics | undefined
  /** Called once per failing handler, with the event it was registered on. */
  readonly onHandlerFailure: (event: string, cause: Cause.Cause<unknown>) => Effect.Effect<void>
  readonly transport?: TransportService | undefined
  /** Log annotations for the fibers that run handlers. */
  readonly annotations?: (() => Readonly<Record<string, string>> | undefined) | undefined
}

/** Set on the fiber that reports a handler's failure, so that a failure while reporting is not reported again. */
const reportingFailure = FiberRef.unsafeMake(false)

const isReporting = (): boolean => {
  const fiber = Fiber.getCurrentFiber()
  return Option.isSome(fiber) && fiber.value.getFiberRef(reportingFailure)
}

/** What a name resolves to, kept per name: its parse, the effect of a plain dispatch, its entries as of `layout`. */
interface Slot {
  name: ParsedName | undefined
  error: InvalidEventName | undefined
  dispatch: Effect.Effect<void, InvalidEventName>
  layout: number
  entry: Entry | undefined
  group: Entry | undefined
}

const noKeys: ReadonlyArray<string> = []

/** Why a context cannot travel as JSON, or `undefined` when it can. */
const serializationProblem = (context: EventContext | undefined, maxBytes: number | undefined): string | undefined => {
  if (context === undefined || context === null) return undefined
  try {
    const json = JSON.stringify(context)
    if (maxBytes === undefined || json === undefined) return undefined
    const bytes = Buffer.byteLength(json)
    return bytes > maxBytes
      ? `its JSON is ${bytes} bytes; a dispatch to the whole fleet carries at most ${maxBytes} (a PostgreSQL notification)`
      : undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** Put in an `events` stream's buffer when the registry closes: the reader ends after what came before it. */
const streamEnd: unique symbol = Symbol("fiberapp/Events/streamEnd")

/** How many dispatches an `events` stream keeps for its reader by default. */
const defaultBufferSize = 1024

/**
 * Builds a registry that lives as long as the current scope: closing it stops the handlers' runners and interrupts
 * the waiters still waiting.
 */
export const make = (options: RegistryOptions): Effect.Effect<Registry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const table = new Table()
    /** Failures being reported: while there are none, no dispatch can be part of one, and no fiber ref is read. */
    let activeReports = 0
    const slots = new Map<string, Slot>()

    const app = options.app ?? ""
    const metrics = options.metrics ?? Metrics.make(app)
    const failed = (record: HandlerRecord, cause: Cause.Cause<unknown>, reporting: boolean): Effect.Effect<void> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      Metrics.increment(metrics.handlerFailures, [MetricLabel.make("event", record.name.name)])
      if (reporting) {
        return Effect.logError(
          `Handler for event "${record.name.name}" failed while another failure was being reported; not reported again`,
          cause
        )
      }
      return Effect.suspend(() => {
        activeReports++
        return Effect.catchAllCause(
          Effect.locally(options.onHandlerFailure(record.name.name, cause), reportingFailure, true),
          (reportCause) =>
            Effect.logError(`Reporting the failure of a handler for "${record.name.name}" failed`, reportCause)
        ).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              activeReports--
            })
          )
        )
      })
    }

    const runners = yield* Runners.make(
      (record, cause, job) => failed(record, cause, job.reporting),
      options.annotations,
      app
    )
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        table.close()
        slots.clear()
      })
    )

    // Inline, in the caller's fiber: the caller's context is restored after each handler.
    const runInline = (handlers: ReadonlyArray<HandlerRecord>, job: Runners.Job): Effect.Effect<void> =>
      Effect.forEach(
        handlers,
        (record) =>
          record.removed
            ? Effect.void
            : Effect.catchAllCause(
                job.traced
                  ? // In the dispatch's span; the handler's context is the one it was registered with, plus its span.
                    Effect.useSpan(
                      `handler ${record.name.name}`,
                      { attributes: { "fiberapp.app": app, "fiberapp.event": record.name.name } },
                      (span) =>
                        Effect.locally(
                          Effect.suspend(() => Runners.call(record, job)),
                          FiberRef.currentContext,
                          Context.add(record.context, Tracer.ParentSpan, span)
                        )
                    )
                  : Effect.locally(
                      Effect.suspend(() => Runners.call(record, job)),
                      FiberRef.currentContext,
                      record.context
                    ),
                (cause) => failed(record, cause, job.reporting)
              ),
        { discard: true }
      )

    /** Wakes the matching waiters and gives the matching handlers, if any. */
    const route = (slot: Slot, name: ParsedName, dispatchOptions: DispatchOptions | undefined) => {
      if (slot.layout !== table.layout) {
        slot.entry = table.statics.get(name.name)
        slot.group = table.patterns.get(name.group)
        slot.layout = table.layout
      }
      const { entry, group } = slot
      if ((entry === undefined && group === undefined) || table.closed) return undefined
      const condition = normalizeCondition(dispatchOptions?.condition)
      const keys = condition === undefined ? noKeys : Object.keys(condition)
      const given = dispatchOptions?.context
      const context: EventContext = given === undefined || given === null ? {} : { ...given }
      const tail = name.tail
      if (entry !== undefined && entry.waiters.size > 0) table.wake(entry, tail, condition, keys, context)
      if (group !== undefined && group.waiters.size > 0) table.wake(group, tail, condition, keys, context)
      const own = table.select(entry, tail, condition, keys)
      const patterned = table.select(group, tail, condition, keys)
      if (entry !== undefined) table.prune(entry)
      if (group !== undefined) table.prune(group)
      const handlers = own === undefined ? patterned : patterned === undefined ? own : merge(own, patterned)
      if (handlers === undefined) return undefined
      const job: Runners.Job = {
        handlers,
        context,
        tail,
        reporting: activeReports > 0 && isReporting(),
        span: undefined,
        traced: false
      }
      return job
    }

    /** With a tracer of the app's own, a dispatch that reaches handlers is a span, `event <name>`. */
    const tracingFiber = () => {
      const fiber = Fiber.getCurrentFiber()
      return fiber._tag === "Some" && isTracing(fiber.value) ? fiber.value : undefined
    }

    const deliver = (slot: Slot, name: ParsedName, dispatchOptions: DispatchOptions | undefined) =>
      dispatchOptions?.inline === true
        ? Effect.suspend(() => {
            Metrics.increment(metrics.eventsDispatched)
            const job = route(slot, name, dispatchOptions)
            if (job === undefined) return Effect.void
            if (tracingFiber() === undefined) return runInline(job.handlers, job)
            job.traced = true
            return Effect.withSpan(runInline(job.handlers, job), `event ${name.name}`, {
              attributes: { "fiberapp.app": app, "fiberapp.event": name.name, "fiberapp.event.inline": true }
            })
          })
        : Effect.sync(() => {
            Metrics.increment(metrics.eventsDispatched)
            if (slot.layout === table.layout && slot.entry === undefined && slot.group === undefined) return
            const job = route(slot, name, dispatchOptions)
            if (job === undefined) return
            const fiber = tracingFiber()
            // The handlers run later, in fibers of their own: their spans link to this one, which ends here.
            if (fiber !== undefined) job.span = dispatchSpan(fiber, name.name)
            runners.enqueue(job)
          })

    const dispatchSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>, event: string): Tracer.Span => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const span = fiber.currentTracer.span(
        `event ${event}`,
        Option.fromNullable(fiber.currentSpan),
        Context.empty(),
        [],
        clock.unsafeCurrentTimeNanos(),
        "internal"
      )
      span.attribute("fiberapp.app", app)
      span.attribute("fiberapp.event", event)
      span.end(clock.unsafeCurrentTimeNanos(), Exit.void)
      return span
    }

    const slotOf = (event: unknown): Slot => {
      const slot: Slot = {
        name: undefined,
        error: undefined,
        dispatch: Effect.void,
        layout: -1,
        entry: undefined,
        group: undefined
      }
      const parsed = parse(event)
      if (Either.isLeft(parsed)) {
        slot.error = parsed.left
        slot.dispatch = Effect.fail(parsed.left)
        return slot
      }
      const name = (slot.name = parsed.right)
      slot.dispatch =
        name.kind === "static"
          ? deliver(slot, name, undefined)
          : Effect.fail(new InvalidEventName({ event, reason: "NotConcrete" }))
      return slot
    }

    // Names from JS callers may be anything: only strings are cached. Callers often repeat one name in a row.
    // Starts as a value no caller can pass, so that `dispatch(undefined)` is not taken for a repeat.
    let lastEvent: unknown = Symbol("no event yet")
    let lastSlot: Slot | undefined
    const lookup = (event: string): Slot => {
      if (event === lastEvent) return lastSlot!
      if (typeof event !== "string") return slotOf(event)
      let slot = slots.get(event)
      if (slot === undefined) {
        slot = slotOf(event)
        if (slots.size >= maxCached) slots.clear()
        slots.set(event, slot)
      }
      lastEvent = event
      lastSlot = slot
      return slot
    }

    const dispatchLocal = (event: string, dispatchOptions?: DispatchOptions): Effect.Effect<void, InvalidEventName> => {
      const slot = lookup(event)
      if (dispatchOptions === undefined || slot.name === undefined || slot.name.kind !== "static") return slot.dispatch
      return deliver(slot, slot.name, dispatchOptions)
    }

    const transport = options.transport
    const dispatch = (
      event: string,
      dispatchOptions?: DispatchOptions
    ): Effect.Effect<void, InvalidEventName | UnserializableEventContext> => {
      if (dispatchOptions?.scope !== "all") return dispatchLocal(event, dispatchOptions)
      // Encoded first, served alone too: what fails to cross to another process fails before any delivery.
      const unserializable = serializationProblem(dispatchOptions.context, transport?.maxContextBytes?.())
      if (unserializable !== undefined) {
        const name = lookup(event).name
        if (name !== undefined) {
          return Effect.fail(new UnserializableEventContext({ event: name.name, detail: unserializable }))
        }
      }
      const local = dispatchLocal(event, dispatchOptions)
      if (transport === undefined || lookup(event).name?.kind !== "static") return local
      return Effect.zipRight(
        local,
        Effect.catchAllCause(transport.publish(event, dispatchOptions), (cause) =>
          Effect.logError(`Publishing event "${event}" to the other workers failed`, cause)
        )
      )
    }

    const event = (
      event: string,
      waitOptions?: WaitOptions
    ): Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout> => {
      const slot = lookup(event)
      if (slot.name === undefined) return Effect.fail(slot.error!)
      const name = slot.name
      const waiting = table.wait(name, normalizeCondition(waitOptions?.condition), waitOptions?.exclusive !== false)
      if (waitOptions?.timeout === undefined) return waiting
      const decoded = decodeNonNegative(waitOptions.timeout)
      if (Option.isNone(decoded)) {
        return Effect.fail(new InvalidEventTimeout({ event: name.name, timeout: waitOptions.timeout }))
      }
      const timeout = decoded.value
      return Effect.timeoutFail(waiting, {
        duration: timeout,
        onTimeout: () => new EventTimeout({ event: name.name, timeout })
      })
    }

    const signal = <R>(
      event: string,
      handler: Handler<R>,
      signalOptions?: SignalOptions
    ): Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, R> => {
      const slot = lookup(event)
      if (slot.name === undefined) return Effect.fail(slot.error!)
      const name = slot.name
      const refusal = signalRefusal(name)
      if (refusal !== undefined) return Effect.fail(refusal)
      return Effect.contextWith((context: Context.Context<R>) =>
        table.register(
          name,
          handler as Handler<never>,
          context as Context.Context<never>,
          normalizeCondition(signalOptions?.condition),
          signalOptions?.exclusive !== false,
          signalOptions?.priority ?? 0
        )
      )
    }

    const events = (
      event: string,
      eventsOptions?: EventsOptions
    ): Stream.Stream<EventContext, InvalidEventName | InvalidEventsOptions> => {
      const slot = lookup(event)
      if (slot.name === undefined) return Stream.fail(slot.error!)
      const name = slot.name
      const capacity = eventsOptions?.bufferSize ?? defaultBufferSize
      if (!Number.isInteger(capacity) || capacity < 1) {
        return Stream.fail(new InvalidEventsOptions({ event: name.name, reason: "bufferSize", value: capacity }))
      }
      const strategy = eventsOptions?.strategy ?? "dropping"
      if (strategy !== "dropping" && strategy !== "sliding") {
        return Stream.fail(new InvalidEventsOptions({ event: name.name, reason: "strategy", value: strategy }))
      }
      return Stream.unwrapScoped(
        Effect.gen(function* () {
          // `unsafeOffer` ignores a queue's strategy: the overflow is handled here, in dispatch order. One slot more
          // than the buffer, for the end: what was buffered when the app closed is still read.
          const queue = yield* Queue.bounded<EventContext | typeof streamEnd>(capacity + 1)
          const runFork = Runtime.runFork(yield* Effect.runtime<never>())
          let overflowing = false
          const deliver = (delivered: Effect.Effect<EventContext>) => {
            if (!Exit.isExit(delivered) || delivered._tag === "Failure") {
              queue.unsafeOffer(streamEnd)
              return
            }
            const full = Option.getOrElse(queue.unsafeSize(), () => 0) >= capacity
            if (full && strategy === "sliding") Effect.runSync(Queue.poll(queue))
            if (!full || strategy === "sliding") queue.unsafeOffer(delivered.value as EventContext)
            if (full && !overflowing) {
              runFork(
                Effect.logWarning(
                  `The events of "${name.name}" come faster than they are read: more than ${capacity} waiting, ` +
                    (strategy === "dropping" ? "the newest are dropped" : "the oldest are dropped")
                )
              )
            }
            overflowing = full
          }
          // Subscribed and its removal armed in one step: an interruption cannot leave a subscription behind.
          yield* Effect.acquireRelease(
            Effect.sync(() =>
              table.subscribe(
                name,
                normalizeCondition(eventsOptions?.condition),
                eventsOptions?.exclusive !== false,
                deliver
              )
            ),
            (remove) => Effect.sync(remove)
          )
          return Stream.takeWhile(Stream.fromQueue(queue), (item): item is EventContext => item !== streamEnd)
        })
      )
    }

    const hasListeners = (event: string): boolean => {
      if (typeof event !== "string") return false
      const name = lookup(event).name
      return name !== undefined && name.kind === "static" && table.hasListeners(name)
    }

    const size = (): RegistrySize => {
      let waiters = 0
      let handlers = 0
      for (const entries of [table.statics, table.patterns]) {
        for (const entry of entries.values()) {
          waiters += entry.waiters.size
          handlers += entry.handlers.length
        }
      }
      return { names: table.statics.size, groups: table.patterns.size, waiters, handlers, queued: runners.queued() }
    }

    return { dispatch, event, events, signal, hasListeners, listening: () => table.listening, dispatchLocal, size }
  })
