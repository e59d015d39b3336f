import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberMap from "effect/FiberMap"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type { AddTaskOptions, AppService, TaskInput } from "../../App.js"
import { withAnnotations } from "../annotations.js"
import * as Metrics from "../metrics/definitions.js"
import type { InvalidTaskOptions } from "../task/errors.js"
import { InvalidTaskName, TaskNameInUse, TaskNotFound, validateName } from "../task/errors.js"
import type { EndStatus, Placement } from "../task/placement.js"
import * as Policy from "../task/policy.js"
import { type Origin, Runs, TaskRecord } from "../task/record.js"
import * as Runner from "../task/runner.js"
import { isTracing, linksTo } from "../tracing.js"
import { bounded } from "./bounded.js"
import { App } from "./service.js"

type Key = string | number

/** The app's tasks: fibers in a `FiberMap` keyed by name, and the records of the named ones. */
export interface Tasks {
  readonly add: <A, E, R>(
    task: TaskInput<A, E, R>,
    options: AddTaskOptions<any, any> | undefined
  ) => Effect.Effect<TaskRecord<A, E>, TaskNameInUse | InvalidTaskName | InvalidTaskOptions, Exclude<R, App>>
  readonly get: (name: string) => Effect.Effect<TaskRecord, TaskNotFound>
  readonly find: (name: string) => Effect.Effect<Option.Option<TaskRecord>>
  /** Interrupts the task; `reason` is what its finalizers read with `Task.cancelReason`. */
  readonly cancel: (name: string, reason?: string) => Effect.Effect<void, TaskNotFound>
  readonly purge: Effect.Effect<number>
  readonly list: () => ReadonlyArray<TaskRecord>
  /** Starts the tasks added so far, and from now on every task as it is added. */
  readonly open: Effect.Effect<void>
  /**
   * Interrupts every task and waits for them at most `millis`; gives the names of those still running then (and how
   * many unnamed ones). Tasks added afterwards are cancelled as they are added.
   */
  readonly end: (millis: number) => Effect.Effect<Stragglers | undefined>
}

export interface Stragglers {
  readonly names: ReadonlyArray<string>
  readonly unnamed: number
}

export interface TasksOptions {
  readonly clock: Clock.Clock
  /** The app handed to tasks that do not have it in their context. */
  readonly app: () => AppService
  /** Called once for each task that fails or dies (not when it is cancelled), unless it is scheduled. */
  readonly onFailure: (name: string, cause: Cause.Cause<unknown>) => void
  /** Called for each failed run of a scheduled task. */
  readonly onRunFailure: (name: string, run: number, cause: Cause.Cause<unknown>) => void
  /** Called when cron ticks came due while a run was still going. */
  readonly onSkipped: (name: string, run: number, ticks: number) => void
  /** Where `one-worker` tasks are placed. */
  readonly placement: () => Placement
  /** Where `one-in-fleet` tasks are placed: the machine's one-worker placement unless a fleet binds its own. */
  readonly fleetPlacement: () => Placement
  /** How long (ms) a finished task's record survives `purge`. */
  readonly retention: number
  /** Told of the first task added after the app stopped. */
  readonly onAddedAfterStop: (name: string) => void
  /** Log annotations for the tasks queued before the start, as they start (their fibers were forked before). */
  readonly annotations: () => Readonly<Record<string, string>> | undefined
  /** The app's metrics: tasks added, started, ended by outcome, running, run durations. */
  readonly metrics: Metrics.AppMetrics
}

export const make = (options: TasksOptions): Effect.Effect<Tasks, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { clock, metrics, onFailure } = options
    const scope = yield* Scope.make()
    const fibers = yield* Scope.extend(FiberMap.make<Key>(), scope)
    let records = new Map<string, TaskRecord<any, any>>()
    const origin: Origin = { millis: clock.unsafeCurrentTimeMillis() }
    const started = yield* Effect.makeLatch(false)
    /** Tasks added before the start, in order: their fibers wait for `started`. */
    let pending: Array<TaskRecord<any, any>> = []
    let live = false
    let ended = false
    let nextKey = 0
    let warnedLate = false
    /** Ids of one-worker copies, unique in this app. */
    let nextClaim = 0

    /** Marks a task started (once: a one-worker copy granted again is still the same task). */
    const markStarted = (record: TaskRecord<any, any>, at: number): void => {
      record.startedAt = at
      if (record.started) return
      record.started = true
      Metrics.increment(metrics.tasksStarted)
      Metrics.add(metrics.tasksRunning, 1)
    }

    const recordEnd = (record: TaskRecord<any, any>, exit: Exit.Exit<unknown, unknown>, at: number): void => {
      // A run still going ends with its task: its duration is counted here, as the runner's are after each run.
      const runningSince = record.policy?.runningSince
      record.end(exit, at)
      if (record.started) {
        Metrics.add(metrics.tasksRunning, -1)
        const since = record.policy === undefined ? record.startedAt : runningSince
        if (since !== undefined) Metrics.observeMillis(metrics.taskRunDuration, at - since)
      }
      Metrics.increment(
        exit._tag === "Success"
          ? metrics.tasksSucceeded
          : Cause.isInterruptedOnly(exit.cause)
            ? metrics.tasksCancelled
            : metrics.tasksFailed
      )
    }

    const observe = (record: TaskRecord<any, any>) => (exit: Exit.Exit<unknown, unknown>) => {
      recordEnd(record, exit, clock.unsafeCurrentTimeMillis())
      // An ended fiber is not kept: records outlive their fibers, and holding these would age them all.
      record.fiberOrUndefined = undefined
      // A scheduled task's failed runs were reported as they failed: only a failure from outside a run is left.
      if (
        exit._tag === "Failure" &&
        !Cause.isInterruptedOnly(exit.cause) &&
        (record.policy?.scheduled !== true || exit.cause !== record.policy.reported)
      )
        onFailure(record.name ?? "(unnamed)", exit.cause)
    }

    // A task without the app in its context gets it as its starting context (not as a wrapper, which would cost
    // every task a copy of its fiber refs). Most tasks are added from a few fibers: worked out once per context.
    let lastContext: Context.Context<never> | undefined
    let lastProvided: Context.Context<never> | undefined
    const withApp = <A, E, R>(run: Effect.Effect<A, E, R>, context: Context.Context<never>): Effect.Effect<A, E, R> => {
      if (context !== lastContext) {
        lastContext = context
        lastProvided = Option.isSome(Context.getOption(context, App))
          ? undefined
          : (Context.add(context, App, options.app()) as Context.Context<never>)
      }
      return lastProvided === undefined ? run : Effect.locally(run, FiberRef.currentContext, lastProvided)
    }

    const refuse = (name: string | undefined, register: boolean) => {
      if (name === undefined) return undefined
      const reason = validateName(name)
      if (reason !== undefined) return new InvalidTaskName({ name, reason })
      if (!register) return undefined
      const existing = records.get(name)
      if (existing === undefined) return undefined
      if (existing.exit === undefined) return new TaskNameInUse({ name })
      records.delete(name)
      return undefined
    }

    /**
     * Runs a one-worker (or one-in-fleet) task once the placement grants this copy to this process, and tells the
     * placement when the copy stops, whatever stops it: the release is armed, without a gap, as the grant comes in.
     * A grant taken back while the copy runs stops the run; the copy then waits for its next grant, or ends when the
     * task is over elsewhere.
     */
    const placed = <A, E, R>(
      governed: Effect.Effect<A, E, R>,
      record: TaskRecord<A, E>,
      runs: Runs,
      name: string
    ): Effect.Effect<A, E, R> =>
      // Asked when the task starts: a worker's server binds the machine's placement only as it serves.
      Effect.suspend(() => {
        const placement = runs.placement === "one-in-fleet" ? options.fleetPlacement() : options.placement()
        const claim = runs.claim
        const endStatus = (exit: Exit.Exit<A, E>): EndStatus =>
          exit._tag === "Success" ? "completed" : Cause.isInterrupted(exit.cause) ? "cancelled" : "failed"
        const attempt: Effect.Effect<A, E, R> = Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(
            Effect.onInterrupt(restore(placement.claim(name, claim)), () =>
              placement.release(name, claim, runs.cancelRequested, "cancelled")
            ),
            (granted) => {
              if (!granted) return Effect.interrupt
              markStarted(record, clock.unsafeCurrentTimeMillis())
              runs.worker = placement.worker
              const release = (exit: Exit.Exit<A, E>) =>
                placement.release(
                  name,
                  claim,
                  exit._tag === "Success" || !Cause.isInterrupted(exit.cause) || runs.cancelRequested,
                  runs.cancelRequested ? "cancelled" : endStatus(exit)
                )
              const withdrawn = placement.withdrawn
              if (withdrawn === undefined) return Effect.onExit(restore(governed), release)
              return Effect.flatMap(
                restore(
                  Effect.raceWith(governed, withdrawn(name, claim), {
                    onSelfDone: (exit, other) => Effect.as(Fiber.interrupt(other), Either.left(exit)),
                    onOtherDone: (exit, self) =>
                      Effect.as(Fiber.interrupt(self), Either.right(exit._tag === "Success" && exit.value))
                  })
                ).pipe(Effect.onInterrupt(() => release(Exit.interrupt(FiberId.none)))),
                (outcome) => {
                  if (Either.isLeft(outcome)) return Effect.zipRight(release(outcome.left), outcome.left)
                  if (outcome.right) return Effect.zipRight(release(Exit.interrupt(FiberId.none)), Effect.interrupt)
                  return restore(Effect.suspend(() => attempt))
                }
              )
            }
          )
        )
        return attempt
      })

    // Uninterruptible from the record's registration to the observer on its fiber: an adder interrupted in between
    // (a request's client gone) would leave a record that never ends, and its name in use for good.
    const add = <A, E, R>(task: TaskInput<A, E, R>, addOptions: AddTaskOptions<any, any> | undefined) =>
      Effect.uninterruptible(
        Effect.withFiberRuntime<
          TaskRecord<A, E>,
          TaskNameInUse | InvalidTaskName | InvalidTaskOptions,
          Exclude<R, App>
        >((parent) => {
          const name = addOptions?.name
          const register = name !== undefined && addOptions?.register !== false
          const policy = Policy.decode(name, addOptions)
          if (policy._tag === "Left") return Effect.fail(policy.left)
          const refused = refuse(name, register)
          if (refused !== undefined) return Effect.fail(refused)
          const runs =
            policy.right === undefined
              ? undefined
              : new Runs(policy.right.placement, policy.right.timing !== undefined, nextClaim++)
          const record = new TaskRecord<A, E>(name, origin, clock.unsafeCurrentTimeMillis(), runs)
          if (register) records.set(name, record)
          Metrics.increment(metrics.tasksAdded)
          if (ended) {
            record.cancelUnstarted(record.addedAt)
            Metrics.increment(metrics.tasksCancelled)
            if (!warnedLate) {
              warnedLate = true
              options.onAddedAfterStop(name ?? "(unnamed)")
            }
            return Effect.succeed(record)
          }
          let effect: Effect.Effect<A, E, R> = Effect.isEffect(task) ? task : Effect.suspend(() => task(options.app()))
          // With a tracer of the app's own, each run is a root span linked to the span that added the task: a task
          // outlives the request that added it, and its spans are not the request's.
          const traced = isTracing(parent) ? tracedRun(metrics.app, name, parent.currentSpan) : undefined
          if (runs === undefined) {
            if (traced !== undefined) effect = traced(effect, 1, 1)
          } else {
            effect = Runner.run(effect, {
              name,
              policy: policy.right!,
              runs,
              clock,
              traced,
              onRunEnd: (millis) => Metrics.observeMillis(metrics.taskRunDuration, millis),
              onRunFailure: (run, cause) => options.onRunFailure(name ?? "(unnamed)", run, cause),
              onSkipped: (run, ticks) => options.onSkipped(name ?? "(unnamed)", run, ticks)
            })
            if (runs.placement !== "every-worker") effect = placed(effect, record, runs, name!)
          }
          let run: Effect.Effect<A, E, any>
          if (live) {
            if (!deferred(record)) markStarted(record, record.addedAt)
            run = withAnnotations(effect, options.annotations())
          } else {
            pending.push(record)
            run = Effect.zipRight(
              started.await,
              Effect.suspend(() => withAnnotations(effect, options.annotations()))
            )
          }
          const fork = withApp(FiberMap.run(fibers, register ? name : nextKey++, run), parent.currentContext)
          return Effect.map(fork, (fiber) => {
            record.fiberOrUndefined = fiber
            fiber.addObserver(observe(record))
            return record
          })
        })
      )

    const get = (name: string) =>
      Effect.suspend(() => {
        const record = records.get(name)
        return record === undefined ? Effect.fail(new TaskNotFound({ name })) : Effect.succeed(record)
      })

    const find = (name: string) => Effect.sync(() => Option.fromNullable(records.get(name)))

    const cancel = (name: string, reason?: string) =>
      Effect.flatMap(get(name), (record) => {
        if (record.exit !== undefined || record.fiberOrUndefined === undefined) return Effect.void
        if (reason !== undefined) record.reasonForCancel = reason
        if (record.policy !== undefined) record.policy.cancelRequested = true
        return Effect.asVoid(Fiber.interrupt(record.fiberOrUndefined))
      })

    const purge = Effect.sync(() => {
      const before = clock.unsafeCurrentTimeMillis() - options.retention
      const purgeable = (record: TaskRecord<any, any>) =>
        record.exit !== undefined && (options.retention === 0 || record.endedAt! <= before)
      let purged = 0
      for (const record of records.values()) if (purgeable(record)) purged++
      if (purged === 0) return 0
      // Dropping most of a large table: copying the few kept costs less than looking up each one dropped.
      if (purged > records.size / 2) {
        const kept = new Map<string, TaskRecord<any, any>>()
        for (const [name, record] of records) if (!purgeable(record)) kept.set(name, record)
        records = kept
      } else {
        for (const [name, record] of records) if (purgeable(record)) records.delete(name)
      }
      return purged
    })

    const open = Effect.suspend(() => {
      if (live || ended) return Effect.void
      live = true
      const now = clock.unsafeCurrentTimeMillis()
      for (const record of pending) {
        if (record.exit !== undefined || deferred(record)) continue
        markStarted(record, now)
      }
      pending = []
      return started.open
    })

    const end = (millis: number) =>
      Effect.suspend(() => {
        live = false
        pending = []
        // Once closed, a FiberMap cannot even be iterated: end the tasks once.
        if (ended) return Effect.succeed(undefined)
        ended = true
        const running = Array.from(fibers)
        if (running.length === 0) return Effect.as(Scope.close(scope, Exit.void), undefined)
        return Effect.map(bounded(Scope.close(scope, Exit.void), Duration.millis(millis)), (done) =>
          done ? undefined : stragglers(running)
        )
      })

    yield* Effect.addFinalizer(() => Effect.asVoid(end(0)))

    return { add, get, find, cancel, purge, list: () => Array.from(records.values()), open, end }
  })

/** Wraps each run (each attempt) of a task in its span: `task <name>`, a root linked to the span that added it. */
const tracedRun = (app: string, name: string | undefined, adder: Tracer.AnySpan | undefined): Runner.Traced => {
  const spanName = `task ${name ?? "(unnamed)"}`
  const links = linksTo(adder)
  return (effect, run, attempt) =>
    Effect.withSpan(effect, spanName, {
      root: true,
      links,
      attributes: {
        "fiberapp.app": app,
        "fiberapp.task": name ?? "",
        "fiberapp.task.run": run,
        "fiberapp.task.attempt": attempt
      }
    })
}

/** A one-worker task starts when its placement grants it, not when it is added or the app starts. */
const deferred = (record: TaskRecord<any, any>): boolean =>
  record.policy !== undefined && record.policy.placement !== "every-worker"

const stragglers = (running: ReadonlyArray<readonly [Key, Fiber.RuntimeFiber<unknown, unknown>]>): Stragglers => {
  const names: Array<string> = []
  let unnamed = 0
  for (const [key, fiber] of running) {
    if (fiber.unsafePoll() !== null) continue
    if (typeof key === "string") names.push(key)
    else unnamed++
  }
  return { names, unnamed }
}
