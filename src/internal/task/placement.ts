import * as Effect from "effect/Effect"

/**
 * Decides which process runs each `one-worker` task: the seam where a machine's workers (and, later, a fleet's
 * machines) agree that exactly one of them runs it.
 */
export interface Placement {
  /** The worker this process is, for the task's record; `undefined` when it serves alone. */
  readonly worker: string | undefined
  /**
   * Waits until this process may run the task's copy `claim` (an id unique in this process): `false` when the task
   * is over (it ended on another process), and this copy ends.
   */
  readonly claim: (name: string, claim: number) => Effect.Effect<boolean>
  /**
   * The copy `claim` stopped running here, or stopped waiting: `ended` when the task is over for good (it ended by
   * itself, or was cancelled).
   */
  readonly release: (name: string, claim: number, ended: boolean, status?: EndStatus) => Effect.Effect<void>
  /**
   * Completes when this process loses the grant of copy `claim` while it runs: `true` when the task is over (ended
   * elsewhere), `false` when it moved (the copy stops, then waits for its next grant). Absent where grants are never
   * taken back.
   */
  readonly withdrawn?: ((name: string, claim: number) => Effect.Effect<boolean>) | undefined
}

/** How a copy ended, when it ended the task. */
export type EndStatus = "completed" | "failed" | "cancelled"

/** A process on its own runs every task it adds. */
export const alone: Placement = {
  worker: undefined,
  claim: () => Effect.succeed(true),
  release: () => Effect.void
}
