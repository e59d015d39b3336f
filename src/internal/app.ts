import type { FiberRefs } from "effect"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  FiberMap,
  Option,
  Runtime,
  Scope
} from "effect"
import type { AppService, ListenerKind, MakeOptions, State, TaskInput } from "../App.js"
import { App, InvalidAppOptions, StartError } from "../App.js"
import type { EventContext, Handler, SignalOptions } from "../Events.js"
import { InvalidTaskName, TaskNameInUse, TaskNotFound, validateName } from "../Task.js"
import { decodeNonNegative, durationHint } from "./duration.js"
import * as Events from "./events.js"
import { TaskRecord } from "./task.js"
import type { Hooks, SharedValues, Transport } from "./hooks.js"
import { HooksTypeId } from "./hooks.js"

interface PendingTask {
  readonly record: TaskRecord<any, any>
  readonly key: string | number
  readonly effect: Effect.Effect<any, any, any>
  readonly context: Context.Context<any>
  readonly fiberRefs: FiberRefs.FiberRefs
}

interface Listener {
  readonly kind: ListenerKind
  readonly effect: Effect.Effect<unknown, unknown>
  readonly priority: number
  readonly seq: number
}

const startKinds: ReadonlySet<ListenerKind> = new Set([
  "main_process_start",
  "main_process_ready",
  "before_server_start",
  "after_server_start"
])

const eventOfKind: Partial<Record<ListenerKind, string>> = {
  before_server_start: "server.init.before",
  after_server_start: "server.init.after",
  before_server_stop: "server.shutdown.before",
  after_server_stop: "server.shutdown.after"
}

/** The shortest time `after_server_stop` listeners get, even when the earlier phases used up the grace period. */
const minimumAfterStop = Duration.seconds(1)

export const make = (options: MakeOptions): Effect.Effect<AppService, InvalidAppOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const appName = options.name
    if (typeof appName !== "string" || appName.trim() === "") {
      return yield* new InvalidAppOptions({
        reason: `the app's name must be a non-empty string, got ${String(appName)}.`
      })
    }
    const decodedGrace = decodeNonNegative(options.gracefulShutdownTimeout ?? "15 seconds")
    if (Option.isNone(decodedGrace)) {
      return yield* new InvalidAppOptions({
        reason: `gracefulShutdownTimeout ${String(options.gracefulShutdownTimeout)} is not ${durationHint}.`
      })
    }
    const grace = decodedGrace.value
    const appRuntime = yield* Effect.runtime<never>()
    const runInApp = Runtime.runFork(appRuntime)
    const logAnnotations = { app: appName }

    const tasksScope = yield* Scope.make()
    const fiberMap = yield* Scope.extend(FiberMap.make<string | number>(), tasksScope)
    const records = new Map<string, TaskRecord<any, any>>()
    let queue: Array<PendingTask> = []
    let tasksLive = false
    /** Set once the tasks have been ended: later tasks are cancelled as they are added. */
    let tasksEnded = false
    let nextKey = 0

    let state: State = "idle"
    /** The fiber running `startWith`, so that a stop during the start can cut it short. */
    let starter: Fiber.RuntimeFiber<unknown, unknown> | undefined
    /** When the current stop must be over (epoch milliseconds on the Clock), once a serving app stops. */
    let stopDeadline: number | undefined
    /** The grace period of the current stop: the app's own, or the one its caller asked for. */
    let stopGrace = grace
    const stopped = yield* Deferred.make<void>()
    const listeners: Array<Listener> = []
    let listenerSeq = 0

    /** Where `scope: "all"` dispatches go beyond this process; bound by the server of a primary or a worker. */
    let transport: Transport | undefined
    const useTransport = (next: Transport) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          transport = next
        }),
        () =>
          Effect.sync(() => {
            if (transport === next) transport = undefined
          })
      )
    const shared: SharedValues = { values: new Map(), mode: "open" }

    const report = (context: EventContext, message: string, cause: Cause.Cause<unknown>) =>
      Effect.logError(message, cause).pipe(
        Effect.annotateLogs({ ...logAnnotations, ...context }),
        Effect.zipRight(registry.dispatch("server.exception.report", { context: { ...context, cause } })),
        Effect.ignore
      )

    const registry: Events.Registry = yield* Events.make({
      onHandlerFailure: (event, cause) =>
        event === "server.exception.report"
          ? Effect.logError(`Handler for event "${event}" failed`, cause).pipe(
              Effect.annotateLogs({ ...logAnnotations, event })
            )
          : report({ event }, `Handler for event "${event}" failed`, cause),
      transport: {
        publish: (event, dispatchOptions) =>
          Effect.suspend(() => (transport === undefined ? Effect.void : transport.publish(event, dispatchOptions)))
      }
    })

    const startTask = (
      record: TaskRecord<any, any>,
      key: string | number,
      effect: Effect.Effect<any, any, any>,
      context: Context.Context<any>,
      fiberRefs: FiberRefs.FiberRefs,
      startedAt: number
    ): void => {
      const runtime = Runtime.make<any>({ context, fiberRefs, runtimeFlags: Runtime.defaultRuntime.runtimeFlags })
      const fiber = Runtime.runFork(runtime)(effect)
      record.fiberOrUndefined = fiber
      record.startedAt = startedAt
      FiberMap.unsafeSet(fiberMap, key, fiber)
      fiber.addObserver((exit) => {
        record.end(exit)
        if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
          const task = record.name ?? "(unnamed)"
          runInApp(report({ task }, `Task "${task}" failed`, exit.cause))
        }
      })
    }

    const startPending = (pending: PendingTask): void =>
      startTask(pending.record, pending.key, pending.effect, pending.context, pending.fiberRefs, Date.now())

    // Most tasks are added from the same few fibers: remember the last context we added the app to.
    let lastParentContext: Context.Context<never> | undefined
    let lastTaskContext: Context.Context<any> | undefined
    const taskContext = (parentContext: Context.Context<never>): Context.Context<any> => {
      if (parentContext !== lastParentContext) {
        lastParentContext = parentContext
        lastTaskContext = parentContext.unsafeMap.has(App.key)
          ? (parentContext as Context.Context<any>)
          : Context.add(parentContext as Context.Context<any>, App, service)
      }
      return lastTaskContext!
    }

    const addTask = <A, E, R>(
      task: TaskInput<A, E, R>,
      taskOptions?: { readonly name?: string | undefined; readonly register?: boolean | undefined }
    ) =>
      Effect.withFiberRuntime<TaskRecord<A, E>, TaskNameInUse | InvalidTaskName, Exclude<R, App>>((parent) => {
        const name = taskOptions?.name
        let register = false
        if (name !== undefined) {
          const reason = validateName(name)
          if (reason !== undefined) return Effect.fail(new InvalidTaskName({ name, reason }))
          if (taskOptions?.register !== false) {
            register = true
            const existing = records.get(name)
            if (existing !== undefined) {
              if (existing.exit === undefined) return Effect.fail(new TaskNameInUse({ name }))
              records.delete(name)
            }
          }
        }
        const record = new TaskRecord<A, E>(name, Date.now())
        if (register) records.set(name!, record)
        const key = register ? name! : nextKey++
        const effect = Effect.isEffect(task) ? task : Effect.suspend(() => task(service))
        if (tasksLive)
          startTask(record, key, effect, taskContext(parent.currentContext), parent.getFiberRefs(), record.addedAt)
        else if (tasksEnded) record.cancelPending()
        else
          queue.push({
            record,
            key,
            effect,
            context: taskContext(parent.currentContext),
            fiberRefs: parent.getFiberRefs()
          })
        return Effect.succeed(record)
      })

    const getTask = (name: string) =>
      Effect.suspend(() => {
        const record = records.get(name)
        return record === undefined ? Effect.fail(new TaskNotFound({ name })) : Effect.succeed(record)
      })

    const findTask = (name: string) => Effect.sync(() => Option.fromNullable(records.get(name)))

    const cancelTask = (name: string, cancelOptions?: { readonly reason?: string | undefined }) =>
      Effect.suspend(() => {
        const record = records.get(name)
        if (record === undefined) return Effect.fail(new TaskNotFound({ name }))
        if (record.exit !== undefined) return Effect.void
        const fiber = record.fiberOrUndefined
        const cancel =
          fiber === undefined ? Effect.sync(() => record.cancelPending()) : Effect.asVoid(Fiber.interrupt(fiber))
        const reason = cancelOptions?.reason
        if (reason === undefined) return cancel
        return Effect.zipRight(
          cancel,
          Effect.logInfo(`Task "${name}" cancelled: ${reason}`).pipe(
            Effect.annotateLogs({ ...logAnnotations, task: name })
          )
        )
      })

    const purgeTasks = Effect.sync(() => {
      let purged = 0
      for (const [name, record] of records) {
        if (record.exit !== undefined) {
          records.delete(name)
          purged++
        }
      }
      return purged
    })

    const unsafeTasks = () => Array.from(records.values())

    const listener = <R>(
      kind: ListenerKind,
      effect: Effect.Effect<unknown, unknown, R>,
      listenerOptions?: { readonly priority?: number | undefined }
    ) =>
      Effect.contextWith((context: Context.Context<Exclude<R, App>>) => {
        const full = context.unsafeMap.has(App.key) ? context : Context.add(context, App, service)
        listeners.push({
          kind,
          effect: Effect.provide(effect, full as Context.Context<R>),
          priority: listenerOptions?.priority ?? 0,
          seq: listenerSeq++
        })
      })

    const listenersOf = (kind: ListenerKind): Array<Listener> => {
      const selected = listeners
        .filter((l) => l.kind === kind)
        .sort((a, b) => (b.priority !== a.priority ? b.priority - a.priority : a.seq - b.seq))
      return startKinds.has(kind) ? selected : selected.reverse()
    }

    const runListeners = (kind: ListenerKind): Effect.Effect<void, StartError> =>
      Effect.suspend(() => {
        const selected = listenersOf(kind)
        const event = eventOfKind[kind]
        if (startKinds.has(kind)) {
          const run = Effect.forEach(
            selected,
            (l, index) =>
              Effect.catchAllCause(
                l.effect,
                (cause) =>
                  new StartError({
                    reason: `${kind} listener #${index + 1} failed: ${Cause.pretty(cause).split("\n")[0]}`,
                    listener: kind,
                    cause
                  })
              ),
            { discard: true }
          )
          return event === undefined
            ? run
            : Effect.zipRight(run, Effect.ignore(registry.dispatch(event, { inline: true })))
        }
        const run = Effect.forEach(
          selected,
          (l) =>
            Effect.catchAllCause(l.effect, (cause) => report({ listener: kind }, `${kind} listener failed`, cause)),
          { discard: true }
        )
        if (kind === "main_process_stop") {
          // Runs after the server's stop (or the workers'), outside `stopWith`: it gets what is left of the stop's
          // deadline, or the grace period, and at least as long as `after_server_stop` listeners.
          return Effect.flatMap(Clock.currentTimeMillis, (now) =>
            boundedPhase(kind, run, stopDeadline ?? now + Duration.toMillis(grace), Duration.toMillis(minimumAfterStop))
          )
        }
        return event === undefined
          ? run
          : Effect.zipRight(run, Effect.ignore(registry.dispatch(event, { inline: true })))
      })

    const startQueued = () => {
      tasksLive = true
      const pending = queue
      queue = []
      for (const task of pending) if (task.record.exit === undefined) startPending(task)
    }

    const cancelQueued = () => {
      const pending = queue
      queue = []
      for (const task of pending) task.record.cancelPending()
    }

    const startWith = <E, R>(bind: Effect.Effect<void, E, R>): Effect.Effect<void, StartError | E, R> =>
      Effect.suspend(() => {
        if (state !== "idle") {
          return Effect.fail(
            new StartError({ reason: `the app "${appName}" is ${state}; an app starts once, from "idle"` })
          )
        }
        state = "starting"
        // A stop during the start moves the state on: each step checks that the start still stands.
        const stillStarting = (next: Effect.Effect<void>) =>
          Effect.suspend(() =>
            state === "starting"
              ? next
              : Effect.fail(new StartError({ reason: `the app "${appName}" was stopped while starting` }))
          )
        return Effect.withFiberRuntime<void, StartError | E, R>((fiber) => {
          starter = fiber
          return runListeners("before_server_start").pipe(
            Effect.zipRight(stillStarting(Effect.void)),
            Effect.zipRight(bind),
            Effect.zipRight(stillStarting(Effect.sync(startQueued))),
            Effect.zipRight(runListeners("after_server_start")),
            Effect.zipRight(
              stillStarting(
                Effect.sync(() => {
                  state = "serving"
                })
              )
            )
          )
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              starter = undefined
            })
          ),
          Effect.onError(() => endTasks(Duration.toMillis(grace)).pipe(Effect.ensuring(finish)))
        )
      })

    const finish = Effect.suspend(() => {
      state = "stopped"
      return Deferred.done(stopped, Exit.void)
    })

    /** Interrupts every task, waiting for them at most `millis`; names the ones that did not end. */
    const endTasks = (millis: number) =>
      Effect.suspend(() => {
        tasksLive = false
        cancelQueued()
        // Once closed, a FiberMap cannot even be iterated: end the tasks once.
        if (tasksEnded) return Effect.void
        tasksEnded = true
        const running = Array.from(fiberMap)
        if (running.length === 0) return Scope.close(tasksScope, Exit.void)
        return bounded(Scope.close(tasksScope, Exit.void), millis).pipe(
          Effect.flatMap((ended) => (ended ? Effect.void : logStragglers(running)))
        )
      })

    const logStragglers = (running: ReadonlyArray<readonly [string | number, Fiber.RuntimeFiber<unknown, unknown>]>) =>
      Effect.suspend(() => {
        const names: Array<string> = []
        let unregistered = 0
        for (const [key, fiber] of running) {
          if (fiber.unsafePoll() !== null) continue
          if (typeof key === "string") names.push(key)
          else unregistered++
        }
        return Effect.logWarning(
          `Graceful shutdown timeout (${Duration.format(stopGrace)}) reached; tasks still running: ` +
            (names.length > 0 ? names.map((n) => JSON.stringify(n)).join(", ") : "none registered") +
            (unregistered > 0 ? ` and ${unregistered} unregistered` : "")
        ).pipe(Effect.annotateLogs({ ...logAnnotations, tasks: names }))
      })

    const remainingMillis = (deadline: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, deadline - now))

    const boundedPhase = (name: string, effect: Effect.Effect<void>, deadline: number, atLeast = 0) =>
      remainingMillis(deadline).pipe(
        Effect.flatMap((millis) => bounded(effect, Math.max(millis, atLeast))),
        Effect.flatMap((ended) =>
          ended
            ? Effect.void
            : Effect.logWarning(`Graceful shutdown timeout reached during ${name}; moving on`).pipe(
                Effect.annotateLogs(logAnnotations)
              )
        )
      )

    const stopWith = (
      drain: Effect.Effect<void>,
      stopOptions?: { readonly timeout?: Duration.DurationInput | undefined }
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        switch (state) {
          case "stopping":
          case "stopped":
            return Deferred.await(stopped)
          case "idle": {
            state = "stopping"
            return endTasks(0).pipe(Effect.ensuring(finish))
          }
          case "starting": {
            // Cut the start short; its own clean-up ends the tasks and marks the app stopped. A start stuck
            // where it cannot be interrupted gets the grace period, then the tasks are ended here.
            state = "stopping"
            starter?.unsafeInterruptAsFork(FiberId.none)
            return bounded(Deferred.await(stopped), Duration.toMillis(grace)).pipe(
              Effect.flatMap((ended) => (ended ? Effect.void : endTasks(0).pipe(Effect.ensuring(finish))))
            )
          }
          case "serving":
            break
        }
        state = "stopping"
        return Effect.gen(function* () {
          stopGrace = Option.getOrElse(decodeNonNegative(stopOptions?.timeout ?? grace), () => grace)
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(stopGrace)
          stopDeadline = deadline
          yield* boundedPhase("before_server_stop", Effect.ignore(runListeners("before_server_stop")), deadline)
          yield* boundedPhase("draining", drain, deadline)
          yield* Effect.flatMap(remainingMillis(deadline), endTasks)
          yield* boundedPhase(
            "after_server_stop",
            Effect.ignore(runListeners("after_server_stop")),
            deadline,
            Duration.toMillis(minimumAfterStop)
          )
        }).pipe(Effect.ensuring(finish), Effect.uninterruptible)
      })

    yield* Effect.addFinalizer(() => stopWith(Effect.void))

    const service: AppService = {
      name: appName,
      gracefulShutdownTimeout: grace,
      state: Effect.sync(() => state),
      start: startWith(Effect.void),
      stop: stopWith(Effect.void),
      startWith,
      stopWith,
      runListeners,
      listener,
      addTask,
      getTask,
      findTask,
      cancelTask,
      purgeTasks,
      tasks: Effect.sync(unsafeTasks),
      unsafeTasks,
      dispatch: registry.dispatch,
      event: registry.event,
      signal: <R>(event: string, handler: Handler<R>, signalOptions?: SignalOptions) =>
        Effect.provideService(registry.signal(event, handler, signalOptions), App, service),
      hasListeners: registry.hasListeners
    }
    const hooks: Hooks = {
      startWith,
      stopWith,
      runListeners,
      hasListeners: registry.hasListeners,
      unsafeTasks,
      dispatchLocal: registry.dispatchLocal,
      useTransport,
      shared
    }
    Object.defineProperty(service, HooksTypeId, { value: hooks })
    return service
  })

/**
 * Runs `effect` on its own fiber and waits for it at most `millis` (on the Clock, so TestClock drives it).
 * Never waits past the bound, even from an uninterruptible region or for an effect that ignores interruption:
 * on time-out the effect is interrupted in the background and `false` is returned.
 */
const bounded = (effect: Effect.Effect<void>, millis: number): Effect.Effect<boolean> =>
  Effect.withFiberRuntime((parent) => {
    const runtime = Runtime.make({
      context: parent.currentContext,
      fiberRefs: parent.getFiberRefs(),
      runtimeFlags: Runtime.defaultRuntime.runtimeFlags
    })
    const fork = Runtime.runFork(runtime)
    return Effect.async<boolean>((resume) => {
      let done = false
      const work = fork(effect)
      const timer = fork(Effect.sleep(Duration.millis(millis)))
      work.addObserver(() => {
        if (done) return
        done = true
        timer.unsafeInterruptAsFork(FiberId.none)
        resume(Effect.succeed(true))
      })
      timer.addObserver((exit) => {
        if (done || exit._tag === "Failure") return
        done = true
        work.unsafeInterruptAsFork(FiberId.none)
        resume(Effect.succeed(false))
      })
    })
  })
