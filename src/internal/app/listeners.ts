import type * as Effect from "effect/Effect"
import type { ListenerKind } from "../../App.js"

export interface Listener {
  readonly kind: ListenerKind
  readonly effect: Effect.Effect<unknown, unknown>
  readonly priority: number
  readonly seq: number
}

export const startKinds: ReadonlySet<ListenerKind> = new Set([
  "main_process_start",
  "main_process_ready",
  "before_server_start",
  "after_server_start",
  "reload_process_start",
  "before_reload_trigger",
  "after_reload_trigger"
])

/** The built-in event each server phase dispatches after its listeners. */
export const eventOfKind: Partial<Record<ListenerKind, string>> = {
  before_server_start: "server.init.before",
  after_server_start: "server.init.after",
  before_server_stop: "server.shutdown.before",
  after_server_stop: "server.shutdown.after"
}

/** The lifecycle listeners of one app, in registration order. */
export interface Listeners {
  readonly add: (kind: ListenerKind, effect: Effect.Effect<unknown, unknown>, priority: number) => void
  /** Start kinds by priority, then registration order; stop kinds in the reverse of that. */
  readonly of: (kind: ListenerKind) => ReadonlyArray<Listener>
}

export const make = (): Listeners => {
  const listeners: Array<Listener> = []
  return {
    add: (kind, effect, priority) => {
      listeners.push({ kind, effect, priority, seq: listeners.length })
    },
    of: (kind) => {
      const selected = listeners
        .filter((l) => l.kind === kind)
        .sort((a, b) => (b.priority !== a.priority ? b.priority - a.priority : a.seq - b.seq))
      return startKinds.has(kind) ? selected : selected.reverse()
    }
  }
}
