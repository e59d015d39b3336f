import type { Proc } from "./slots.js"

/**
 * The primary's side of `one-worker` tasks: every worker that adds one holds a copy that waits; the primary grants
 * it to one of them (the lowest-numbered serving) and to another only once that one has released it or exited, so
 * that it never runs on two at once. A task that ended there for good (by itself, or cancelled) is over for the
 * machine: the waiting copies end, and copies added later end at once.
 */
export interface Placements {
  /** `proc` has a copy of the task waiting. */
  readonly hold: (proc: Proc, name: string) => void
  /** The task stopped on `proc`; `ended` when it is over for good. */
  readonly release: (proc: Proc, name: string, ended: boolean) => void
  /** `proc` exited: its copies are gone, and the tasks it ran go to others. */
  readonly gone: (proc: Proc) => void
  /** A process may have become eligible: place the tasks that have no host. */
  readonly rebalance: () => void
}

export interface PlacementsOptions {
  /** Whether `proc` may be given a task now: serving, current for its slot, not on its way out. */
  readonly eligible: (proc: Proc) => boolean
  /** Tells `proc` to run its copy (`run`), or to end it as the task is over (`!run`). */
  readonly grant: (proc: Proc, name: string, run: boolean) => void
  /** Says where a task went, for the logs. */
  readonly placed: (proc: Proc, name: string) => void
}

interface Entry {
  readonly holders: Set<Proc>
  host: Proc | undefined
  finished: boolean
}

export const make = ({ eligible, grant, placed }: PlacementsOptions): Placements => {
  const entries = new Map<string, Entry>()

  const entryOf = (name: string): Entry => {
    let entry = entries.get(name)
    if (entry === undefined) {
      entry = { holders: new Set(), host: undefined, finished: false }
      entries.set(name, entry)
    }
    return entry
  }

  const assign = (name: string, entry: Entry): void => {
    if (entry.finished || entry.host !== undefined) return
    let chosen: Proc | undefined
    for (const proc of entry.holders) {
      if (eligible(proc) && (chosen === undefined || proc.slot.index < chosen.slot.index)) chosen = proc
    }
    if (chosen === undefined) return
    entry.host = chosen
    grant(chosen, name, true)
    placed(chosen, name)
  }

  const hold = (proc: Proc, name: string): void => {
    const entry = entryOf(name)
    if (entry.finished) {
      grant(proc, name, false)
      return
    }
    entry.holders.add(proc)
    assign(name, entry)
  }

  const release = (proc: Proc, name: string, ended: boolean): void => {
    const entry = entries.get(name)
    if (entry === undefined) return
    entry.holders.delete(proc)
    if (entry.host !== proc) return
    entry.host = undefined
    if (!ended) {
      assign(name, entry)
      return
    }
    entry.finished = true
    for (const holder of entry.holders) grant(holder, name, false)
    entry.holders.clear()
  }

  const gone = (proc: Proc): void => {
    for (const [name, entry] of entries) {
      entry.holders.delete(proc)
      if (entry.host === proc) {
        entry.host = undefined
        assign(name, entry)
      }
    }
  }

  const rebalance = (): void => {
    for (const [name, entry] of entries) assign(name, entry)
  }

  return { hold, release, gone, rebalance }
}
