import type { Context, Scope } from "effect"
import { Cause, Effect, Either, Exit, Fiber, FiberRef, FiberSet, GlobalValue, Option } from "effect"
import type { DispatchOptions, EventContext, EventName, Handler, SignalOptions, WaitOptions } from "../Events.js"
// Events.ts imports this module too: values from it are only read inside functions, never at load time.
import {
  builtinEvents,
  EventTimeout,
  InvalidEventName,
  InvalidEventTimeout,
  ReservedEventName,
  reservedNamespaces
} from "../Events.js"
import { decodeNonNegative } from "./duration.js"

/** The per-app event machinery that App wires in. */
export interface Registry {
  readonly dispatch: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  readonly event: (
    event: string,
    options?: WaitOptions
  ) => Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout>
  readonly signal: <R>(
    event: string,
    handler: Handler<R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, R>
  /** True when some handler or waiter could match `event`: lets hot paths skip building a context. */
  readonly hasListeners: (event: string) => boolean
  /**
   * Delivers a dispatch to this registry's waiters and handlers only, whatever its `scope`: the entry point for a
   * {@link Transport} that receives a dispatch made with `scope: "all"` in another process.
   */
  readonly dispatchLocal: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  /** What the registry holds right now; for tests and inspectors. */
  readonly size: () => RegistrySize
}

export interface RegistrySize {
  /** Concrete names with a waiter or handler. */
  readonly names: number
  /** `a.b` groups with a patterned (`<param>` or `*`) waiter or handler. */
  readonly groups: number
  readonly waiters: number
  readonly handlers: number
  /** Non-inline dispatches whose handlers have not started yet. */
  readonly queued: number
  /** Parked background fibers that run handlers. */
  readonly idleRunners: number
}

/**
 * Carries dispatches made with `scope: "all"` to the other workers. Each receiving process hands them to its
 * registry's `dispatchLocal`. Without a transport, `"all"` reaches this process only.
 */
export interface Transport {
  readonly publish: (event: string, options: DispatchOptions) => Effect.Effect<void>
}

export interface RegistryOptions {
  /** Called once per failing handler, with the event it was registered on. */
  readonly onHandlerFailure: (event: string, cause: Cause.Cause<unknown>) => Effect.Effect<void>
  readonly transport?: Transport | undefined
}

// -----------------------------------------------------------------------------
// names
// -----------------------------------------------------------------------------

/** A parsed name, with what matching needs. */
export interface ParsedName extends EventName {
  /** The first two parts (`"a.b"`), or `""` for one word: where patterned waiters and handlers are grouped. */
  readonly group: string
  /** The last part as written. */
  readonly tail: string
}

const paramPattern = /^<([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?>$/
const forbidden = /[\s\p{Cc}.<>*]/u
const intPattern = /^-?\d+$/
const maxCached = 4096

const invalid = (event: unknown, reason: string) => Either.left(new InvalidEventName({ event, reason }))

const checkPart = (part: string, index: number, isLast: boolean): string | undefined => {
  if (part.length === 0) return `part ${index + 1} is empty`
  if (!isLast && part.startsWith("<")) return `only the third part may be dynamic, not part ${index + 1} ("${part}")`
  if (!isLast && part === "*") return `only the third part may be "*", not part ${index + 1}`
  if (forbidden.test(part)) {
    return `part ${index + 1} ("${part}") contains whitespace, a control character, "<", ">" or "*"`
  }
  return undefined
}

const parseUncached = (name: string): Either.Either<ParsedName, InvalidEventName> => {
  if (name.length === 0) return invalid(name, "it is empty")
  const parts = name.split(".")
  if (parts.length !== 1 && parts.length !== 3) return invalid(name, `it has ${parts.length} parts`)
  const last = parts.length - 1
  for (let i = 0; i < last; i++) {
    const reason = checkPart(parts[i], i, false)
    if (reason !== undefined) return invalid(name, reason)
  }
  const tail = parts[last]
  const group = last === 0 ? "" : `${parts[0]}.${parts[1]}`
  if (tail === "*")
    return Either.right({ name, parts, kind: "wildcard", param: undefined, type: undefined, group, tail })
  if (tail.startsWith("<")) {
    const match = paramPattern.exec(tail)
    if (match === null) {
      return invalid(name, `the dynamic part "${tail}" must be <name> or <name:int>, with a name like "order_id"`)
    }
    const type = match[2] ?? "str"
    if (type !== "str" && type !== "int") {
      return invalid(name, `the dynamic part "${tail}" has the unknown type "${type}" (use "int", or no type)`)
    }
    return Either.right({ name, parts, kind: "dynamic", param: match[1], type, group, tail })
  }
  const reason = checkPart(tail, last, true)
  if (reason !== undefined) return invalid(name, reason)
  return Either.right({ name, parts, kind: "static", param: undefined, type: undefined, group, tail })
}

const parseCache = new Map<string, Either.Either<ParsedName, InvalidEventName>>()

/** Parses a name; results are cached (a bounded cache, cleared when full). */
export const parse = (name: unknown): Either.Either<ParsedName, InvalidEventName> => {
  if (typeof name !== "string") {
    return invalid(name, `an event name must be a string, got ${name === null ? "null" : typeof name}`)
  }
  let result = parseCache.get(name)
  if (result === undefined) {
    result = parseUncached(name)
    if (parseCache.size >= maxCached) parseCache.clear()
    parseCache.set(name, result)
  }
  return result
}

let builtins: ReadonlySet<string> | undefined
let builtinGroups: ReadonlySet<string> | undefined
let reserved: ReadonlySet<string> | undefined

/** The reason a valid name cannot take a handler, if it cannot. */
const signalRefusal = (name: ParsedName): InvalidEventName | ReservedEventName | undefined => {
  if (name.kind === "wildcard") {
    return new InvalidEventName({
      event: name.name,
      reason: `"*" is only for waiting with event(); a handler uses a dynamic part such as "<name>"`
    })
  }
  if (name.parts.length !== 3) return undefined
  reserved ??= new Set(reservedNamespaces)
  if (!reserved.has(name.parts[0])) return undefined
  builtins ??= new Set(builtinEvents)
  builtinGroups ??= new Set(builtinEvents.map((event) => event.slice(0, event.lastIndexOf("."))))
  const allowed = name.kind === "static" ? builtins.has(name.name) : builtinGroups.has(name.group)
  return allowed ? undefined : new ReservedEventName({ event: name.name })
}

/** Parses a name that is to take a handler: valid, and a built-in event in the reserved namespaces. */
export const parseForSignal = (name: unknown): Either.Either<ParsedName, InvalidEventName | ReservedEventName> => {
  const parsed = parse(name)
  if (Either.isLeft(parsed)) return parsed
  const refusal = signalRefusal(parsed.right)
  return refusal === undefined ? parsed : Either.left(refusal)
}

// -----------------------------------------------------------------------------
// registry
// -----------------------------------------------------------------------------

type Condition = Readonly<Record<string, string>>

interface Subscriber {
  readonly name: ParsedName
  readonly condition: Condition | undefined
  readonly conditionSize: number
  readonly exclusive: boolean
  readonly entry: Entry
}

interface HandlerRecord extends Subscriber {
  readonly handler: Handler<never>
  readonly context: Context.Context<never>
  readonly priority: number
  readonly seq: number
  removed: boolean
}

interface WaiterRecord extends Subscriber {
  readonly resume: (effect: Effect.Effect<EventContext>) => void
}

/** The waiters and handlers of one concrete name, or of the patterned names of one `a.b` group. */
interface Entry {
  readonly key: string
  readonly pattern: boolean
  /** Sorted: priority descending, then registration order. Replaced, never mutated, so a job can keep it. */
  handlers: ReadonlyArray<HandlerRecord>
  readonly waiters: Set<WaiterRecord>
  /** Subscribers with a condition, and those of them an unconditioned dispatch does not reach. */
  conditionedHandlers: number
  strictHandlers: number
  conditionedWaiters: number
  strictWaiters: number
}

/** The handlers of one non-inline dispatch, waiting for a runner. */
interface Job {
  readonly handlers: ReadonlyArray<HandlerRecord>
  readonly context: EventContext
  readonly tail: string
  /** The dispatch was made while a handler failure was being reported: failures are logged, not reported. */
  readonly reporting: boolean
}

interface Slot {
  name: ParsedName | undefined
  error: InvalidEventName | undefined
  /** The effect of `dispatch(event)` without options: built once per name. */
  dispatch: Effect.Effect<void, InvalidEventName>
  /** The entries of the name and of its group, as of the registry's `layout`. */
  layout: number
  entry: Entry | undefined
  group: Entry | undefined
}

const reportingFailure = GlobalValue.globalValue(Symbol.for("fiberapp/Events/reportingFailure"), () =>
  FiberRef.unsafeMake(false)
)

/** How many handler failures are being reported, in every registry: while none is, no dispatch can be part of one. */
let activeReports = 0

const isReporting = (): boolean => {
  const fiber = Fiber.getCurrentFiber()
  return Option.isSome(fiber) && fiber.value.getFiberRef(reportingFailure)
}

const normalizeCondition = (condition: Record<string, string> | undefined): Condition | undefined => {
  if (condition === undefined || condition === null) return undefined
  const keys = Object.keys(condition)
  return keys.length === 0 ? undefined : { ...condition }
}

const reaches = (subscriber: Subscriber, condition: Condition | undefined, keys: ReadonlyArray<string>): boolean => {
  if (condition === undefined) return subscriber.condition === undefined || !subscriber.exclusive
  const own = subscriber.condition
  if (own === undefined || subscriber.conditionSize !== keys.length) return false
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (!Object.hasOwn(own, key) || own[key] !== condition[key]) return false
  }
  return true
}

const tailMatches = (name: ParsedName, tail: string): boolean => name.type !== "int" || intPattern.test(tail)

const contextFor = (name: ParsedName, context: EventContext, tail: string): EventContext =>
  name.param === undefined ? context : { [name.param]: name.type === "int" ? Number(tail) : tail, ...context }

const byPriority = (a: HandlerRecord, b: HandlerRecord): boolean =>
  a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq)

const merge = (a: ReadonlyArray<HandlerRecord>, b: ReadonlyArray<HandlerRecord>): ReadonlyArray<HandlerRecord> => {
  const out: Array<HandlerRecord> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) out.push(byPriority(a[i], b[j]) ? a[i++] : b[j++])
  while (i < a.length) out.push(a[i++])
  while (j < b.length) out.push(b[j++])
  return out
}

const maxIdleRunners = 8

/**
 * Builds a registry that lives as long as the current scope: closing it stops the handlers' runners and interrupts
 * the waiters still waiting.
 */
export const make = (options: RegistryOptions): Effect.Effect<Registry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runners = yield* FiberSet.make<void>()
    const fork = yield* FiberSet.runtime(runners)<never>()
    const statics = new Map<string, Entry>()
    const patterns = new Map<string, Entry>()
    const slots = new Map<string, Slot>()
    let seq = 0
    let closed = false
    // Bumped whenever an entry is added or removed: a slot's cached entries are current while it is unchanged.
    let layout = 0

    // --- tables -------------------------------------------------------------

    const entryFor = (name: ParsedName): Entry => {
      const pattern = name.kind !== "static"
      const table = pattern ? patterns : statics
      const key = pattern ? name.group : name.name
      let entry = table.get(key)
      if (entry === undefined) {
        entry = {
          key,
          pattern,
          handlers: [],
          waiters: new Set(),
          conditionedHandlers: 0,
          strictHandlers: 0,
          conditionedWaiters: 0,
          strictWaiters: 0
        }
        table.set(key, entry)
        layout++
      }
      return entry
    }

    const prune = (entry: Entry): void => {
      if (entry.handlers.length > 0 || entry.waiters.size > 0) return
      const table = entry.pattern ? patterns : statics
      if (table.get(entry.key) === entry) {
        table.delete(entry.key)
        layout++
      }
    }

    const dropWaiter = (waiter: WaiterRecord): boolean => {
      const entry = waiter.entry
      if (!entry.waiters.delete(waiter)) return false
      if (waiter.condition !== undefined) {
        entry.conditionedWaiters--
        if (waiter.exclusive) entry.strictWaiters--
      }
      return true
    }

    // --- waiters ------------------------------------------------------------

    const wake = (
      entry: Entry,
      tail: string,
      condition: Condition | undefined,
      keys: ReadonlyArray<string>,
      context: EventContext
    ): void => {
      const waiters = entry.waiters
      if (condition === undefined && !entry.pattern && entry.strictWaiters === 0) {
        const exit = Exit.succeed(context)
        for (const waiter of waiters) waiter.resume(exit)
        waiters.clear()
        entry.conditionedWaiters = 0
        return
      }
      if (condition !== undefined && entry.conditionedWaiters === 0) return
      let shared: Exit.Exit<EventContext> | undefined
      for (const waiter of waiters) {
        if (!reaches(waiter, condition, keys) || (entry.pattern && !tailMatches(waiter.name, tail))) continue
        dropWaiter(waiter)
        waiter.resume(
          waiter.name.param === undefined
            ? (shared ??= Exit.succeed(context))
            : Exit.succeed(contextFor(waiter.name, context, tail))
        )
      }
    }

    const wait = (name: ParsedName, condition: Condition | undefined, exclusive: boolean) =>
      Effect.async<EventContext>((resume) => {
        if (closed) return resume(Effect.interrupt)
        const entry = entryFor(name)
        const waiter: WaiterRecord = {
          name,
          condition,
          conditionSize: condition === undefined ? 0 : Object.keys(condition).length,
          exclusive,
          entry,
          resume
        }
        entry.waiters.add(waiter)
        if (condition !== undefined) {
          entry.conditionedWaiters++
          if (exclusive) entry.strictWaiters++
        }
        return Effect.sync(() => {
          if (dropWaiter(waiter)) prune(entry)
        })
      })

    // --- handlers -----------------------------------------------------------

    const select = (
      entry: Entry | undefined,
      tail: string,
      condition: Condition | undefined,
      keys: ReadonlyArray<string>
    ): ReadonlyArray<HandlerRecord> | undefined => {
      if (entry === undefined || entry.handlers.length === 0) return undefined
      if (condition === undefined) {
        if (!entry.pattern && entry.strictHandlers === 0) return entry.handlers
      } else if (entry.conditionedHandlers === 0) {
        return undefined
      }
      let selected: Array<HandlerRecord> | undefined
      for (const handler of entry.handlers) {
        if (reaches(handler, condition, keys) && (!entry.pattern || tailMatches(handler.name, tail))) {
          ;(selected ??= []).push(handler)
        }
      }
      return selected
    }

    const register = (
      name: ParsedName,
      handler: Handler<never>,
      context: Context.Context<never>,
      signalOptions: SignalOptions | undefined
    ): Effect.Effect<void> => {
      const condition = normalizeCondition(signalOptions?.condition)
      const exclusive = signalOptions?.exclusive !== false
      const entry = entryFor(name)
      const record: HandlerRecord = {
        name,
        condition,
        conditionSize: condition === undefined ? 0 : Object.keys(condition).length,
        exclusive,
        entry,
        handler,
        context,
        priority: signalOptions?.priority ?? 0,
        seq: seq++,
        removed: false
      }
      const handlers = entry.handlers
      let at = handlers.length
      while (at > 0 && handlers[at - 1].priority < record.priority) at--
      entry.handlers = [...handlers.slice(0, at), record, ...handlers.slice(at)]
      if (condition !== undefined) {
        entry.conditionedHandlers++
        if (exclusive) entry.strictHandlers++
      }
      return Effect.sync(() => {
        if (record.removed) return
        record.removed = true
        entry.handlers = entry.handlers.filter((other) => other !== record)
        if (condition !== undefined) {
          entry.conditionedHandlers--
          if (exclusive) entry.strictHandlers--
        }
        prune(entry)
      })
    }

    const failed = (record: HandlerRecord, cause: Cause.Cause<unknown>, reporting: boolean): Effect.Effect<void> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
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

    const call = (record: HandlerRecord, job: Job): Effect.Effect<unknown, unknown> => {
      try {
        return record.handler(contextFor(record.name, job.context, job.tail))
      } catch (defect) {
        return Effect.die(defect)
      }
    }

    // Inline, in the caller's fiber: the caller's context is restored after each handler.
    const runInlineOne = (record: HandlerRecord, job: Job): Effect.Effect<void> =>
      record.removed
        ? Effect.void
        : Effect.withFiberRuntime<void>((fiber) =>
            Effect.catchAllCause(
              fiber.currentContext === record.context
                ? call(record, job)
                : Effect.locally(
                    Effect.suspend(() => call(record, job)),
                    FiberRef.currentContext,
                    record.context
                  ),
              (cause) => failed(record, cause, job.reporting)
            )
          )

    const runInline = (job: Job): Effect.Effect<void> =>
      job.handlers.length === 1
        ? runInlineOne(job.handlers[0], job)
        : Effect.forEach(job.handlers, (record) => runInlineOne(record, job), { discard: true })

    // --- runners: background fibers that run the handlers of non-inline dispatches ---
    // A job is taken by a runner that is not busy with another job, so a handler that suspends never holds up the
    // handlers of later dispatches, and one runner drains a burst of jobs whose handlers do not suspend. A runner
    // sets each handler's context and leaves it (it needs none itself), and catches failures once around its loop,
    // knowing which handler was running.

    const queue: Array<Job | undefined> = []
    let head = 0
    let starting = 0
    const idle: Array<(resume: Effect.Effect<void>) => void> = []

    const startRunner = (): void => {
      starting++
      const resume = idle.pop()
      if (resume !== undefined) resume(Effect.void)
      else fork(makeRunner(), { immediate: false })
    }

    const enqueue = (job: Job): void => {
      queue.push(job)
      if (starting === 0) startRunner()
    }

    const park: Effect.Effect<void> = Effect.async<void>((resume) => {
      idle.push(resume)
      return Effect.sync(() => {
        const index = idle.indexOf(resume)
        if (index >= 0) idle.splice(index, 1)
      })
    })

    const makeRunner = (): Effect.Effect<void> => {
      let job: Job | undefined
      let index = 0
      let record: HandlerRecord | undefined
      let context: Context.Context<never> | undefined
      const step: Effect.Effect<void, unknown> = Effect.suspend(() => {
        for (;;) {
          if (job !== undefined) {
            while (index < job.handlers.length) {
              record = job.handlers[index++]
              if (record.removed) continue
              const run = Effect.zipRight(call(record, job), step)
              if (record.context === context) return run
              context = record.context
              return Effect.zipRight(FiberRef.set(FiberRef.currentContext, context), run)
            }
            job = undefined
            record = undefined
          }
          if (head === queue.length) {
            if (idle.length >= maxIdleRunners) return Effect.void
            return Effect.zipRight(park, unparked)
          }
          job = queue[head]!
          index = 0
          queue[head++] = undefined
          if (head === queue.length) {
            queue.length = 0
            head = 0
          } else if (starting === 0) {
            startRunner()
          }
        }
      })
      const guarded: Effect.Effect<void> = Effect.catchAllCause(step, (cause) =>
        Effect.zipRight(failed(record!, cause, job!.reporting), guarded)
      )
      // Woken from the idle list: still inside `guarded`, so the loop goes on without another catch frame.
      const unparked = Effect.suspend(() => {
        starting--
        return step
      })
      return Effect.suspend(() => {
        starting--
        return guarded
      })
    }

    // --- dispatch -----------------------------------------------------------

    const noKeys: ReadonlyArray<string> = []

    /** Wakes the matching waiters and gives the matching handlers, if any. */
    const route = (slot: Slot, name: ParsedName, dispatchOptions: DispatchOptions | undefined): Job | undefined => {
      if (slot.layout !== layout) {
        slot.entry = statics.get(name.name)
        slot.group = patterns.get(name.group)
        slot.layout = layout
      }
      const entry = slot.entry
      const group = slot.group
      if ((entry === undefined && group === undefined) || closed) return undefined
      const condition = normalizeCondition(dispatchOptions?.condition)
      const keys = condition === undefined ? noKeys : Object.keys(condition)
      const given = dispatchOptions?.context
      const context: EventContext = given === undefined || given === null ? {} : { ...given }
      const tail = name.tail
      if (entry !== undefined && entry.waiters.size > 0) wake(entry, tail, condition, keys, context)
      if (group !== undefined && group.waiters.size > 0) wake(group, tail, condition, keys, context)
      const own = select(entry, tail, condition, keys)
      const patterned = select(group, tail, condition, keys)
      if (entry !== undefined) prune(entry)
      if (group !== undefined) prune(group)
      const handlers = own === undefined ? patterned : patterned === undefined ? own : merge(own, patterned)
      if (handlers === undefined) return undefined
      return { handlers, context, tail, reporting: activeReports > 0 && isReporting() }
    }

    const deliver = (
      slot: Slot,
      name: ParsedName,
      dispatchOptions: DispatchOptions | undefined
    ): Effect.Effect<void> =>
      dispatchOptions?.inline === true
        ? Effect.suspend(() => {
            const job = route(slot, name, dispatchOptions)
            return job === undefined ? Effect.void : runInline(job)
          })
        : Effect.sync(() => {
            if (slot.layout === layout && slot.entry === undefined && slot.group === undefined) return
            const job = route(slot, name, dispatchOptions)
            if (job !== undefined) enqueue(job)
          })

    const slotOf = (event: unknown): Slot => {
      const parsed = parse(event)
      const slot: Slot = {
        name: undefined,
        error: undefined,
        dispatch: Effect.void,
        layout: -1,
        entry: undefined,
        group: undefined
      }
      if (Either.isLeft(parsed)) {
        slot.error = parsed.left
        slot.dispatch = Effect.fail(parsed.left)
      } else {
        const name = (slot.name = parsed.right)
        slot.dispatch =
          name.kind === "static"
            ? deliver(slot, name, undefined)
            : Effect.fail(
                new InvalidEventName({ event, reason: `a dispatched name must be concrete, without "<...>" or "*"` })
              )
      }
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
    const dispatch = (event: string, dispatchOptions?: DispatchOptions): Effect.Effect<void, InvalidEventName> => {
      const slot = lookup(event)
      if (dispatchOptions === undefined || slot.name === undefined || slot.name.kind !== "static") return slot.dispatch
      const local = deliver(slot, slot.name, dispatchOptions)
      if (dispatchOptions.scope !== "all" || transport === undefined) return local
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
      const waiting = wait(name, normalizeCondition(waitOptions?.condition), waitOptions?.exclusive !== false)
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
        register(name, handler as Handler<never>, context as Context.Context<never>, signalOptions)
      )
    }

    const hasListeners = (event: string): boolean => {
      if (typeof event !== "string") return false
      const name = lookup(event).name
      if (name === undefined || name.kind !== "static") return false
      if (statics.has(name.name)) return true
      const group = patterns.get(name.group)
      if (group === undefined) return false
      for (const handler of group.handlers) if (tailMatches(handler.name, name.tail)) return true
      for (const waiter of group.waiters) if (tailMatches(waiter.name, name.tail)) return true
      return false
    }

    const size = (): RegistrySize => {
      let waiters = 0
      let handlers = 0
      for (const table of [statics, patterns]) {
        for (const entry of table.values()) {
          waiters += entry.waiters.size
          handlers += entry.handlers.length
        }
      }
      return {
        names: statics.size,
        groups: patterns.size,
        waiters,
        handlers,
        queued: queue.length - head,
        idleRunners: idle.length
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        layout++
        for (const table of [statics, patterns]) {
          for (const entry of table.values()) {
            const waiters = Array.from(entry.waiters)
            entry.waiters.clear()
            for (const waiter of waiters) waiter.resume(Effect.interrupt)
          }
          table.clear()
        }
        queue.length = 0
        head = 0
        slots.clear()
      })
    )

    return { dispatch, event, signal, hasListeners, dispatchLocal, size } satisfies Registry
  })
