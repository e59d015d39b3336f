import type { Effect } from "effect"
import { GlobalValue } from "effect"
import type { DispatchOptions } from "../../Events.js"
import type { Supervisor } from "../../Workers.js"

/** The environment variable that names a worker process; the primary sets it when it forks one. */
export const workerEnv = "FIBERAPP_WORKER"

/** Sends a dispatch made with `scope: "all"` on, out of this process. */
export type Publisher = (app: string, event: string, options: DispatchOptions) => Effect.Effect<void>

/** What this process is in a group of workers. One per process: workers are processes. */
export interface ProcessState {
  /** The shared values, encoded with their schemas. */
  readonly shared: Map<string, unknown>
  /** In a worker: the values came from the primary and cannot change. */
  sharedReadOnly: boolean
  /** In the primary: the workers have the values; setting more would reach only some of them. */
  sharedSealed: boolean
  publisher: Publisher | undefined
  supervisor: Supervisor | undefined
  /** In a worker: after its server stops listening, waits until the primary has seen it (bounded). */
  listenerClosed: Effect.Effect<void> | undefined
}

export const state: ProcessState = GlobalValue.globalValue(Symbol.for("fiberapp/Workers/state"), () => ({
  shared: new Map<string, unknown>(),
  sharedReadOnly: false,
  sharedSealed: false,
  publisher: undefined,
  supervisor: undefined,
  listenerClosed: undefined
}))

export const workerName = (): string | undefined => {
  const name = process.env[workerEnv]
  return name !== undefined && name !== "" && typeof process.send === "function" ? name : undefined
}
