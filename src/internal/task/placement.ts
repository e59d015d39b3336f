import * as Effect from "effect/Effect"

/**
 * Decides which process runs each `one-worker` task: the seam where a machine's workers (and, later, a fleet's
 * machines) agree that exactly one of them runs it.
 */
export interface Placement {
  /** The worker this process is, for the task's record; `undefined` when it serves alone. */
  readonly worker: string | undefined
  /** Waits until this process may run the task: `false` when the task is over (it ended on another process). */
  readonly claim: (name: string) => Effect.Effect<boolean>
  /** The task stopped running here: `ended` when it is over for good (it ended by itself, or was cancelled). */
  readonly release: (name: string, ended: boolean) => Effect.Effect<void>
}

/** A process on its own runs every task it adds. */
export const alone: Placement = {
  worker: undefined,
  claim: () => Effect.succeed(true),
  release: () => Effect.void
}
