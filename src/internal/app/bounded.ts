import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Runs `effect` and waits for it at most `duration` (on the Clock, so TestClock drives it), telling whether it ended
 * in time. Never waits past the bound, even from an uninterruptible region or for an effect that ignores
 * interruption: on time-out the effect is interrupted in the background.
 */
export const bounded = (effect: Effect.Effect<void>, duration: Duration.DurationInput): Effect.Effect<boolean> =>
  // The race runs apart from the caller, whose interruption would otherwise reach its fibers even in an
  // uninterruptible region; the effect runs apart from the race, so that losing it never waits for its end.
  Effect.disconnect(
    Effect.interruptible(Effect.disconnect(Effect.interruptible(effect))).pipe(
      Effect.timeoutTo({ duration, onSuccess: () => true, onTimeout: () => false })
    )
  )
