import type * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type { ListenerKind, State } from "../../App.js"
import type { DispatchOptions, EventContext, InvalidEventName } from "../../Events.js"
import { decodeNonNegative } from "../duration.js"
import { bounded } from "./bounded.js"
import type { Listeners } from "./listeners.js"
import { eventOfKind, startKinds } from "./listeners.js"
import { StartError } from "./service.js"
import type { Stragglers, Tasks } from "./tasks.js"

/** The shortest time `after_server_stop` and `main_process_stop` listeners get, even past the stop's deadline. */
const minimumAfterStop = Duration.seconds(1)

export interface Lifecycle {
  readonly state: Effect.Effect<State>
  readonly startWith: <E, R>(bind: Effect.Effect<void, E, R>) => Effect.Effect<void, StartError | E, R>
  readonly stopWith: (
    drain: Effect.Effect<void>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<void>
  readonly runListeners: (kind: ListenerKind) => Effect.Effect<void, StartError>
}

export interface LifecycleOptions {
  readonly app: string
  readonly grace: Duration.Duration
  readonly clock: Clock.Clock
  readonly tasks: Tasks
  readonly listeners: Listeners
  readonly dispatch: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  /** Logs a failure and dispatches it as `server.exception.report`. */
  readonly report: (context: EventContext, message: string, cause: Cause.Cause<unknown>) => Effect.Effect<void>
  readonly annotate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** The app's state machine: idle, starting, serving, stopping, stopped; each stop bounded by the grace period. */
export const make = (options: LifecycleOptions): Effect.Effect<Lifecycle> =>
  Effect.map(Deferred.make<void>(), (stopped) => {
    const { app, grace, clock, tasks, listeners, annotate } = options
    let state: State = "idle"
    /** The fiber running `startWith`, so that a stop during the start can cut it short. */
    let starter: Fiber.RuntimeFiber<unknown, unknown> | undefined
    /** When the current stop must be over (epoch milliseconds on the Clock), once a serving app stops. */
    let stopDeadline: number | undefined
    let stopGrace = grace

    /** Each listener is a span, `listener <kind>`, in the span of whatever runs the phase. */
    const traced = <A, E, R>(effect: Effect.Effect<A, E, R>, kind: ListenerKind, index: number) =>
      Effect.withSpan(effect, `listener ${kind}`, {
        attributes: { "fiberapp.app": app, "fiberapp.listener": kind, "fiberapp.listener.position": index + 1 }
      })

    const remaining = (deadline: number) => Math.max(0, deadline - clock.unsafeCurrentTimeMillis())

    const dispatchPhase = (kind: ListenerKind) => {
      const event = eventOfKind[kind]
      return event === undefined ? Effect.void : Effect.ignore(options.dispatch(event, { inline: true }))
    }

    const runStart = (kind: ListenerKind): Effect.Effect<void, StartError> =>
      Effect.forEach(
        listeners.of(kind),
        (listener, index) =>
          Effect.catchAllCause(
            traced(listener.effect, kind, index),
            (cause) => new StartError({ reason: "ListenerFailed", app, listener: kind, position: index + 1, cause })
          ),
        { discard: true }
      ).pipe(Effect.zipRight(dispatchPhase(kind)))

    const runStop = (kind: ListenerKind): Effect.Effect<void> => {
      const run = Effect.forEach(
        listeners.of(kind),
        (listener, index) =>
          Effect.catchAllCause(traced(listener.effect, kind, index), (cause) =>
            options.report({ listener: kind }, `${kind} listener failed`, cause)
          ),
        { discard: true }
      )
      // Runs after the server's stop (or the workers'), outside `stopWith`: it gets what is left of the stop's
      // deadline, or the grace period, and at least as long as `after_server_stop` listeners.
      if (kind === "main_process_stop") {
        const deadline = stopDeadline ?? clock.unsafeCurrentTimeMillis() + Duration.toMillis(grace)
        return Effect.suspend(() => boundedPhase(kind, run, deadline, Duration.toMillis(minimumAfterStop)))
      }
      return Effect.zipRight(run, dispatchPhase(kind))
    }

    const runListeners = (kind: ListenerKind): Effect.Effect<void, StartError> =>
      Effect.suspend(() => (startKinds.has(kind) ? runStart(kind) : runStop(kind)))

    const boundedPhase = (name: string, effect: Effect.Effect<void>, deadline: number, atLeast = 0) =>
      Effect.suspend(() => bounded(effect, Math.max(remaining(deadline), atLeast))).pipe(
        Effect.flatMap((ended) =>
          ended
            ? Effect.void
            : annotate(Effect.logWarning(`Graceful shutdown timeout reached during ${name}; moving on`))
        )
      )

    const logStragglers = (left: Stragglers | undefined) =>
      left === undefined
        ? Effect.void
        : annotate(
            Effect.logWarning(
              `Graceful shutdown timeout (${Duration.format(stopGrace)}) reached; tasks still running: ` +
                (left.names.length > 0 ? left.names.map((n) => JSON.stringify(n)).join(", ") : "none registered") +
                (left.unnamed > 0 ? ` and ${left.unnamed} unregistered` : "")
            ).pipe(Effect.annotateLogs({ tasks: left.names }))
          )

    const endTasks = (millis: number) => Effect.flatMap(tasks.end(millis), logStragglers)

    const finish = Effect.suspend(() => {
      state = "stopped"
      return Deferred.done(stopped, Exit.void)
    })

    const startWith = <E, R>(bind: Effect.Effect<void, E, R>): Effect.Effect<void, StartError | E, R> =>
      Effect.suspend(() => {
        if (state !== "idle") return Effect.fail(new StartError({ reason: "NotIdle", app, state }))
        state = "starting"
        // A stop during the start moves the state on: each step checks that the start still stands.
        const stillStarting = (next: Effect.Effect<void>) =>
          Effect.suspend(() =>
            state === "starting" ? next : Effect.fail(new StartError({ reason: "StoppedWhileStarting", app }))
          )
        return Effect.withFiberRuntime<void, StartError | E, R>((fiber) => {
          starter = fiber
          return runListeners("before_server_start").pipe(
            Effect.zipRight(stillStarting(Effect.void)),
            Effect.zipRight(bind),
            Effect.zipRight(stillStarting(tasks.open)),
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

    const stopServing = (drain: Effect.Effect<void>, timeout: Duration.DurationInput | undefined) =>
      Effect.suspend(() => {
        stopGrace = Option.getOrElse(decodeNonNegative(timeout ?? grace), () => grace)
        const deadline = clock.unsafeCurrentTimeMillis() + Duration.toMillis(stopGrace)
        stopDeadline = deadline
        return boundedPhase("before_server_stop", runStop("before_server_stop"), deadline).pipe(
          Effect.zipRight(boundedPhase("draining", drain, deadline)),
          Effect.zipRight(Effect.suspend(() => endTasks(remaining(deadline)))),
          Effect.zipRight(
            boundedPhase(
              "after_server_stop",
              runStop("after_server_stop"),
              deadline,
              Duration.toMillis(minimumAfterStop)
            )
          )
        )
      }).pipe(Effect.ensuring(finish), Effect.uninterruptible)

    const stopWith = (
      drain: Effect.Effect<void>,
      stopOptions?: { readonly timeout?: Duration.DurationInput | undefined }
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        switch (state) {
          case "stopping":
          case "stopped":
            return Deferred.await(stopped)
          case "idle":
            state = "stopping"
            return endTasks(0).pipe(Effect.ensuring(finish))
          case "starting":
            // Cut the start short; its own clean-up ends the tasks and marks the app stopped. A start stuck where it
            // cannot be interrupted gets the grace period, then the tasks are ended here.
            state = "stopping"
            starter?.unsafeInterruptAsFork(FiberId.none)
            return bounded(Deferred.await(stopped), grace).pipe(
              Effect.flatMap((ended) => (ended ? Effect.void : endTasks(0).pipe(Effect.ensuring(finish))))
            )
          case "serving":
            state = "stopping"
            return stopServing(drain, stopOptions?.timeout)
        }
      })

    return { state: Effect.sync(() => state), startWith, stopWith, runListeners }
  })
