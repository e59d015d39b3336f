import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { WorkerExit } from "../../Workers.js"
import { WorkersError } from "./errors.js"
import { describeExit, kill } from "./process.js"
import type { Proc, Slot } from "./slots.js"

export interface StartingOptions {
  /** Forks a process for the slot; `replacing` leaves the slot's current process in place (zero downtime). */
  readonly spawn: (slot: Slot, replacing: boolean) => Proc
  readonly startTimeout: Duration.Duration
  /** Whether the primary is stopping: then nothing is started again. */
  readonly stopping: () => boolean
}

/** Starting a slot's process and starting it again after failures, with the slot's restart schedule. */
export const make = ({ spawn, startTimeout, stopping }: StartingOptions) => {
  /** Starts one process for the slot and waits for its acknowledgement; fails with how it ended otherwise. */
  const startOnce = (slot: Slot, replacing = false): Effect.Effect<Proc, WorkerExit> =>
    Effect.suspend(() => {
      const proc = spawn(slot, replacing)
      return Effect.raceAll([
        Effect.as(Deferred.await(proc.acked), true),
        Effect.as(Deferred.await(proc.exited), false),
        Effect.as(Effect.sleep(startTimeout), false)
      ]).pipe(
        Effect.flatMap((acked) => {
          if (acked) {
            if (replacing) return Effect.succeed(proc)
            slot.state = "serving"
            return Effect.succeed(proc)
          }
          const timedOut = !proc.worker.isDead()
          return Effect.gen(function* () {
            if (timedOut) {
              yield* Effect.logError(
                `Worker ${slot.name} (pid ${proc.pid}) did not acknowledge its start within ` +
                  `${Duration.format(startTimeout)}; killing it`
              )
              yield* kill(proc)
            }
            const exit = yield* Deferred.await(proc.exited)
            if (!replacing) slot.lastExit = exit
            return yield* Effect.fail(exit)
          })
        }),
        Effect.onInterrupt(() => kill(proc))
      )
    })

  const giveUp = (slot: Slot, exit: WorkerExit) =>
    Effect.suspend(() => {
      slot.state = "failed"
      const error = new WorkersError({
        reason: "StartFailed",
        detail:
          `Worker ${slot.name} failed to start (last: ${describeExit(exit)}); ` +
          `gave up after ${slot.starts} attempt${slot.starts === 1 ? "" : "s"}.`
      })
      return Effect.logError(error.detail).pipe(Effect.zipRight(Effect.fail(error)))
    })

  /** Waits for the schedule's next delay after `exit`, or gives the slot up when the schedule is done. */
  const backoff = (slot: Slot, exit: WorkerExit): Effect.Effect<void, WorkersError> =>
    Effect.suspend(() => {
      slot.state = "restarting"
      return slot.driver.next(exit).pipe(
        Effect.asVoid,
        Effect.catchAll(() => giveUp(slot, exit))
      )
    })

  /** Starts the slot until a process acknowledges, with backoff between failures. */
  const keepStarting = (slot: Slot): Effect.Effect<void, WorkersError> =>
    startOnce(slot).pipe(
      Effect.asVoid,
      Effect.catchAll((exit) => Effect.zipRight(backoff(slot, exit), keepStarting(slot)))
    )

  const ensureServing = (slot: Slot): Effect.Effect<void, WorkersError> =>
    Effect.suspend(() => (slot.removed || stopping() || slot.current !== undefined ? Effect.void : keepStarting(slot)))

  /** After a crash: back off, then start again until a process acknowledges (or the schedule gives up). */
  const recover = (slot: Slot, exit: WorkerExit): Effect.Effect<void, WorkersError> =>
    Effect.suspend(() =>
      slot.removed || stopping() || slot.current !== undefined
        ? Effect.void
        : Effect.zipRight(backoff(slot, exit), ensureServing(slot))
    )

  return { startOnce, ensureServing, recover }
}
