import type * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import type { WorkerExit } from "../../Workers.js"

export const defaultRestartSchedule: Schedule.Schedule<unknown, WorkerExit> = Schedule.exponential("250 millis").pipe(
  Schedule.union(Schedule.spaced("10 seconds")),
  Schedule.intersect(Schedule.recurs(5))
)

export const defaultStartTimeout: Duration.DurationInput = "30 seconds"
