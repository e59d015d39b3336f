import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Deferred,
  type Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Logger,
  Option,
  Ref,
  Scope,
  TestClock
} from "effect"
import * as App from "../src/App.js"
import * as Events from "../src/Events.js"
import { hooksOf } from "../src/internal/hooks.js"
import * as Task from "../src/Task.js"
import { untilSleeping } from "./utils.js"

const makeApp = (gracefulShutdownTimeout: Duration.DurationInput = "15 seconds") =>
  App.make({ name: "test", gracefulShutdownTimeout })

const started = (gracefulShutdownTimeout?: Duration.DurationInput) =>
  Effect.tap(makeApp(gracefulShutdownTimeout), (app) => app.start)

describe("tasks", () => {
  it.scoped("an unnamed task runs and is not recorded", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const ran = yield* Deferred.make<string>()
      const task = yield* app.addTask(Deferred.succeed(ran, "ran"))
      assert.strictEqual(yield* Deferred.await(ran), "ran")
      assert.strictEqual(task.name, undefined)
      assert.deepStrictEqual(yield* app.tasks, [])
    })
  )

  it.scoped("a named task is recorded and getTask gives the same task", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask(Effect.never, { name: "slow_task" })
      const found = yield* app.getTask("slow_task")
      assert.strictEqual(found, task)
      assert.strictEqual(yield* found.status, "running")
      assert.deepStrictEqual(
        (yield* app.tasks).map((t) => t.name),
        ["slow_task"]
      )
      assert.isTrue(Option.isSome(yield* app.findTask("slow_task")))
    })
  )

  it.scoped("a fiber interrupted while it adds a task leaves the task whole: forked, observed, cancellable", () =>
    Effect.gen(function* () {
      const app = yield* started()
      // The interruption arrives while addTask reads its options, that is after the adding has begun.
      const adder = yield* Effect.fork(
        Effect.withFiberRuntime((self) =>
          Effect.orDie(
            app.addTask(Effect.never, {
              get name() {
                self.unsafeInterruptAsFork(self.id())
                return "interrupted_adder"
              }
            })
          )
        )
      )
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(adder)))
      const task = yield* app.getTask("interrupted_adder")
      assert.strictEqual(yield* task.status, "running")
      // The check that matters: the record has its fiber, so the cancel reaches it and the end is observed.
      yield* app.cancelTask("interrupted_adder")
      assert.isTrue(Exit.isInterrupted(yield* task.await))
      assert.strictEqual(yield* task.status, "cancelled")
    })
  )

  it.scoped("a task added from an uninterruptible region can be cancelled", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* Effect.uninterruptible(app.addTask(Effect.never, { name: "from_uninterruptible" }))
      yield* app.cancelTask("from_uninterruptible")
      assert.isTrue(Exit.isInterrupted(yield* task.await))
      assert.strictEqual(yield* task.status, "cancelled")
    })
  )

  it.scoped("register: false names the task but does not record it", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask(Effect.succeed(1), { name: "quiet", register: false })
      assert.strictEqual(task.name, "quiet")
      assert.strictEqual(yield* task.join, 1)
      assert.deepStrictEqual(yield* app.tasks, [])
      assert.isTrue(Option.isNone(yield* app.findTask("quiet")))
      const error = yield* Effect.flip(app.getTask("quiet"))
      assert.strictEqual(error._tag, "TaskNotFound")
    })
  )

  it.scoped("cancelling a sleeping task keeps its record, cancelled, until purged", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const finalized = yield* Ref.make(false)
      yield* app.addTask(Effect.sleep("3 seconds").pipe(Effect.ensuring(Ref.set(finalized, true))), { name: "dummy" })
      yield* untilSleeping(1)
      yield* app.cancelTask("dummy", { reason: "test" })
      assert.isTrue(yield* Ref.get(finalized), "cancelTask returns after the finalizers ran")
      const task = yield* app.getTask("dummy")
      assert.strictEqual(yield* task.status, "cancelled")
      assert.strictEqual((yield* app.tasks).length, 1)
      assert.strictEqual(yield* app.purgeTasks, 1)
      assert.deepStrictEqual(yield* app.tasks, [])
      yield* app.cancelTask("dummy").pipe(Effect.flip)
    })
  )

  it.scoped("cancelling a finished task does nothing", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask(Effect.succeed("done"), { name: "quick" })
      yield* task.await
      yield* app.cancelTask("quick")
      assert.strictEqual(yield* task.status, "succeeded")
    })
  )

  it.scoped("purge drops finished tasks and leaves running ones", () =>
    Effect.gen(function* () {
      const app = yield* started()
      yield* app.addTask(Effect.never, { name: "running" })
      const done = yield* app.addTask(Effect.succeed(1), { name: "done" })
      const failed = yield* app.addTask(Effect.fail("boom"), { name: "failed" })
      yield* done.await
      yield* failed.await
      assert.strictEqual(yield* app.purgeTasks, 2)
      assert.deepStrictEqual(
        (yield* app.tasks).map((t) => t.name),
        ["running"]
      )
      assert.strictEqual(yield* app.purgeTasks, 0)
    })
  )

  it.scoped("the result is preserved: join gives 42", () =>
    Effect.gen(function* () {
      const app = yield* started()
      yield* app.addTask(Effect.succeed(42), { name: "answer" })
      const task = yield* app.getTask("answer")
      assert.strictEqual(yield* task.join, 42)
      assert.deepStrictEqual(yield* task.poll, Option.some(Exit.succeed(42)))
      assert.strictEqual(yield* task.status, "succeeded")
      assert.isDefined(task.startedAt)
      assert.isDefined(task.endedAt)
    })
  )

  it.scoped("the function form is called with the app", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask((injected) => Effect.succeed(injected), { name: "inject" })
      assert.strictEqual(yield* task.join, app)
    })
  )

  it.scoped("the effect form reads App from its context", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask(
        Effect.map(App.App, (injected) => injected.name),
        { name: "context" }
      )
      assert.strictEqual(yield* task.join, "test")
    })
  )

  it.scoped("a task sleeping 5 seconds finishes on TestClock.adjust, in no real time", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const task = yield* app.addTask(Effect.as(Effect.sleep("5 seconds"), "Server successfully started!"), {
        name: "five"
      })
      yield* untilSleeping(1)
      assert.strictEqual(yield* task.status, "running")
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual(yield* task.status, "running")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* task.join, "Server successfully started!")
    })
  )

  it.scoped("failures and defects stay in their task and are reported with its name", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const reports = yield* Ref.make<ReadonlyArray<unknown>>([])
      yield* app.signal("server.exception.report", (context) => Ref.update(reports, (all) => [...all, context.task]))
      const healthy = yield* app.addTask(Effect.never, { name: "healthy" })
      const failing = yield* app.addTask(Effect.fail("boom"), { name: "failing" })
      const dying = yield* app.addTask(Effect.die(new Error("defect")), { name: "dying" })
      assert.deepStrictEqual(yield* Effect.flip(failing.join), "boom")
      const died = yield* dying.await
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
      assert.strictEqual(yield* failing.status, "failed")
      assert.strictEqual(yield* dying.status, "failed")
      assert.strictEqual(yield* healthy.status, "running")
      assert.strictEqual(yield* app.state, "serving")
      yield* Effect.repeat(Ref.get(reports), { until: (all) => all.length >= 2 })
      assert.sameMembers([...(yield* Ref.get(reports))], ["failing", "dying"])
    })
  )

  it.scoped("a name held by a running task is refused; a finished one's name is reused", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const first = yield* app.addTask(Effect.never, { name: "dup" })
      const refused = yield* Effect.flip(app.addTask(Effect.succeed(2), { name: "dup" }))
      assert.strictEqual(refused._tag, "TaskNameInUse")
      assert.include(refused.message, '"dup"')
      assert.strictEqual(yield* app.getTask("dup"), first, "the refused add changed nothing")

      yield* app.cancelTask("dup")
      const second = yield* app.addTask(Effect.never, { name: "dup" })
      assert.notStrictEqual(second, first)
      assert.strictEqual(yield* app.getTask("dup"), second)
      assert.strictEqual(yield* first.status, "cancelled")
      assert.strictEqual(yield* second.status, "running", "the old fiber's end did not touch the new record")
      assert.strictEqual((yield* app.tasks).length, 1)
    })
  )

  it.scoped("bad names are refused with a typed error and change nothing", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const empty = yield* Effect.flip(app.addTask(Effect.void, { name: "" }))
      assert.strictEqual(empty._tag, "InvalidTaskName")
      assert.include(empty.message, "must not be empty")
      const long = yield* Effect.flip(app.addTask(Effect.void, { name: "x".repeat(10_000) }))
      assert.include(long.message, "at most 256")
      const notString = yield* Effect.flip(app.addTask(Effect.void, { name: 42 as unknown as string }))
      assert.include(notString.message, "must be a string")
      assert.deepStrictEqual(yield* app.tasks, [])

      const notFound = yield* Effect.flip(app.getTask("nope"))
      assert.strictEqual(notFound.message, 'Registered task named "nope" not found.')
      const cancelUnknown = yield* Effect.flip(app.cancelTask("nope"))
      assert.strictEqual(cancelUnknown._tag, "TaskNotFound")
    })
  )

  it.scoped("10,000 named tasks added, cancelled and purged leave an empty registry", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const names = Array.from({ length: 10_000 }, (_, i) => `task-${i}`)
      yield* Effect.forEach(names, (name) => app.addTask(Effect.never, { name }), { discard: true })
      assert.strictEqual((yield* app.tasks).length, 10_000)
      yield* Effect.forEach(names, (name) => app.cancelTask(name), { discard: true })
      assert.isTrue((yield* app.tasks).every((task) => task.unsafeStatus() === "cancelled"))
      assert.strictEqual(yield* app.purgeTasks, 10_000)
      assert.deepStrictEqual(yield* app.tasks, [])
    })
  )
})

describe("before the app starts", () => {
  it.scoped("queued tasks are fetchable, start on start, and can be cancelled before", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (name: string) => Ref.update(ran, (all) => [...all, name])
      const slow = yield* app.addTask(Effect.zipRight(record("slow_work"), Effect.never), { name: "slow_work" })
      yield* app.addTask(() => record("callable"))
      yield* app.addTask(record("never"), { name: "cancelled_early" })

      assert.strictEqual(yield* app.getTask("slow_work"), slow)
      assert.strictEqual(yield* slow.status, "pending")
      yield* app.cancelTask("cancelled_early")
      assert.strictEqual(yield* (yield* app.getTask("cancelled_early")).status, "cancelled")
      assert.deepStrictEqual(yield* Ref.get(ran), [], "nothing runs before start")

      yield* app.start
      yield* Effect.repeat(Ref.get(ran), { until: (all) => all.length >= 2 })
      assert.sameMembers([...(yield* Ref.get(ran))], ["slow_work", "callable"])
      assert.strictEqual(yield* slow.status, "running")
      yield* app.cancelTask("slow_work")
      assert.strictEqual(yield* slow.status, "cancelled")
    })
  )

  it.scoped("a queued task's await resolves once it has run", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const task = yield* app.addTask(Effect.succeed("later"), { name: "later" })
      const waiting = yield* Effect.fork(task.join)
      yield* app.start
      assert.strictEqual(yield* Fiber.join(waiting), "later")
    })
  )

  it.scoped("tasks queued in an app that never starts are cancelled when its scope closes", () =>
    Effect.gen(function* () {
      const tasks: Array<Task.Task> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          const app = yield* makeApp()
          tasks.push(yield* app.addTask(Effect.never, { name: "queued" }))
        })
      )
      assert.strictEqual(yield* tasks[0]!.status, "cancelled")
    })
  )
})

describe("lifecycle", () => {
  it.scoped("state moves idle, serving, stopped; an app starts once", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      assert.strictEqual(yield* app.state, "idle")
      yield* app.start
      assert.strictEqual(yield* app.state, "serving")
      const again = yield* Effect.flip(app.start)
      assert.strictEqual(again._tag, "StartError")
      yield* app.stop
      assert.strictEqual(yield* app.state, "stopped")
      yield* app.stop
    })
  )

  it.scoped("stop interrupts every task", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const named = yield* app.addTask(Effect.never, { name: "named" })
      const unnamed = yield* app.addTask(Effect.never)
      yield* app.stop
      assert.strictEqual(yield* named.status, "cancelled")
      assert.strictEqual(yield* unnamed.status, "cancelled")
    })
  )

  it.scoped("closing the scope stops a serving app", () =>
    Effect.gen(function* () {
      const handles = yield* Effect.scoped(
        Effect.gen(function* () {
          const app = yield* started()
          return { app, task: yield* app.addTask(Effect.never, { name: "forever" }) }
        })
      )
      assert.strictEqual(yield* handles.app.state, "stopped")
      assert.strictEqual(yield* handles.task.status, "cancelled")
    })
  )

  it.scoped("stop ends within the graceful timeout even when a task will not be interrupted", () =>
    Effect.gen(function* () {
      const app = yield* started("2 seconds")
      const running = yield* Deferred.make<void>()
      const stubborn = yield* app.addTask(
        Effect.uninterruptible(Deferred.succeed(running, undefined).pipe(Effect.zipRight(Effect.sleep("60 seconds")))),
        { name: "stubborn" }
      )
      const polite = yield* app.addTask(Effect.never, { name: "polite" })
      yield* Deferred.await(running)
      const stopping = yield* Effect.fork(app.stop)
      yield* untilSleeping(2)
      yield* TestClock.adjust("1999 millis")
      assert.isNull(stopping.unsafePoll(), "stop waits for the tasks up to the grace period")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(stopping)
      assert.strictEqual(yield* app.state, "stopped")
      assert.strictEqual(yield* stubborn.status, "running")
      assert.strictEqual(yield* polite.status, "cancelled")
    })
  )

  it.scoped("stopWith's timeout replaces the app's grace period for that stop", () =>
    Effect.gen(function* () {
      const app = yield* started("15 seconds")
      const running = yield* Deferred.make<void>()
      yield* app.addTask(
        Effect.uninterruptible(Deferred.succeed(running, undefined).pipe(Effect.zipRight(Effect.sleep("60 seconds")))),
        { name: "stubborn" }
      )
      yield* Deferred.await(running)
      const stopping = yield* Effect.fork(hooksOf(app).stopWith(Effect.void, { timeout: "1 second" }))
      yield* untilSleeping(2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      assert.strictEqual(yield* app.state, "stopped")
    })
  )

  it.scoped("listeners run by priority then registration order; stop listeners in reverse", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      const log = (entry: string) => Ref.update(order, (all) => [...all, entry])
      yield* app.listener("before_server_start", log("start:a"))
      yield* app.listener("before_server_start", log("start:b"))
      yield* app.listener("before_server_start", log("start:urgent"), { priority: 10 })
      yield* app.listener("after_server_start", log("after_start"))
      yield* app.listener("before_server_stop", log("stop:a"))
      yield* app.listener("before_server_stop", log("stop:b"))
      yield* app.listener("after_server_stop", log("after_stop"))
      yield* app.start
      yield* app.stop
      assert.deepStrictEqual(yield* Ref.get(order), [
        "start:urgent",
        "start:a",
        "start:b",
        "after_start",
        "stop:b",
        "stop:a",
        "after_stop"
      ])
    })
  )

  it.scoped("queued tasks start after before_server_start and are visible to after_server_start", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* app.addTask(Effect.never, { name: "queued" })
      const statusOf = (at: string) =>
        Effect.flatMap(App.getTask("queued"), (task) => task.status).pipe(
          Effect.flatMap((status) => Ref.update(seen, (all) => [...all, `${at}:${status}`]))
        )
      yield* app.listener("before_server_start", statusOf("before"))
      yield* app.listener("after_server_start", statusOf("after"))
      yield* app.start
      assert.deepStrictEqual(yield* Ref.get(seen), ["before:pending", "after:running"])
    })
  )

  it.scoped("tasks are still alive while before_server_stop runs", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const seen = yield* Ref.make<string>("")
      yield* app.addTask(Effect.never, { name: "worker" })
      yield* app.listener(
        "before_server_stop",
        Effect.flatMap(App.getTask("worker"), (task) => task.status).pipe(Effect.flatMap((s) => Ref.set(seen, s)))
      )
      yield* app.start
      yield* app.stop
      assert.strictEqual(yield* Ref.get(seen), "running")
    })
  )

  it.scoped("a failing start listener fails the start, names the kind, and leaves nothing running", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const task = yield* app.addTask(Effect.never, { name: "queued" })
      yield* app.listener("before_server_start", Effect.fail("no database"))
      const error = yield* Effect.flip(app.start)
      assert.strictEqual(error._tag, "StartError")
      assert.strictEqual(error.listener, "before_server_start")
      assert.include(error.message, "before_server_start")
      assert.include(error.message, "no database")
      assert.strictEqual(yield* app.state, "stopped")
      assert.strictEqual(yield* task.status, "cancelled")
    })
  )

  it.scoped("a failing stop listener is reported and the other stop listeners still run", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const ran = yield* Ref.make(false)
      const reports = yield* Ref.make(0)
      yield* app.signal("server.exception.report", () => Ref.update(reports, (n) => n + 1))
      yield* app.listener("before_server_stop", Ref.set(ran, true))
      yield* app.listener("before_server_stop", Effect.die("broken"))
      yield* app.start
      yield* app.stop
      assert.isTrue(yield* Ref.get(ran))
      assert.strictEqual(yield* app.state, "stopped")
      yield* Effect.repeat(Ref.get(reports), { until: (n) => n >= 1 })
    })
  )

  it.scoped("a hanging stop listener cannot hold the stop past the graceful timeout", () =>
    Effect.gen(function* () {
      const app = yield* makeApp("3 seconds")
      yield* app.listener("before_server_stop", Effect.uninterruptible(Effect.never))
      yield* app.start
      const stopping = yield* Effect.fork(app.stop)
      yield* untilSleeping(1)
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(stopping)
      assert.strictEqual(yield* app.state, "stopped")
    })
  )
})

describe("events on the app", () => {
  it.scoped("a signal handler reads App from its context, and a waiter gets the dispatch context", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const waiter = yield* Effect.fork(app.event("orders.paid.*"))
      yield* Effect.repeat(
        Effect.sync(() => hooksOf(app).hasListeners("orders.paid.7")),
        { until: (b) => b }
      )
      yield* app.signal("orders.paid.<id:int>", (context) =>
        App.addTask(Effect.succeed(context.id), { name: `receipt:${String(context.id)}` })
      )
      yield* app.dispatch("orders.paid.7", { context: { by: "card" }, inline: true })
      const receipt = yield* app.getTask("receipt:7")
      assert.strictEqual(yield* receipt.join, 7)
      const context = yield* Fiber.join(waiter)
      assert.strictEqual(context.by, "card")
    })
  )

  it.scoped("a task's failure is dispatched as server.exception.report with the task's name and cause", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const report = yield* Effect.fork(app.event("server.exception.report"))
      yield* Effect.yieldNow()
      yield* app.addTask(Effect.fail("boom"), { name: "failing" })
      const context = yield* Fiber.join(report)
      assert.strictEqual(context.task, "failing")
      assert.isTrue(Cause.isCause(context.cause))
      assert.deepStrictEqual(Cause.failureOption(context.cause as Cause.Cause<string>), Option.some("boom"))
    })
  )
})

describe("stops that race", () => {
  it.scoped("a stop during the start cuts it short: the start fails, nothing runs, the app ends stopped", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const entered = yield* Deferred.make<void>()
      const afterStart = yield* Ref.make(false)
      const task = yield* app.addTask(Effect.never, { name: "queued" })
      yield* app.listener("before_server_start", Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never))
      yield* app.listener("after_server_start", Ref.set(afterStart, true))
      const starting = yield* Effect.fork(app.start)
      yield* Deferred.await(entered)
      yield* app.stop
      assert.strictEqual(yield* app.state, "stopped")
      const exit = yield* Fiber.await(starting)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* app.state, "stopped", "the start did not come back to serving")
      assert.isFalse(yield* Ref.get(afterStart))
      assert.strictEqual(yield* task.status, "cancelled")
      const late = yield* app.addTask(Effect.never, { name: "late" })
      assert.strictEqual(yield* late.status, "cancelled")
    })
  )

  it.scoped("an interrupted stop still ends every task", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* app.listener(
        "before_server_stop",
        Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(release))
      )
      const task = yield* app.addTask(Effect.never, { name: "worker" })
      const stopping = yield* Effect.fork(app.stop)
      yield* Deferred.await(entered)
      yield* Fiber.interruptFork(stopping)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.await(stopping)
      yield* app.stop
      assert.strictEqual(yield* app.state, "stopped")
      assert.strictEqual(yield* task.status, "cancelled")
    })
  )

  it.scoped("a task added once the app has stopped is cancelled at once, not left pending", () =>
    Effect.gen(function* () {
      const app = yield* started()
      yield* app.stop
      const task = yield* app.addTask(Effect.succeed(1), { name: "too late" })
      assert.strictEqual(yield* task.status, "cancelled")
      const exit = yield* task.await
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(yield* app.purgeTasks, 1)
    })
  )
})

describe("cancel reasons", () => {
  it.scoped("the reason given to cancelTask reaches the task's finalizers, and its record keeps it", () =>
    Effect.gen(function* () {
      const app = yield* started()
      const heard = yield* Deferred.make<Option.Option<string>>()
      const entered = yield* Deferred.make<void>()
      const task = yield* app.addTask(
        Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never).pipe(
          Effect.onInterrupt(() => Effect.flatMap(Task.cancelReason, (reason) => Deferred.succeed(heard, reason)))
        ),
        { name: "shop" }
      )
      yield* Deferred.await(entered)
      yield* app.cancelTask("shop", { reason: "closing for the night" })
      assert.deepStrictEqual(yield* Deferred.await(heard), Option.some("closing for the night"))
      assert.deepStrictEqual(task.cancelReason, Option.some("closing for the night"))
      assert.strictEqual(Task.info(task).cancelReason, "closing for the night")

      // without a reason, and outside any task, there is none
      const silent = yield* Deferred.make<Option.Option<string>>()
      const plain = yield* app.addTask(
        Effect.never.pipe(
          Effect.onInterrupt(() => Effect.flatMap(Task.cancelReason, (reason) => Deferred.succeed(silent, reason)))
        ),
        { name: "plain" }
      )
      yield* Effect.yieldNow()
      yield* app.cancelTask("plain")
      assert.deepStrictEqual(yield* Deferred.await(silent), Option.none())
      assert.deepStrictEqual(plain.cancelReason, Option.none())
      assert.deepStrictEqual(yield* Effect.provideService(Task.cancelReason, App.App, app), Option.none())
    })
  )
})

describe("log annotations bound by a server", () => {
  it.scoped("reach handlers run in the background and tasks added later, from any fiber", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const logger = Logger.make(({ annotations, message }) => {
        const worker = HashMap.get(annotations, "worker")
        seen.push(
          `${Array.isArray(message) ? message.join(" ") : String(message)} @${Option.getOrElse(worker, () => "-")}`
        )
      })
      const app = yield* App.make({ name: "labelled" }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* hooksOf(app).useLogAnnotations({ worker: "worker-7" })
      yield* app.start
      yield* app
        .signal("jobs.job.done", () => Effect.log("handled"))
        .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* app.dispatch("jobs.job.done")
      const task = yield* app
        .addTask(Effect.log("task ran"), { name: "later" })
        .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* task.await
      for (let i = 0; i < 100 && seen.length < 2; i++) yield* Effect.yieldNow()
      assert.sameMembers(seen, ["handled @worker-7", "task ran @worker-7"])
    })
  )
})

describe("scope: all, with no server", () => {
  it.scoped("listTasks, getTask, findTask and cancelTask reach this process's tasks, as worker main", () =>
    Effect.gen(function* () {
      const app = yield* started()
      yield* app.addTask(Effect.never, { name: "ticker" })
      const all = yield* app.listTasks({ scope: "all" })
      assert.deepStrictEqual(
        all.map((task) => [task.worker, task.name, task.status]),
        [["main", "ticker", "running"]]
      )
      assert.strictEqual((yield* app.listTasks()).length, 1)
      assert.deepStrictEqual(
        (yield* app.getTask("ticker", { scope: "all" })).map((view) => view.worker),
        ["main"]
      )
      assert.deepStrictEqual(yield* app.findTask("nope", { scope: "all" }), [])
      const missing = yield* Effect.flip(app.getTask("nope", { scope: "all" }))
      assert.strictEqual(missing._tag, "TaskNotFound")
      yield* app.cancelTask("ticker", { scope: "all" })
      assert.strictEqual(yield* (yield* app.getTask("ticker")).status, "cancelled")
      const none = yield* Effect.flip(app.cancelTask("nope", { scope: "all" }))
      assert.strictEqual(none._tag, "TaskNotFound")
    })
  )
})

describe("finished tasks", () => {
  it.scoped("with a taskRetention, purgeTasks keeps a finished task's record until it is that old", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "retained", taskRetention: "1 minute" })
      yield* app.start
      const task = yield* app.addTask(Effect.void, { name: "quick" })
      yield* task.await
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* app.purgeTasks, 0)
      assert.deepStrictEqual(
        (yield* app.tasks).map((t) => t.name),
        ["quick"]
      )
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* app.purgeTasks, 1)
      assert.deepStrictEqual(yield* app.tasks, [])
    })
  )

  it.scoped("a task added after the stop is recorded cancelled, and the first one is logged, once", () =>
    Effect.gen(function* () {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const app = yield* App.make({ name: "late" }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* app.start
      yield* app.stop
      const first = yield* app.addTask(Effect.void, { name: "too-late" })
      const second = yield* app.addTask(Effect.void, { name: "later-still" })
      assert.strictEqual(yield* first.status, "cancelled")
      assert.strictEqual(yield* second.status, "cancelled")
      yield* Effect.yieldNow()
      assert.deepStrictEqual(warnings, [
        `Task "too-late" was added after the app stopped: it is recorded as cancelled and never runs (this is said once per app)`
      ])
    })
  )
})

describe("bad options", () => {
  it.scoped("App.make refuses an empty name or a bad graceful timeout, and App.layer dies with the same error", () =>
    Effect.gen(function* () {
      const empty = yield* Effect.flip(App.make({ name: "" }))
      assert.strictEqual(empty._tag, "InvalidAppOptions")
      assert.strictEqual(empty.message, `Invalid app options: the app's name must be a non-empty string, got "".`)
      const retention = yield* Effect.flip(App.make({ name: "x", taskRetention: "-1 minutes" }))
      assert.strictEqual(retention.reason, "InvalidTaskRetention")
      assert.include(retention.message, `taskRetention "-1 minutes" is not`)
      for (const timeout of [-1, "-5 seconds", "soon", Number.NaN]) {
        const error = yield* Effect.flip(
          App.make({ name: "x", gracefulShutdownTimeout: timeout as Duration.DurationInput })
        )
        assert.strictEqual(error._tag, "InvalidAppOptions")
        assert.include(error.message, "gracefulShutdownTimeout")
      }
      const died = yield* Effect.exit(Effect.provide(App.state, App.layer({ name: "x", gracefulShutdownTimeout: -1 })))
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
    })
  )

  it.scoped("event refuses a bad timeout with InvalidEventTimeout and waits for nothing", () =>
    Effect.gen(function* () {
      const app = yield* started()
      for (const timeout of [-1, "-1 seconds", "whenever"]) {
        const error = yield* Effect.flip(app.event("a.b.c", { timeout: timeout as Duration.DurationInput }))
        assert.strictEqual(error._tag, "InvalidEventTimeout")
        assert.include(error.message, "non-negative duration")
      }
      assert.isFalse(hooksOf(app).hasListeners("a.b.c"))
    })
  )
})

describe("accessors", () => {
  it.effect("App.* accessors reach the service in context", () =>
    Effect.gen(function* () {
      yield* App.start
      const task = yield* App.addTask(Effect.succeed("via accessor"), { name: "acc" })
      assert.strictEqual(yield* App.getTask("acc"), task)
      assert.strictEqual(yield* task.join, "via accessor")
      assert.strictEqual((yield* App.tasks).length, 1)
      assert.strictEqual(yield* App.purgeTasks, 1)
      assert.strictEqual(yield* App.state, "serving")
    }).pipe(Effect.provide(App.layer({ name: "accessors" })))
  )
})

describe("the event transport", () => {
  it.scoped('an Events.Transport in the app\'s context carries `scope: "all"` dispatches, and local ones stay', () =>
    Effect.gen(function* () {
      const published: Array<{ readonly event: string; readonly context: unknown }> = []
      const transport: Events.TransportService = {
        publish: (event, options) => Effect.sync(() => published.push({ event, context: options.context }))
      }
      const app = yield* Effect.provideService(App.make({ name: "test" }), Events.Transport, transport)
      const seen = yield* Ref.make(0)
      yield* app.signal("orders.paid.now", () => Ref.update(seen, (n) => n + 1))
      yield* app.dispatch("orders.paid.now", { scope: "all", inline: true, context: { amount: 3 } })
      yield* app.dispatch("orders.paid.now", { inline: true })
      assert.deepStrictEqual(published, [{ event: "orders.paid.now", context: { amount: 3 } }])
      assert.strictEqual(yield* Ref.get(seen), 2)
    })
  )

  it.scoped("a transport bound through the hooks is used while its scope is open, then the previous one again", () =>
    Effect.gen(function* () {
      const app = yield* makeApp()
      const published: Array<string> = []
      const bound = Scope.make()
      const scope = yield* bound
      yield* Scope.extend(
        hooksOf(app).useTransport({ publish: (event) => Effect.sync(() => published.push(event)) }),
        scope
      )
      yield* app.dispatch("a.b.c", { scope: "all" })
      yield* Scope.close(scope, Exit.void)
      yield* app.dispatch("a.b.d", { scope: "all" })
      assert.deepStrictEqual(published, ["a.b.c"])
    })
  )
})
