import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import { TaskTimeout } from "./errors.js"
import type { Policy } from "./policy.js"
import type { Runs } from "./record.js"

export interface RunnerOptions {
  readonly name: string | undefined
  readonly policy: Policy
  readonly runs: Runs
  readonly clock: Clock.Clock
  /** A run of a scheduled task failed: the schedule goes on, so this is the only word of it. */
  readonly onRunFailure: (run: number, cause: Cause.Cause<unknown>) => void
  /** A run of a cron task was still going when `ticks` more came due: they were skipped. */
  readonly onSkipped: (run: number, ticks: number) => void
  /** A run ended after `millis` (a run cut short by the task's end is told by the task's end instead). */
  readonly onRunEnd?: ((millis: number) => void) | undefined
  /** Wraps each attempt in its span, when a tracer is installed. */
  readonly traced?: Traced | undefined
}

/** Wraps one attempt of run `run` (both counted from 1) in a span. */
export type Traced = <A, E, R>(effect: Effect.Effect<A, E, R>, run: number, attempt: number) => Effect.Effect<A, E, R>

/** Most ticks counted as skipped after one run: a report of the count, not a walk through a long outage. */
const maxCountedTicks = 10_000

/** The task's effect under its policy: each run bounded and retried, and run again on its schedule. */
export const run = <A, E, R>(effect: Effect.Effect<A, E, R>, options: RunnerOptions): Effect.Effect<A, E, R> => {
  const { clock, policy, runs } = options
  const attempt = attemptOf(effect, options)
  const once: Effect.Effect<Exit.Exit<A, E>, never, R> = Effect.suspend(() => {
    runs.runs++
    runs.attempt = 0
    runs.nextRunAt = undefined
    const startedAt = clock.unsafeCurrentTimeMillis()
    runs.runningSince = startedAt
    return Effect.map(Effect.exit(attempt), (exit) => {
      const endedAt = clock.unsafeCurrentTimeMillis()
      runs.endRun(exit, endedAt)
      options.onRunEnd?.(endedAt - startedAt)
      return exit
    })
  })
  const timing = policy.timing
  if (timing === undefined) return Effect.flatten(once)

  /** A failed run is reported and the schedule goes on; an interrupted one ends the task. */
  const afterRun = (exit: Exit.Exit<A, E>): boolean => {
    if (exit._tag === "Success") return true
    if (Cause.isInterruptedOnly(exit.cause)) return false
    runs.reported = exit.cause
    options.onRunFailure(runs.runs, exit.cause)
    return true
  }

  if (timing._tag === "Schedule") {
    const schedule = timing.schedule
    let state = schedule.initial
    const loop: Effect.Effect<A, E, R> = Effect.flatMap(once, (exit) => {
      if (!afterRun(exit)) return exit
      const now = clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(schedule.step(now, exit, state), ([next, _, decision]) => {
        state = next
        if (ScheduleDecision.isDone(decision)) return exit
        const at = ScheduleIntervals.start(decision.intervals)
        if (at <= now) return loop
        runs.nextRunAt = at
        return Effect.zipRight(Effect.sleep(Duration.millis(at - now)), loop)
      })
    })
    return loop
  }

  const cron = timing.cron
  const waitAfter = (from: number): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const at = Cron.next(cron, new Date(from)).getTime()
      runs.nextRunAt = at
      return Effect.zipRight(
        Effect.sleep(Duration.millis(Math.max(0, at - clock.unsafeCurrentTimeMillis()))),
        runAt(at)
      )
    })
  const runAt = (at: number): Effect.Effect<A, E, R> =>
    Effect.flatMap(once, (exit) => {
      if (!afterRun(exit)) return exit
      const end = clock.unsafeCurrentTimeMillis()
      const skipped = ticksBetween(cron, at, end)
      if (skipped > 0) options.onSkipped(runs.runs, skipped)
      return waitAfter(end)
    })
  return Effect.suspend(() => waitAfter(clock.unsafeCurrentTimeMillis()))
}

/** One attempt bounded by the timeout, retried on failure (never on interruption) as the retry schedule says. */
const attemptOf = <A, E, R>(effect: Effect.Effect<A, E, R>, options: RunnerOptions): Effect.Effect<A, E, R> => {
  const { name, policy, runs } = options
  const timeout = policy.timeout
  const bounded =
    timeout === undefined
      ? effect
      : (Effect.timeoutFail(effect, {
          duration: timeout,
          onTimeout: () => new TaskTimeout({ name, timeout })
        }) as Effect.Effect<A, E, R>)
  const traced = options.traced
  const counted = Effect.suspend(() => {
    runs.attempt++
    return traced === undefined ? bounded : traced(bounded, runs.runs, runs.attempt)
  })
  const retry = policy.retry
  if (retry === undefined) return counted
  return Effect.unsandbox(
    Effect.retry(Effect.sandbox(counted), {
      schedule: retry,
      // A cause with an interruption in it (even beside a failure) is not retried.
      while: (cause: Cause.Cause<E>) => !Cause.isInterrupted(cause)
    })
  )
}

/** The ticks of `cron` after `from`, up to and including `to`. */
const ticksBetween = (cron: Cron.Cron, from: number, to: number): number => {
  let count = 0
  for (const tick of Cron.sequence(cron, new Date(from))) {
    if (tick.getTime() > to || count >= maxCountedTicks) break
    count++
  }
  return count
}
