import type { Proc } from "./slots.js"

/**
 * The primary's side of `one-worker` tasks. Every worker that adds one holds a copy that waits, known by its claim
 * (an id the worker gives each copy). The primary grants the task to one copy, on the lowest-numbered serving worker,
 * and to another only once that copy has released it or its process has exited, so that it never runs twice at once;
 * a grant or a release names its claim, so a message about an old copy never moves a newer one. A task that ended for
 * good (by itself, or cancelled on any copy) ends its waiting copies and is forgotten: a copy added later starts it
 * afresh, as a re-add does in a process serving alone.
 */
export interface Placements {
  /** `proc` has a copy of the task waiting, under `claim`. */
  readonly hold: (proc: Proc, name: string, claim: number) => void
  /** The copy `claim` on `proc` stopped (or stopped waiting); `ended` when the task is over for good. */
  readonly release: (proc: Proc, name: string, claim: number, ended: boolean) => void
  /** `proc` exited: its copies are gone, and the tasks it ran go to others. */
  readonly gone: (proc: Proc) => void
  /** A process may have become eligible: place the tasks that have no host. */
  readonly rebalance: () => void
  /** How many tasks the primary keeps track of, for tests. */
  readonly size: () => number
}

export interface PlacementsOptions {
  /** Whether `proc` may be given a task now: serving, current for its slot, not on its way out. */
  readonly eligible: (proc: Proc) => boolean
  /** Tells `proc` to run its copy `claim` (`run`), or to end it as the task is over (`!run`). */
  readonly grant: (proc: Proc, name: string, claim: number, run: boolean) => void
  /** Asks `proc` to cancel its running copy: the task was cancelled on another copy. */
  readonly cancel: (proc: Proc, name: string) => void
  /** Says where a task went, for the logs. */
  readonly placed: (proc: Proc, name: string) => void
}

interface Host {
  readonly proc: Proc
  readonly claim: number
}

interface Entry {
  /** The copy waiting on each process (the latest it announced). */
  readonly holders: Map<Proc, number>
  host: Host | undefined
  /** Cancelled on a waiting copy: the host is being cancelled, and nothing is granted until it has stopped. */
  cancelling: boolean
}

export const make = ({ cancel, eligible, grant, placed }: PlacementsOptions): Placements => {
  const entries = new Map<string, Entry>()

  const forgetIfIdle = (name: string, entry: Entry): void => {
    if (entry.host === undefined && entry.holders.size === 0) entries.delete(name)
  }

  const assign = (name: string, entry: Entry): void => {
    if (entry.host !== undefined || entry.cancelling) return
    let chosen: Proc | undefined
    for (const proc of entry.holders.keys()) {
      if (eligible(proc) && (chosen === undefined || proc.slot.index < chosen.slot.index)) chosen = proc
    }
    if (chosen === undefined) return
    const claim = entry.holders.get(chosen)!
    entry.holders.delete(chosen)
    entry.host = { proc: chosen, claim }
    grant(chosen, name, claim, true)
    placed(chosen, name)
  }

  const hold = (proc: Proc, name: string, claim: number): void => {
    let entry = entries.get(name)
    if (entry === undefined) {
      entry = { holders: new Map(), host: undefined, cancelling: false }
      entries.set(name, entry)
    }
    if (entry.host?.proc === proc && entry.host.claim === claim) return
    entry.holders.set(proc, claim)
    assign(name, entry)
  }

  /**
   * Over for good: the waiting copies end and the task is forgotten, once a host elsewhere (cancelled now) has
   * stopped: a copy added meanwhile waits for that, so that two never run at once.
   */
  const finish = (name: string, entry: Entry): void => {
    for (const [holder, claim] of entry.holders) grant(holder, name, claim, false)
    entry.holders.clear()
    if (entry.host === undefined) {
      entries.delete(name)
      return
    }
    entry.cancelling = true
    cancel(entry.host.proc, name)
  }

  /** The host stopped (released, or its process exited): what was held back may go on. */
  const hostStopped = (name: string, entry: Entry): void => {
    entry.host = undefined
    entry.cancelling = false
    assign(name, entry)
    forgetIfIdle(name, entry)
  }

  const release = (proc: Proc, name: string, claim: number, ended: boolean): void => {
    const entry = entries.get(name)
    if (entry === undefined) return
    const wasHost = entry.host !== undefined && entry.host.proc === proc && entry.host.claim === claim
    const wasHolder = entry.holders.get(proc) === claim
    if (!wasHost && !wasHolder) return
    if (wasHost && entry.cancelling) {
      hostStopped(name, entry)
      return
    }
    if (wasHost) entry.host = undefined
    if (wasHolder) entry.holders.delete(proc)
    if (ended) {
      finish(name, entry)
      return
    }
    assign(name, entry)
    forgetIfIdle(name, entry)
  }

  const gone = (proc: Proc): void => {
    for (const [name, entry] of entries) {
      entry.holders.delete(proc)
      if (entry.host?.proc === proc) hostStopped(name, entry)
      else forgetIfIdle(name, entry)
    }
  }

  const rebalance = (): void => {
    for (const [name, entry] of entries) assign(name, entry)
  }

  return { hold, release, gone, rebalance, size: () => entries.size }
}
