import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { AddTaskOptions, AppService, ListenerKind, MakeOptions, TaskError, TaskInput } from "../../App.js"
import type { EventContext, Handler, SignalOptions } from "../../Events.js"
import type { InvalidTaskName, InvalidTaskOptions, Task, TaskNameInUse } from "../../Task.js"
import { withAnnotations } from "../annotations.js"
import { decodeNonNegative } from "../duration.js"
import * as Registry from "../events/registry.js"
import { Transport } from "../events/transport.js"
import type { Hooks, SharedValues, Transport as TransportService } from "../hooks.js"
import { HooksTypeId } from "../hooks.js"
import * as Metrics from "../metrics/definitions.js"
import { TaskNotFound } from "../task/errors.js"
import { alone, type Placement } from "../task/placement.js"
import type { WorkerNotFound, WorkersError } from "../workers/errors.js"
import * as Lifecycle from "./lifecycle.js"
import * as Listeners from "./listeners.js"
import * as Reach from "./reach.js"
import { App, InvalidAppOptions } from "./service.js"
import * as Tasks from "./tasks.js"

/** A seam the server fills for as long as its scope is open; what was there before comes back when it closes. */
const binding = <T>(initial: T) => {
  let current = initial
  return {
    get: (): T => current,
    use: (next: T): Effect.Effect<void, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const previous = current
          current = next
          return previous
        }),
        (previous) =>
          Effect.sync(() => {
            if (current === next) current = previous
          })
      ).pipe(Effect.asVoid)
  }
}

export const make = (options: MakeOptions): Effect.Effect<AppService, InvalidAppOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name
    if (typeof name !== "string" || name.trim() === "") {
      return yield* new InvalidAppOptions({ reason: "InvalidName", value: name })
    }
    const decodedGrace = decodeNonNegative(options.gracefulShutdownTimeout ?? "15 seconds")
    if (Option.isNone(decodedGrace)) {
      return yield* new InvalidAppOptions({
        reason: "InvalidGracefulShutdownTimeout",
        value: options.gracefulShutdownTimeout
      })
    }
    const grace = decodedGrace.value
    const decodedRetention = decodeNonNegative(options.taskRetention ?? 0)
    if (Option.isNone(decodedRetention)) {
      return yield* new InvalidAppOptions({ reason: "InvalidTaskRetention", value: options.taskRetention })
    }
    // What the server adds to the app's own log lines (the worker's name, in a worker), for as long as it serves.
    const annotations = binding<Readonly<Record<string, string>> | undefined>(undefined)
    const annotate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.annotateLogs(withAnnotations(effect, annotations.get()), "app", name)
    const runInApp = Runtime.runFork(yield* annotate(Effect.runtime<never>()))
    const clock = yield* Effect.clock

    // Where `scope: "all"` dispatches go beyond this process: a Transport service if one is provided, or what the
    // server of a primary or a worker binds through the hooks.
    const transport = binding<TransportService | undefined>(
      Option.getOrUndefined(yield* Effect.serviceOption(Transport))
    )
    // Which process runs each one-worker task: this one, unless a worker's server binds the machine's choice.
    const placement = binding<Placement>(alone)
    // Which process runs each one-in-fleet task: the machine's choice, unless a fleet binds cluster's.
    const fleetPlacement = binding<Placement | undefined>(undefined)
    const shared: SharedValues = { values: new Map(), mode: "open" }
    const metrics = Metrics.make(name, options.metrics !== false)

    const report = (context: EventContext, message: string, cause: Cause.Cause<unknown>) =>
      annotate(Effect.logError(message, cause).pipe(Effect.annotateLogs(context))).pipe(
        Effect.zipRight(registry.dispatch("server.exception.report", { context: { ...context, cause } })),
        Effect.ignore
      )

    const registry: Registry.Registry = yield* Registry.make({
      app: name,
      metrics,
      annotations: annotations.get,
      onHandlerFailure: (event, cause) =>
        event === "server.exception.report"
          ? annotate(Effect.logError(`Handler for event "${event}" failed`, cause).pipe(Effect.annotateLogs({ event })))
          : report({ event }, `Handler for event "${event}" failed`, cause),
      transport: {
        publish: (event, dispatchOptions) =>
          Effect.suspend(() => {
            const current = transport.get()
            return current === undefined ? Effect.void : current.publish(event, dispatchOptions)
          }),
        maxContextBytes: () => transport.get()?.maxContextBytes?.()
      }
    })

    const tasks = yield* Tasks.make({
      clock,
      app: () => service,
      onFailure: (task, cause) => {
        runInApp(report({ task }, `Task "${task}" failed`, cause))
      },
      onRunFailure: (task, run, cause) => {
        runInApp(report({ task, run }, `Task "${task}" run ${run} failed; its schedule goes on`, cause))
      },
      onSkipped: (task, run, ticks) => {
        runInApp(
          annotate(
            Effect.logWarning(
              `Task "${task}" run ${run} was still going at ${ticks} later tick${ticks === 1 ? "" : "s"} of its cron; ` +
                `${ticks === 1 ? "it was" : "they were"} skipped`
            ).pipe(Effect.annotateLogs({ task, run }))
          )
        )
      },
      placement: placement.get,
      fleetPlacement: () => fleetPlacement.get() ?? placement.get(),
      retention: Duration.toMillis(decodedRetention.value),
      onAddedAfterStop: (task) => {
        runInApp(
          annotate(
            Effect.logWarning(
              `Task "${task}" was added after the app stopped: it is recorded as cancelled and never runs ` +
                "(this is said once per app)"
            )
          )
        )
      },
      annotations: annotations.get,
      metrics
    })
    const reach = binding<Reach.Reach>(Reach.alone(tasks))
    const listeners = Listeners.make()
    const lifecycle = yield* Lifecycle.make({
      app: name,
      grace,
      clock,
      tasks,
      listeners,
      dispatch: registry.dispatchLocal,
      report,
      annotate
    })
    yield* Effect.addFinalizer(() => lifecycle.stopWith(Effect.void))

    const withApp = <R>(context: Context.Context<R>): Context.Context<R | App> =>
      Option.isSome(Context.getOption(context, App))
        ? (context as Context.Context<R | App>)
        : Context.add(context, App, service)

    const listener = <R>(
      kind: ListenerKind,
      effect: Effect.Effect<unknown, unknown, R>,
      listenerOptions?: { readonly priority?: number | undefined }
    ) =>
      Effect.contextWith((context: Context.Context<Exclude<R, App>>) => {
        listeners.add(
          kind,
          Effect.provide(effect, withApp(context) as Context.Context<R>),
          listenerOptions?.priority ?? 0
        )
      })

    interface ScopeOptions {
      readonly scope?: "local" | "all" | undefined
    }
    const everywhere = (options: ScopeOptions | undefined): boolean => options?.scope === "all"
    /** Every worker's view of the task `name` (`scope: "all"`). */
    const viewsOf = (task: string) =>
      Effect.suspend(() => Effect.map(reach.get().tasks, (all) => all.filter((view) => view.name === task)))

    const cancelTask = (
      task: string,
      cancelOptions?: ScopeOptions & { readonly reason?: string | undefined; readonly worker?: string | undefined }
    ) => {
      const reason = cancelOptions?.reason
      const cancel: Effect.Effect<void, TaskNotFound | WorkerNotFound | WorkersError> = everywhere(cancelOptions)
        ? Effect.suspend(() =>
            Effect.flatMap(reach.get().cancel(task, cancelOptions?.worker), (count) =>
              count === 0 ? Effect.fail(new TaskNotFound({ name: task })) : Effect.void
            )
          )
        : tasks.cancel(task, reason)
      if (reason === undefined) return cancel
      return Effect.zipRight(
        cancel,
        annotate(Effect.logInfo(`Task "${task}" cancelled: ${reason}`).pipe(Effect.annotateLogs({ task })))
      )
    }

    const getTask = (task: string, options?: ScopeOptions) =>
      everywhere(options)
        ? Effect.flatMap(viewsOf(task), (views) =>
            views.length === 0 ? Effect.fail(new TaskNotFound({ name: task })) : Effect.succeed(views)
          )
        : tasks.get(task)

    const findTask = (task: string, options?: ScopeOptions) => (everywhere(options) ? viewsOf(task) : tasks.find(task))

    const listTasks = (options?: ScopeOptions) =>
      everywhere(options) ? Effect.suspend(() => reach.get().tasks) : Effect.sync(tasks.list)

    const service: AppService = {
      name,
      gracefulShutdownTimeout: grace,
      state: lifecycle.state,
      start: lifecycle.startWith(Effect.void),
      stop: lifecycle.stopWith(Effect.void),
      listener,
      // A record's error type widens with TaskTimeout when its options set a timeout: `TaskError` says so.
      addTask: <A, E, R, const O extends AddTaskOptions<A, E>>(task: TaskInput<A, E, R>, addOptions?: O) =>
        tasks.add(task, addOptions) as Effect.Effect<
          Task<A, TaskError<E, O>>,
          TaskNameInUse | InvalidTaskName | InvalidTaskOptions,
          Exclude<R, App>
        >,
      // One implementation per method; the overloads of AppService tell which options give which answer.
      getTask: getTask as AppService["getTask"],
      findTask: findTask as AppService["findTask"],
      cancelTask: cancelTask as AppService["cancelTask"],
      listTasks: listTasks as AppService["listTasks"],
      purgeTasks: tasks.purge,
      tasks: Effect.sync(tasks.list),
      dispatch: registry.dispatch,
      event: registry.event,
      events: registry.events,
      signal: <R>(event: string, handler: Handler<R>, signalOptions?: SignalOptions) =>
        Effect.provideService(registry.signal(event, handler, signalOptions), App, service)
    }
    const hooks: Hooks = {
      startWith: lifecycle.startWith,
      stopWith: lifecycle.stopWith,
      runListeners: lifecycle.runListeners,
      hasListeners: registry.hasListeners,
      listening: registry.listening,
      unsafeTasks: tasks.list,
      dispatchLocal: registry.dispatchLocal,
      useTransport: transport.use,
      usePlacement: placement.use,
      useFleetPlacement: fleetPlacement.use,
      useReach: reach.use,
      useLogAnnotations: annotations.use,
      shared,
      metrics,
      managed: new Map()
    }
    // Enumerable, so that an app wrapped with a spread (`{ ...app, dispatch }`) keeps its hooks.
    Object.defineProperty(service, HooksTypeId, { value: hooks, enumerable: true })
    return service
  })
