import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { AddTaskOptions } from "../../App.js"
import type { Placement } from "../../Task.js"
import { decodeNonNegative } from "../duration.js"
import { InvalidTaskOptions, type InvalidTaskOptionsReason } from "./errors.js"

/** When a scheduled task runs: as a `Schedule` decides after each run, or at each time a cron matches. */
export type Timing =
  | { readonly _tag: "Schedule"; readonly schedule: Schedule.Schedule<unknown, any> }
  | { readonly _tag: "Cron"; readonly cron: Cron.Cron }

/** The policy of a task, checked: what `addTask`'s options ask beyond a name. */
export interface Policy {
  readonly timing: Timing | undefined
  readonly retry: Schedule.Schedule<unknown, any> | undefined
  readonly timeout: Duration.Duration | undefined
  readonly placement: Placement
}

const noPolicy: Either.Either<undefined, never> = Either.right(undefined)

/** `undefined` when the options ask for no policy: a plain task pays nothing for policies. */
export const decode = (
  name: string | undefined,
  options: AddTaskOptions<any, any> | undefined
): Either.Either<Policy | undefined, InvalidTaskOptions> => {
  if (
    options === undefined ||
    (options.schedule === undefined &&
      options.retry === undefined &&
      options.timeout === undefined &&
      options.placement === undefined &&
      options.timeZone === undefined)
  ) {
    return noPolicy
  }
  const refuse = (reason: InvalidTaskOptionsReason, value: unknown, detail: string) =>
    Either.left(new InvalidTaskOptions({ name, reason, value, detail }))

  let timing: Timing | undefined
  const { schedule, timeZone } = options
  if (timeZone !== undefined && typeof schedule !== "string") {
    return refuse("timeZone", timeZone, "a time zone applies to a cron string given as `schedule` only")
  }
  if (timeZone !== undefined && typeof timeZone !== "string") {
    return refuse("timeZone", timeZone, `expected an IANA time zone name such as "Europe/Paris"`)
  }
  if (typeof schedule === "string") {
    const parsed = Cron.parse(schedule, timeZone)
    if (Either.isLeft(parsed)) {
      const input = parsed.left.input === undefined ? "" : ` (at "${parsed.left.input}")`
      return refuse(
        timeZone !== undefined && parsed.left.input === timeZone ? "timeZone" : "schedule",
        schedule,
        `${parsed.left.message}${input}`
      )
    }
    timing = { _tag: "Cron", cron: parsed.right }
  } else if (Cron.isCron(schedule)) {
    timing = { _tag: "Cron", cron: schedule }
  } else if (Schedule.isSchedule(schedule)) {
    timing = { _tag: "Schedule", schedule: schedule as Schedule.Schedule<unknown, any> }
  } else if (schedule !== undefined) {
    return refuse("schedule", schedule, 'expected a Schedule, a Cron or a cron string such as "*/5 * * * *"')
  }
  if (timing?._tag === "Cron") {
    // A cron that parses may still never match ("0 0 30 2 *"): effect's Cron throws when asked for its next time.
    try {
      Cron.next(timing.cron)
    } catch (error) {
      const words = error instanceof Error ? error.message : String(error)
      return refuse("schedule", schedule, `the cron never matches a date (${words})`)
    }
  }

  const { retry } = options
  if (retry !== undefined && !Schedule.isSchedule(retry)) {
    return refuse("retry", retry, 'expected a Schedule, such as Schedule.exponential("1 second")')
  }

  let timeout: Duration.Duration | undefined
  if (options.timeout !== undefined) {
    const decoded = decodeNonNegative(options.timeout)
    if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.isZero(decoded.value)) {
      return refuse(
        "timeout",
        options.timeout,
        `expected a positive, finite duration such as "30 seconds" or 30000 (milliseconds)`
      )
    }
    timeout = decoded.value
  }

  const placement = options.placement ?? "every-worker"
  if (placement !== "every-worker" && placement !== "one-worker" && placement !== "one-in-fleet") {
    return refuse("placement", placement, `expected "every-worker", "one-worker" or "one-in-fleet"`)
  }
  if (placement !== "every-worker" && (name === undefined || options.register === false)) {
    return refuse(
      "placement",
      placement,
      `a ${placement} task needs a name, and to be registered, so that workers agree on it`
    )
  }

  return Either.right({ timing, retry: retry as Schedule.Schedule<unknown, any> | undefined, timeout, placement })
}
