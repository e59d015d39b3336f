import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { EventContext, Handler } from "../../Events.js"
import type { ParsedName } from "./names.js"

export type Condition = Readonly<Record<string, string>>

interface Subscriber {
  readonly name: ParsedName
  readonly condition: Condition | undefined
  readonly conditionSize: number
  readonly exclusive: boolean
  readonly entry: Entry
}

export interface HandlerRecord extends Subscriber {
  readonly handler: Handler<never>
  readonly context: Context.Context<never>
  readonly priority: number
  readonly seq: number
  removed: boolean
}

interface WaiterRecord extends Subscriber {
  readonly resume: (effect: Effect.Effect<EventContext>) => void
  /** A subscription (`events`): stays after a dispatch reaches it, until it is removed. */
  readonly keep: boolean
}

/** The waiters and handlers of one concrete name, or of the patterned names of one `a.b` group. */
export interface Entry {
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
  /** Waiters that stay after a dispatch reaches them: subscriptions. */
  keptWaiters: number
}

export const normalizeCondition = (condition: Record<string, string> | undefined): Condition | undefined => {
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

export const tailMatches = (name: ParsedName, tail: string): boolean => name.accepts === undefined || name.accepts(tail)

/** The context a waiter or handler on `name` gets: the dispatch's, with the dynamic part. */
export const contextFor = (name: ParsedName, context: EventContext, tail: string): EventContext =>
  name.param === undefined ? context : { [name.param]: name.convert!(tail), ...context }

const byPriority = (a: HandlerRecord, b: HandlerRecord): boolean =>
  a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq)

/** Merges two lists sorted by priority then registration order. */
export const merge = (
  a: ReadonlyArray<HandlerRecord>,
  b: ReadonlyArray<HandlerRecord>
): ReadonlyArray<HandlerRecord> => {
  const out: Array<HandlerRecord> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) out.push(byPriority(a[i], b[j]) ? a[i++] : b[j++])
  while (i < a.length) out.push(a[i++])
  while (j < b.length) out.push(b[j++])
  return out
}

/**
 * Who listens to what: entries for concrete names and for the patterned names of each group. `layout` changes
 * whenever an entry is added or removed, so a lookup cached with it is current while it is unchanged. `listening`
 * changes with `layout` and whenever a patterned entry gains or loses a member: `hasListeners` cannot change its
 * answer while it is unchanged.
 */
export class Table {
  readonly statics = new Map<string, Entry>()
  readonly patterns = new Map<string, Entry>()
  layout = 0
  listening = 0
  closed = false
  private seq = 0

  entryFor(name: ParsedName): Entry {
    const pattern = name.kind !== "static"
    const table = pattern ? this.patterns : this.statics
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
        strictWaiters: 0,
        keptWaiters: 0
      }
      table.set(key, entry)
      this.layout++
      this.listening++
    }
    return entry
  }

  prune(entry: Entry): void {
    if (entry.handlers.length > 0 || entry.waiters.size > 0) return
    const table = entry.pattern ? this.patterns : this.statics
    if (table.get(entry.key) === entry) {
      table.delete(entry.key)
      this.layout++
      this.listening++
    }
  }

  private dropWaiter(waiter: WaiterRecord): boolean {
    const entry = waiter.entry
    if (!entry.waiters.delete(waiter)) return false
    if (entry.pattern) this.listening++
    if (waiter.keep) entry.keptWaiters--
    if (waiter.condition !== undefined) {
      entry.conditionedWaiters--
      if (waiter.exclusive) entry.strictWaiters--
    }
    return true
  }

  /** Wakes the waiters of `entry` that the dispatch reaches. */
  wake(
    entry: Entry,
    tail: string,
    condition: Condition | undefined,
    keys: ReadonlyArray<string>,
    context: EventContext
  ): void {
    const waiters = entry.waiters
    if (condition === undefined && !entry.pattern && entry.strictWaiters === 0) {
      const exit = Exit.succeed(context)
      for (const waiter of waiters) waiter.resume(exit)
      if (entry.keptWaiters === 0) {
        waiters.clear()
        entry.conditionedWaiters = 0
      } else {
        for (const waiter of waiters) if (!waiter.keep) this.dropWaiter(waiter)
      }
      return
    }
    if (condition !== undefined && entry.conditionedWaiters === 0) return
    let shared: Exit.Exit<EventContext> | undefined
    for (const waiter of waiters) {
      if (!reaches(waiter, condition, keys) || (entry.pattern && !tailMatches(waiter.name, tail))) continue
      if (!waiter.keep) this.dropWaiter(waiter)
      waiter.resume(
        waiter.name.param === undefined
          ? (shared ??= Exit.succeed(context))
          : Exit.succeed(contextFor(waiter.name, context, tail))
      )
    }
  }

  /** Waits for the next dispatch that reaches a waiter on `name`; interrupting it removes the waiter. */
  wait(name: ParsedName, condition: Condition | undefined, exclusive: boolean): Effect.Effect<EventContext> {
    return Effect.async<EventContext>((resume) => {
      if (this.closed) return resume(Effect.interrupt)
      const remove = this.addWaiter(name, condition, exclusive, resume, false)
      return Effect.sync(remove)
    })
  }

  /**
   * Hands every dispatch that reaches `name` to `deliver`, synchronously and in dispatch order, until the returned
   * function removes the subscription. `deliver` gets an interruption when the table closes.
   */
  subscribe(
    name: ParsedName,
    condition: Condition | undefined,
    exclusive: boolean,
    deliver: (effect: Effect.Effect<EventContext>) => void
  ): () => void {
    if (this.closed) {
      deliver(Effect.interrupt)
      return () => {}
    }
    return this.addWaiter(name, condition, exclusive, deliver, true)
  }

  private addWaiter(
    name: ParsedName,
    condition: Condition | undefined,
    exclusive: boolean,
    resume: (effect: Effect.Effect<EventContext>) => void,
    keep: boolean
  ): () => void {
    const entry = this.entryFor(name)
    const waiter: WaiterRecord = {
      name,
      condition,
      conditionSize: condition === undefined ? 0 : Object.keys(condition).length,
      exclusive,
      entry,
      resume,
      keep
    }
    entry.waiters.add(waiter)
    if (entry.pattern) this.listening++
    if (keep) entry.keptWaiters++
    if (condition !== undefined) {
      entry.conditionedWaiters++
      if (exclusive) entry.strictWaiters++
    }
    return () => {
      if (this.dropWaiter(waiter)) this.prune(entry)
    }
  }

  /** The handlers of `entry` that the dispatch reaches, in order. */
  select(
    entry: Entry | undefined,
    tail: string,
    condition: Condition | undefined,
    keys: ReadonlyArray<string>
  ): ReadonlyArray<HandlerRecord> | undefined {
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

  /** Adds a handler; the effect removes it. */
  register(
    name: ParsedName,
    handler: Handler<never>,
    context: Context.Context<never>,
    condition: Condition | undefined,
    exclusive: boolean,
    priority: number
  ): Effect.Effect<void> {
    const entry = this.entryFor(name)
    const record: HandlerRecord = {
      name,
      condition,
      conditionSize: condition === undefined ? 0 : Object.keys(condition).length,
      exclusive,
      entry,
      handler,
      context,
      priority,
      seq: this.seq++,
      removed: false
    }
    const handlers = entry.handlers
    let at = handlers.length
    while (at > 0 && handlers[at - 1].priority < record.priority) at--
    entry.handlers = [...handlers.slice(0, at), record, ...handlers.slice(at)]
    if (entry.pattern) this.listening++
    if (condition !== undefined) {
      entry.conditionedHandlers++
      if (exclusive) entry.strictHandlers++
    }
    return Effect.sync(() => {
      if (record.removed) return
      record.removed = true
      entry.handlers = entry.handlers.filter((other) => other !== record)
      if (entry.pattern) this.listening++
      if (condition !== undefined) {
        entry.conditionedHandlers--
        if (exclusive) entry.strictHandlers--
      }
      this.prune(entry)
    })
  }

  /** Whether some handler or waiter could match the concrete `name`. */
  hasListeners(name: ParsedName): boolean {
    if (this.statics.has(name.name)) return true
    const group = this.patterns.get(name.group)
    if (group === undefined) return false
    for (const handler of group.handlers) if (tailMatches(handler.name, name.tail)) return true
    for (const waiter of group.waiters) if (tailMatches(waiter.name, name.tail)) return true
    return false
  }

  /** Interrupts the waiters still waiting and forgets everyone. */
  close(): void {
    this.closed = true
    this.layout++
    this.listening++
    for (const table of [this.statics, this.patterns]) {
      for (const entry of table.values()) {
        const waiters = Array.from(entry.waiters)
        entry.waiters.clear()
        for (const waiter of waiters) waiter.resume(Effect.interrupt)
      }
      table.clear()
    }
  }
}
