import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Cron,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Logger,
  Option,
  Ref,
  Schedule,
  TestClock
} from "effect"
import * as App from "../src/App.js"
import type * as Events from "../src/Events.js"
import * as Task from "../src/Task.js"
import { untilSleeping } from "./utils.js"

const started = Effect.tap(App.make({ name: "policies" }), (app) => app.start)

/** Counts the runs of a task and the times they started at, on the TestClock. */
const counted = Effect.gen(function* () {
  const starts = yield* Ref.make<ReadonlyArray<number>>([])
  const run = Effect.flatMap(
    Effect.clockWith((clock) => clock.currentTimeMillis),
    (now) => Ref.update(starts, (all) => [...all, now])
  )
  return { starts, run }
})

/** Collects what `server.exception.report` carries. */
const reports = (app: App.AppService) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<Events.EventContext>>([])
    yield* app.signal("server.exception.report", (context) => Ref.update(seen, (all) => [...all, context]))
    return seen
  })

const minute = 60_000

describe("schedules", () => {
  it.scoped("with a Schedule the first run starts at once and the next ones follow it", () =>
    Effect.gen(function* () {
      const app = yield* started
      const { run, starts } = yield* counted
      const task = yield* app.addTask(run, { name: "spaced", schedule: Schedule.spaced("1 minute") })
      yield* untilSleeping(1)
      assert.deepStrictEqual(yield* Ref.get(starts), [0])
      assert.deepStrictEqual(task.nextRunAt, Option.some(minute))
      assert.strictEqual(yield* task.status, "running")
      yield* TestClock.adjust("10 minutes")
      yield* untilSleeping(1)
      assert.deepStrictEqual(
        yield* Ref.get(starts),
        Array.from({ length: 11 }, (_, i) => i * minute)
      )
      assert.strictEqual(task.runs, 11)
      assert.strictEqual(task.failures, 0)
      assert.deepStrictEqual(
        task.lastRun,
        Option.some({ startedAt: 10 * minute, endedAt: 10 * minute, outcome: "succeeded" as const })
      )
      assert.deepStrictEqual(task.nextRunAt, Option.some(11 * minute))
    })
  )

  it.scoped("the next run is decided when a run ends, as Effect.repeat does: runs never overlap", () =>
    Effect.gen(function* () {
      const app = yield* started
      const { run, starts } = yield* counted
      yield* app.addTask(Effect.zipRight(run, Effect.sleep("90 seconds")), {
        name: "slow",
        schedule: Schedule.spaced("1 minute")
      })
      yield* untilSleeping(1)
      yield* TestClock.adjust("6 minutes")
      // each run takes 1.5 minutes and is followed by a minute's pause
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 2.5 * minute, 5 * minute])
    })
  )

  it.scoped("a task ends when its schedule does, with the last run's exit, and can then be purged", () =>
    Effect.gen(function* () {
      const app = yield* started
      const count = yield* Ref.make(0)
      const task = yield* app.addTask(
        Ref.updateAndGet(count, (n) => n + 1),
        {
          name: "thrice",
          schedule: Schedule.recurs(2).pipe(Schedule.addDelay(() => "1 second"))
        }
      )
      yield* untilSleeping(1)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* task.await, Exit.succeed(3))
      assert.strictEqual(task.runs, 3)
      assert.deepStrictEqual(task.nextRunAt, Option.none())
      assert.strictEqual(yield* app.purgeTasks, 1)
      assert.deepStrictEqual(yield* app.tasks, [])
    })
  )

  it.scoped("a failed run is reported with the task and the run, and the schedule goes on", () =>
    Effect.gen(function* () {
      const app = yield* started
      const seen = yield* reports(app)
      const count = yield* Ref.make(0)
      const task = yield* app.addTask(
        Effect.flatMap(
          Ref.updateAndGet(count, (n) => n + 1),
          (n) => (n % 2 === 1 ? Effect.fail(`odd ${n}`) : Effect.void)
        ),
        { name: "flaky", schedule: Schedule.spaced("1 second") }
      )
      yield* untilSleeping(1)
      yield* TestClock.adjust("3 seconds")
      yield* untilSleeping(1)
      assert.strictEqual(task.runs, 4)
      assert.strictEqual(task.failures, 2)
      assert.strictEqual(yield* task.status, "running")
      const contexts = yield* Ref.get(seen)
      assert.deepStrictEqual(
        contexts.map((context) => [context.task, context.run]),
        [
          ["flaky", 1],
          ["flaky", 3]
        ]
      )
      assert.deepStrictEqual(Cause.failureOption(contexts[1]!.cause as Cause.Cause<string>), Option.some("odd 3"))
      assert.deepStrictEqual(task.lastRun.pipe(Option.map((run) => run.outcome)), Option.some("succeeded" as const))
    })
  )
  it.scoped("a scheduled task that dies outside a run (its schedule dies) is still reported", () =>
    Effect.gen(function* () {
      const app = yield* started
      const seen = yield* reports(app)
      const task = yield* app.addTask(Effect.void, {
        name: "broken-schedule",
        schedule: Schedule.recurWhileEffect(() => Effect.dieMessage("schedule broke"))
      })
      const exit = yield* task.await
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(
        (yield* Ref.get(seen)).map((context) => [context.task, context.run]),
        [["broken-schedule", undefined]]
      )
    })
  )
})

describe("cron", () => {
  it.scoped("a 5-minute cron over an hour is 12 runs, at the matching times", () =>
    Effect.gen(function* () {
      const app = yield* started
      const { run, starts } = yield* counted
      const task = yield* app.addTask(run, { name: "cron", schedule: "*/5 * * * *" })
      yield* untilSleeping(1)
      assert.deepStrictEqual(yield* Ref.get(starts), [])
      assert.deepStrictEqual(task.nextRunAt, Option.some(5 * minute))
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(
        yield* Ref.get(starts),
        Array.from({ length: 12 }, (_, i) => (i + 1) * 5 * minute)
      )
      assert.strictEqual(task.runs, 12)
    })
  )

  it.scoped("as the README shows it: no wait needed before adjusting the clock", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "test" })
      yield* app.start
      const task = yield* app.addTask(Effect.void, { name: "cron", schedule: "*/5 * * * *" })
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(task.runs, 12)
    })
  )

  it.scoped("a cron string in a time zone runs at its local time, across a month boundary", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 0, 31, 12))
      const app = yield* started
      const { run, starts } = yield* counted
      // 09:00 in Paris on the first of each month: 08:00 UTC in winter
      const task = yield* app.addTask(run, { name: "monthly", schedule: "0 9 1 * *", timeZone: "Europe/Paris" })
      yield* untilSleeping(1)
      const first = Date.UTC(2026, 1, 1, 8)
      assert.deepStrictEqual(task.nextRunAt, Option.some(first))
      yield* TestClock.adjust(Duration.millis(first - Date.UTC(2026, 0, 31, 12)))
      yield* untilSleeping(1)
      assert.deepStrictEqual(yield* Ref.get(starts), [first])
      // 1 March is still winter time in Paris
      assert.deepStrictEqual(task.nextRunAt, Option.some(Date.UTC(2026, 2, 1, 8)))
    })
  )

  it.scoped("a Cron value is accepted as it is", () =>
    Effect.gen(function* () {
      const app = yield* started
      const { run, starts } = yield* counted
      yield* app.addTask(run, { name: "hourly", schedule: Cron.unsafeParse("0 * * * *") })
      yield* untilSleeping(1)
      yield* TestClock.adjust("3 hours")
      assert.deepStrictEqual(yield* Ref.get(starts), [60 * minute, 120 * minute, 180 * minute])
    })
  )

  it.scoped("a run still going when the next tick is due is not overlapped: the ticks are skipped, logged once", () =>
    Effect.gen(function* () {
      const logs = yield* Ref.make<ReadonlyArray<string>>([])
      const logger = Logger.make(({ message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        Effect.runSync(Ref.update(logs, (all) => [...all, text]))
      })
      const app = yield* started.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      const { run, starts } = yield* counted
      const task = yield* app.addTask(Effect.zipRight(run, Effect.sleep("150 seconds")), {
        name: "every-minute",
        schedule: "* * * * *"
      })
      yield* untilSleeping(1)
      yield* TestClock.adjust("5 minutes")
      // 1:00 runs until 3:30, so 2:00 and 3:00 are skipped; 4:00 runs
      assert.deepStrictEqual(yield* Ref.get(starts), [minute, 4 * minute])
      const skipped = (yield* Ref.get(logs)).filter((line) => line.includes("skipped"))
      assert.deepStrictEqual(skipped, [
        `Task "every-minute" run 1 was still going at 2 later ticks of its cron; they were skipped`
      ])
      assert.strictEqual(task.runs, 2)
    })
  )
})

describe("retries and timeouts", () => {
  it.scoped("a failing task is retried as the schedule says, then succeeds", () =>
    Effect.gen(function* () {
      const app = yield* started
      const count = yield* Ref.make(0)
      const task = yield* app.addTask(
        Effect.flatMap(
          Ref.updateAndGet(count, (n) => n + 1),
          (n) => (n < 3 ? Effect.fail("not yet") : Effect.succeed(n))
        ),
        { name: "retried", retry: Schedule.spaced("1 second") }
      )
      yield* untilSleeping(1)
      assert.strictEqual(task.attempt, 1)
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* task.await, Exit.succeed(3))
      assert.strictEqual(task.attempt, 3)
      assert.strictEqual(task.runs, 1)
      assert.strictEqual(task.failures, 0)
    })
  )

  it.scoped("when retries are exhausted the run fails with the last cause, reported once", () =>
    Effect.gen(function* () {
      const app = yield* started
      const seen = yield* reports(app)
      const count = yield* Ref.make(0)
      const task = yield* app.addTask(
        Effect.flatMap(
          Ref.updateAndGet(count, (n) => n + 1),
          (n) => Effect.fail(`attempt ${n}`)
        ),
        { name: "hopeless", retry: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(2))) }
      )
      yield* untilSleeping(1)
      yield* TestClock.adjust("1 second")
      yield* untilSleeping(1)
      yield* TestClock.adjust("2 seconds")
      const exit = yield* task.await
      assert.deepStrictEqual(exit, Exit.fail("attempt 3"))
      assert.strictEqual(task.attempt, 3)
      assert.strictEqual(task.failures, 1)
      yield* Effect.yieldNow()
      assert.deepStrictEqual(
        (yield* Ref.get(seen)).map((context) => context.task),
        ["hopeless"]
      )
    })
  )

  it.scoped("defects are retried too; interruption never is", () =>
    Effect.gen(function* () {
      const app = yield* started
      const count = yield* Ref.make(0)
      const dying = yield* app.addTask(
        Effect.flatMap(
          Ref.updateAndGet(count, (n) => n + 1),
          (n) => (n < 2 ? Effect.die("bug") : Effect.succeed(n))
        ),
        { name: "dying", retry: Schedule.recurs(3) }
      )
      assert.deepStrictEqual(yield* dying.await, Exit.succeed(2))

      const attempts = yield* Ref.make(0)
      const entered = yield* Deferred.make<void>()
      const forever = yield* app.addTask(
        Effect.zipRight(
          Ref.update(attempts, (n) => n + 1),
          Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never)
        ),
        { name: "forever", retry: Schedule.forever }
      )
      yield* Deferred.await(entered)
      yield* app.cancelTask("forever")
      assert.strictEqual(yield* forever.status, "cancelled")
      assert.strictEqual(yield* Ref.get(attempts), 1)
      assert.strictEqual(forever.attempt, 1)

      // a failure beside an interruption is not retried: the interruption wins
      const mixed = yield* app.addTask(
        Effect.zipRight(
          Ref.update(attempts, (n) => n + 1),
          Effect.failCause(Cause.parallel(Cause.fail("lost"), Cause.interrupt(FiberId.none)))
        ),
        { name: "mixed", retry: Schedule.recurs(5) }
      )
      yield* mixed.await
      assert.strictEqual(yield* Ref.get(attempts), 2)
      yield* Ref.set(attempts, 1)

      // a run that interrupts itself (say, a child it joins was interrupted) is not retried either
      const selfInterrupted = yield* app.addTask(
        Effect.zipRight(
          Ref.update(attempts, (n) => n + 1),
          Effect.interrupt
        ),
        {
          name: "self-interrupted",
          retry: Schedule.recurs(5)
        }
      )
      yield* selfInterrupted.await
      assert.strictEqual(yield* selfInterrupted.status, "cancelled")
      assert.strictEqual(yield* Ref.get(attempts), 2)
    })
  )

  it.scoped("a run past its timeout fails with TaskTimeout, which retry treats as any failure", () =>
    Effect.gen(function* () {
      const app = yield* started
      const finalized = yield* Ref.make(0)
      const task = yield* app.addTask(
        Effect.sleep("1 minute").pipe(Effect.onInterrupt(() => Ref.update(finalized, (n) => n + 1))),
        { name: "slow", timeout: "10 seconds", retry: Schedule.recurs(1) }
      )
      const typed: Effect.Effect<void, Task.TaskTimeout> = task.join
      // options declared apart, with an optional timeout, still say the task may time out
      const declared: App.AddTaskOptions<void, never> = { name: "declared", timeout: "1 second" }
      const apart = yield* app.addTask(Effect.void, declared)
      // @ts-expect-error TaskTimeout is in the error type
      const apartUntyped: Effect.Effect<void, never> = apart.join
      const noOptions = yield* app.addTask(Effect.succeed(1))
      const plain: Effect.Effect<number, never> = noOptions.join
      assert.isTrue(Effect.isEffect(apartUntyped) && Effect.isEffect(plain))
      // @ts-expect-error a timeout adds TaskTimeout to the task's error type
      const untyped: Effect.Effect<void, never> = task.join
      assert.isTrue(Effect.isEffect(typed) && Effect.isEffect(untyped))
      yield* untilSleeping(2)
      yield* TestClock.adjust("10 seconds")
      yield* untilSleeping(2)
      assert.strictEqual(task.attempt, 2)
      yield* TestClock.adjust("10 seconds")
      const exit = yield* task.await
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error) && error.value instanceof Task.TaskTimeout)
      const timeout = (error as Option.Some<Task.TaskTimeout>).value
      assert.strictEqual(timeout.name, "slow")
      assert.isTrue(Duration.equals(timeout.timeout, Duration.seconds(10)))
      assert.strictEqual(timeout.message, `A run of task "slow" did not end within 10s and was interrupted.`)
      assert.strictEqual(yield* Ref.get(finalized), 2)
      assert.strictEqual(yield* task.status, "failed")
    })
  )

  it.scoped("the timeout bounds each run of a scheduled task; the schedule goes on", () =>
    Effect.gen(function* () {
      const app = yield* started
      const seen = yield* reports(app)
      const task = yield* app.addTask(Effect.sleep("1 minute"), {
        name: "bounded",
        schedule: Schedule.spaced("1 minute"),
        timeout: "5 seconds"
      })
      yield* untilSleeping(2)
      yield* TestClock.adjust("5 seconds")
      yield* untilSleeping(1)
      assert.strictEqual(task.failures, 1)
      assert.deepStrictEqual(task.nextRunAt, Option.some(65_000))
      const [context] = yield* Ref.get(seen)
      assert.strictEqual(context?.run, 1)
      assert.isTrue(
        Cause.failureOption(context?.cause as Cause.Cause<unknown>).pipe(
          Option.exists((e) => e instanceof Task.TaskTimeout)
        )
      )
    })
  )
})

describe("cancel and stop", () => {
  it.scoped("cancel between runs ends the task; nothing runs after", () =>
    Effect.gen(function* () {
      const app = yield* started
      const { run, starts } = yield* counted
      const task = yield* app.addTask(run, { name: "between", schedule: Schedule.spaced("1 minute") })
      yield* untilSleeping(1)
      yield* app.cancelTask("between")
      assert.strictEqual(yield* task.status, "cancelled")
      assert.deepStrictEqual(task.nextRunAt, Option.none())
      yield* TestClock.adjust("5 minutes")
      assert.deepStrictEqual(yield* Ref.get(starts), [0])
      assert.deepStrictEqual(task.lastRun.pipe(Option.map((r) => r.outcome)), Option.some("succeeded" as const))
    })
  )

  it.scoped("cancel during a run returns after the run's finalizers; the run is recorded as cancelled", () =>
    Effect.gen(function* () {
      const app = yield* started
      const finalized = yield* Ref.make(false)
      const entered = yield* Deferred.make<void>()
      const task = yield* app.addTask(
        Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never).pipe(
          Effect.ensuring(Effect.zipRight(Effect.sleep("1 second"), Ref.set(finalized, true)))
        ),
        { name: "during", schedule: Schedule.spaced("1 minute") }
      )
      yield* Deferred.await(entered)
      const cancelling = yield* Effect.fork(app.cancelTask("during"))
      yield* untilSleeping(1)
      assert.isFalse(yield* Ref.get(finalized))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(cancelling)
      assert.isTrue(yield* Ref.get(finalized))
      assert.strictEqual(yield* task.status, "cancelled")
      assert.deepStrictEqual(
        task.lastRun.pipe(Option.map((r) => [r.startedAt, r.endedAt, r.outcome])),
        Option.some([0, 1000, "cancelled"])
      )
    })
  )

  it.scoped("stopping the app during a run runs its finalizers and cancels the task", () =>
    Effect.gen(function* () {
      const app = yield* started
      const finalized = yield* Ref.make(false)
      const entered = yield* Deferred.make<void>()
      const task = yield* app.addTask(
        Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never).pipe(
          Effect.ensuring(Ref.set(finalized, true))
        ),
        { name: "stopped", schedule: "* * * * *" }
      )
      yield* TestClock.adjust("1 minute")
      yield* Deferred.await(entered)
      yield* app.stop
      assert.isTrue(yield* Ref.get(finalized))
      assert.strictEqual(yield* task.status, "cancelled")
    })
  )

  it.scoped("a one-worker task in a process serving alone runs there", () =>
    Effect.gen(function* () {
      const app = yield* started
      const task = yield* app.addTask(Effect.succeed("here"), { name: "singleton", placement: "one-worker" })
      assert.strictEqual(yield* task.join, "here")
      assert.strictEqual(task.placement, "one-worker")
      assert.deepStrictEqual(task.worker, Option.none())
      assert.strictEqual(Task.info(task).placement, "one-worker")
    })
  )
})

describe("the record", () => {
  it.scoped("a plain task tells its one run", () =>
    Effect.gen(function* () {
      const app = yield* started
      const task = yield* app.addTask(Effect.fail("no"), { name: "plain" })
      yield* task.await
      assert.strictEqual(task.runs, 1)
      assert.strictEqual(task.attempt, 1)
      assert.strictEqual(task.failures, 1)
      assert.deepStrictEqual(task.lastRun, Option.some({ startedAt: 0, endedAt: 0, outcome: "failed" as const }))
      assert.deepStrictEqual(Task.info(task), {
        name: "plain",
        status: "failed",
        addedAt: 0,
        startedAt: 0,
        endedAt: 0,
        placement: "every-worker",
        runs: 1,
        failures: 1,
        attempt: 1,
        lastRun: { startedAt: 0, endedAt: 0, outcome: "failed" },
        nextRunAt: undefined,
        cancelReason: undefined
      })
    })
  )

  it.scoped("a task added before the start has run nothing yet", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "idle" })
      const task = yield* app.addTask(Effect.void, { name: "queued", schedule: Schedule.spaced("1 second") })
      assert.strictEqual(task.runs, 0)
      assert.strictEqual(yield* task.status, "pending")
      yield* app.start
      yield* untilSleeping(1)
      assert.strictEqual(task.runs, 1)
    })
  )
})

describe("bad options", () => {
  const refused = (options: App.AddTaskOptions<void, never>) =>
    Effect.gen(function* () {
      const app = yield* started
      const error = yield* Effect.flip(app.addTask(Effect.void, { name: "bad", ...options }))
      assert.deepStrictEqual(yield* app.tasks, [])
      assert.isTrue(Option.isNone(yield* app.findTask("bad")))
      assert.instanceOf(error, Task.InvalidTaskOptions)
      return error as Task.InvalidTaskOptions
    })

  it.scoped("a cron string that does not parse, in the parser's own words", () =>
    Effect.gen(function* () {
      const error = yield* refused({ schedule: "61 * * * *" })
      assert.strictEqual(error.reason, "schedule")
      assert.strictEqual(error.value, "61 * * * *")
      assert.strictEqual(
        error.message,
        `Invalid option "schedule" for task "bad": Expected a value between 0 and 59 (at "61").`
      )
    })
  )

  it.scoped("a cron that parses but never matches a date", () =>
    Effect.gen(function* () {
      const error = yield* refused({ schedule: "0 0 30 2 *" })
      assert.strictEqual(error.reason, "schedule")
      assert.include(error.message, "the cron never matches a date")
    })
  )

  it.scoped("an unknown time zone, or one without a cron string", () =>
    Effect.gen(function* () {
      const unknown = yield* refused({ schedule: "* * * * *", timeZone: "Nowhere/Zone" })
      assert.strictEqual(unknown.reason, "timeZone")
      assert.include(unknown.message, "Invalid time zone")
      const alone = yield* refused({ schedule: Schedule.spaced("1 second"), timeZone: "Europe/Paris" })
      assert.strictEqual(alone.reason, "timeZone")
    })
  )

  it.scoped("negative, zero, non-finite or malformed timeouts", () =>
    Effect.gen(function* () {
      for (const timeout of [-1, 0, Number.POSITIVE_INFINITY, Number.NaN, "-5 seconds", "soon", Duration.infinity]) {
        const error = yield* refused({ timeout: timeout as Duration.DurationInput })
        assert.strictEqual(error.reason, "timeout")
        assert.include(error.message, "positive, finite duration")
      }
    })
  )

  it.scoped("a schedule or retry that is not a Schedule, and an unknown placement", () =>
    Effect.gen(function* () {
      const schedule = yield* refused({ schedule: { every: "minute" } as unknown as string })
      assert.strictEqual(schedule.reason, "schedule")
      const retry = yield* refused({ retry: 3 as unknown as Schedule.Schedule<unknown> })
      assert.strictEqual(retry.reason, "retry")
      const placement = yield* refused({ placement: "everywhere" as Task.Placement })
      assert.strictEqual(placement.reason, "placement")
      assert.include(placement.message, `"every-worker", "one-worker" or "one-in-fleet"`)
    })
  )

  it.scoped("a one-worker task needs a name", () =>
    Effect.gen(function* () {
      const app = yield* started
      const error = yield* Effect.flip(app.addTask(Effect.void, { placement: "one-worker" }))
      assert.strictEqual(error._tag, "InvalidTaskOptions")
      assert.strictEqual(
        error.message,
        `Invalid option "placement" for an unnamed task: a one-worker task needs a name, and to be registered, so that workers agree on it.`
      )
    })
  )

  it.scoped("a refused option leaves a finished task of the same name recorded", () =>
    Effect.gen(function* () {
      const app = yield* started
      const first = yield* app.addTask(Effect.void, { name: "again" })
      yield* first.await
      yield* Effect.flip(app.addTask(Effect.void, { name: "again", timeout: -1 }))
      assert.deepStrictEqual(
        (yield* app.tasks).map((task) => task),
        [first]
      )
    })
  )
})
