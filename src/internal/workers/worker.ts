import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, FiberId, Runtime } from "effect"
import type { AppService } from "../../App.js"
import type { DispatchOptions } from "../../Events.js"
import type { Task } from "../../Task.js"
import type { SupervisorService, WorkerInfo } from "../../Workers.js"
import { hooksOf } from "../hooks.js"
import { TaskNotFound } from "../task/errors.js"
import { info, type TaskRecord } from "../task/record.js"
import { prepare } from "./custom.js"
import { WorkerNotFound, WorkersError } from "./errors.js"
import { Replies } from "./ipc.js"
import { dispatchOptions } from "./process.js"
import * as Protocol from "./protocol.js"
import { receive } from "./shared.js"
import { ambiguous, workerState } from "./single.js"

const initTimeout = Duration.seconds(10)
const closedTimeout = Duration.seconds(1)
/** The primary asks every worker in turn, each within its own timeout: room for a few. */
const askTimeout = Duration.seconds(15)

/** Throws when the message does not serialise (an event context holding a bigint or a cycle). */
const send = (message: Protocol.ToPrimary): void => {
  if (process.send === undefined || !process.connected) return
  process.send(Protocol.writeToPrimary(message), undefined, undefined, () => {})
}

/**
 * A worker: gets the shared values from the primary, serves (`serve` binds and starts the app), then acknowledges.
 * Answers the primary's questions about its tasks, stops when asked, and carries `scope: "all"` dispatches out.
 */
export const run = <A extends Served, E, R>(
  app: AppService,
  serve: (listenerClosed: Effect.Effect<void>, supervisor: SupervisorService) => Effect.Effect<A, E, R | Scope.Scope>,
  options?: {
    /** A fleet places one-in-fleet tasks itself and limits what a dispatch carries. */
    readonly fleet?: { readonly maxContextBytes: number } | undefined
  }
): Effect.Effect<{ readonly served: A; readonly supervisor: SupervisorService }, E | WorkersError, R | Scope.Scope> =>
  Effect.gen(function* () {
    const hooks = hooksOf(app)
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const init = Deferred.unsafeMake<{
      readonly worker: string
      readonly shared: Readonly<Record<string, unknown>>
    }>(FiberId.none)
    /** The copies of one-worker tasks waiting here for the primary's word, by claim. */
    const waiting = new Map<number, Deferred.Deferred<boolean>>()
    /** The primary's word on copies announced with `ready` whose fibers have not asked yet, by claim. */
    const early = new Map<number, boolean>()
    /** The copies of one-worker tasks recorded here and not started: waiting for their turn. */
    const announced = (): ReadonlyArray<{ readonly name: string; readonly claim: number }> =>
      hooks.unsafeTasks().flatMap((task) => {
        const policy = (task as TaskRecord).policy
        const machineWide =
          policy?.placement === "one-worker" || (policy?.placement === "one-in-fleet" && options?.fleet === undefined)
        return machineWide && task.name !== undefined && task.unsafeStatus() === "pending"
          ? [{ name: task.name, claim: policy.claim }]
          : []
      })

    const answer = (call: Protocol.Call): Effect.Effect<Protocol.Answer> => {
      switch (call._tag) {
        case "fiberapp.listTasks":
          return Effect.sync(() => ({ _tag: "Tasks" as const, tasks: hooks.unsafeTasks().map(infoOf) }))
        case "fiberapp.cancelTask":
          return app.cancelTask(call.name).pipe(
            Effect.as<Protocol.Answer>({ _tag: "Cancelled" }),
            Effect.catchTag("TaskNotFound", (error) =>
              Effect.succeed<Protocol.Answer>({ _tag: "NotFound", name: error.name })
            )
          )
        case "fiberapp.listMetrics":
          // Loaded on the first question: a worker whose metrics nobody asks for never loads OpenTelemetry.
          return Effect.tryPromise(() => import("../metrics/prometheus.js")).pipe(
            Effect.flatMap((prometheus) => prometheus.collect(app.name)),
            Effect.map((scopeMetrics): Protocol.Answer => ({ _tag: "Metrics", scopeMetrics })),
            Effect.catchAll((error) =>
              Effect.succeed<Protocol.Answer>({ _tag: "Failed", message: `Cannot read the metrics: ${error.message}` })
            )
          )
      }
    }

    const stop = Effect.gen(function* () {
      const current = yield* app.state
      if (current === "stopping" || current === "stopped") return
      if (process.listenerCount("SIGTERM") > 0) {
        process.kill(process.pid, "SIGTERM")
        return
      }
      // Nobody handles SIGTERM (the entry point does not use `NodeRuntime.runMain`): stop the app ourselves.
      yield* app.stop.pipe(Effect.ensuring(Effect.sync(() => process.exit(0))))
    })

    const closedSeen = new Replies<void, void>()
    // Bounded: without an answer in time the worker goes on stopping.
    const listenerClosed = Effect.suspend(() =>
      process.send === undefined || !process.connected
        ? Effect.void
        : Effect.ignore(
            closedSeen.ask(
              (id) => send({ _tag: "fiberapp.closed", id }),
              closedTimeout,
              () => undefined
            )
          )
    )

    const onMessage = (raw: unknown): void => {
      const read = Protocol.readToWorker(raw)
      if (read === undefined) return
      if (read._tag === "Left") {
        runFork(Effect.logWarning(`Unreadable message from the primary: ${read.left}`))
        return
      }
      const message = read.right
      switch (message._tag) {
        case "fiberapp.init":
          Deferred.unsafeDone(init, Exit.succeed({ worker: message.worker, shared: message.shared }))
          return
        case "fiberapp.grant": {
          const { claim, name, run } = message
          const waiter = waiting.get(claim)
          if (waiter !== undefined) {
            waiting.delete(claim)
            Deferred.unsafeDone(waiter, Exit.succeed(run))
          } else if (announced().some((copy) => copy.claim === claim)) {
            early.set(claim, run)
          } else if (run) {
            // The copy it names has ended since: the primary must choose again.
            send({ _tag: "fiberapp.release", name, claim, ended: false })
          }
          return
        }
        case "fiberapp.answered":
          asked.answer(message.id, message.answer)
          return
        case "fiberapp.closedSeen": {
          closedSeen.answer(message.id, undefined)
          return
        }
        case "fiberapp.stop":
          runFork(stop)
          return
        case "fiberapp.event":
          if (message.app === app.name)
            runFork(Effect.ignore(hooks.dispatchLocal(message.event, dispatchOptions(message))))
          return
        case "fiberapp.request":
          runFork(
            Effect.flatMap(answer(message.call), (result) =>
              Effect.sync(() => send({ _tag: "fiberapp.reply", id: message.id, answer: result }))
            )
          )
          return
      }
    }

    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("message", onMessage)),
      () => Effect.sync(() => process.off("message", onMessage))
    )
    send({ _tag: "fiberapp.hello", pid: process.pid })
    const { shared, worker } = yield* Deferred.await(init).pipe(
      Effect.timeoutFail({
        duration: initTimeout,
        onTimeout: () =>
          new WorkersError({
            reason: "NoAnswer",
            detail: `The primary process did not answer this worker within ${Duration.format(initTimeout)}.`
          })
      })
    )
    receive(hooks.shared, shared)

    yield* hooks.usePlacement({
      worker,
      claim: (name, claim) =>
        Effect.suspend(() => {
          const answer = early.get(claim)
          if (answer !== undefined) {
            early.delete(claim)
            return Effect.succeed(answer)
          }
          const waiter = Deferred.unsafeMake<boolean>(FiberId.none)
          waiting.set(claim, waiter)
          send({ _tag: "fiberapp.hold", name, claim })
          return Deferred.await(waiter)
        }),
      release: (name, claim, ended) =>
        Effect.sync(() => {
          waiting.delete(claim)
          early.delete(claim)
          send({ _tag: "fiberapp.release", name, claim, ended })
        })
    })

    // scope: "all" task operations go through the primary, which asks every worker.
    const asked = new Replies<Protocol.AskAnswer, WorkersError>()
    const ask = (call: Protocol.Ask["call"], timeout: Duration.Duration = askTimeout) =>
      asked.ask(
        (id) => send({ _tag: "fiberapp.ask", id, call }),
        timeout,
        () =>
          new WorkersError({
            reason: "NoAnswer",
            detail: `The primary did not answer within ${Duration.format(timeout)}.`
          })
      )
    const refused = (answer: Protocol.AskAnswer) =>
      answer._tag !== "Refused"
        ? new WorkersError({ reason: "NoAnswer", detail: `Unexpected answer from the primary: ${answer._tag}.` })
        : answer.reason === "WorkerNotFound"
          ? new WorkerNotFound({ worker: answer.worker ?? "?" })
          : new WorkersError({ reason: answer.kind ?? "NoAnswer", detail: answer.message })
    yield* hooks.useReach({
      tasks: Effect.flatMap(ask({ _tag: "fiberapp.askTasks" }), (answer) =>
        answer._tag === "WorkerTasks"
          ? Effect.succeed(answer.tasks.map((task) => Protocol.workerTaskOf(task.worker, task)))
          : Effect.fail(refused(answer) as WorkersError)
      ),
      cancel: (name, target) =>
        Effect.flatMap(
          ask({ _tag: "fiberapp.askCancel", name, ...(target !== undefined ? { worker: target } : {}) }),
          (answer) => (answer._tag === "CancelledOn" ? Effect.succeed(answer.count) : Effect.fail(refused(answer)))
        )
    })

    yield* hooks.useTransport({
      publish: (event: string, options: DispatchOptions) =>
        Effect.sync(() =>
          send({
            _tag: "fiberapp.event",
            app: app.name,
            event,
            ...(options.context !== undefined ? { context: options.context } : {}),
            ...(options.condition !== undefined ? { condition: options.condition } : {})
          })
        ),
      maxContextBytes: () => options?.fleet?.maxContextBytes
    })

    const supervisor = workerSupervisor(app, worker, ask, refused)
    const served = yield* serve(listenerClosed, supervisor)
    const address = served.address
    send({
      _tag: "fiberapp.ready",
      pid: process.pid,
      holds: announced(),
      ...(address !== undefined ? { address: { hostname: address.hostname, port: address.port } } : {})
    })
    return { served, supervisor }
  })

/** Restarts and scaling wait for new processes to start, one after another: room for several slow starts. */
const controlTimeout = Duration.minutes(2)

/**
 * A worker's supervisor (Sanic's `app.m`): its own name, pid and state here; everything else asked of the primary
 * over IPC, its refusals coming back as the same typed errors.
 */
const workerSupervisor = (
  app: AppService,
  worker: string,
  ask: (call: Protocol.Ask["call"], timeout?: Duration.Duration) => Effect.Effect<Protocol.AskAnswer, WorkersError>,
  refused: (answer: Protocol.AskAnswer) => WorkersError | WorkerNotFound
): SupervisorService => {
  const expectDone = <E>(
    answer: Protocol.AskAnswer,
    onRefused: (error: WorkersError | WorkerNotFound) => E
  ): Effect.Effect<void, E> => (answer._tag === "Done" ? Effect.void : Effect.fail(onRefused(refused(answer))))
  const asWorkersError = (error: WorkersError | WorkerNotFound): WorkersError =>
    error._tag === "WorkersError" ? error : new WorkersError({ reason: "NotServing", detail: error.message })
  const ownRow: Effect.Effect<WorkerInfo> = Effect.map(app.state, (state) => ({
    name: worker,
    state: workerState(state),
    pid: process.pid,
    startedAt: undefined,
    ackedAt: undefined,
    starts: 1,
    restarts: 0,
    restartedAt: undefined,
    serving: state === "serving",
    lastExit: undefined,
    kind: "server"
  }))
  return {
    mode: "worker",
    app: app.name,
    name: worker,
    pid: process.pid,
    state: Effect.map(app.state, workerState),
    table: ask({ _tag: "fiberapp.askTable" }).pipe(
      Effect.flatMap((answer) =>
        answer._tag === "Table"
          ? Effect.succeed(answer.workers.map(rowOf))
          : Effect.fail(asWorkersError(refused(answer)))
      ),
      Effect.catchAll((error) =>
        Effect.zipRight(
          Effect.logWarning(`The worker table: ${error.message}; only this worker's row is known.`),
          Effect.map(ownRow, (row) => [row])
        )
      )
    ),
    tasks: ask({ _tag: "fiberapp.askTasks" }).pipe(
      Effect.flatMap((answer) =>
        answer._tag === "WorkerTasks"
          ? Effect.succeed(answer.tasks.map((task) => Protocol.workerTaskOf(task.worker, task)))
          : Effect.fail(asWorkersError(refused(answer)))
      ),
      Effect.catchAll((error) => Effect.as(Effect.logWarning(`Listing every worker's tasks: ${error.message}`), []))
    ),
    cancelTask: (target, name) =>
      Effect.flatMap(
        ask({ _tag: "fiberapp.askCancel", name, worker: target }),
        (answer): Effect.Effect<void, TaskNotFound | WorkerNotFound | WorkersError> =>
          answer._tag === "CancelledOn"
            ? answer.count > 0
              ? Effect.void
              : Effect.fail(new TaskNotFound({ name }))
            : Effect.fail(refused(answer))
      ),

    restart: (options) =>
      Effect.suspend(() => {
        if (options?.all === true && options.workers !== undefined) return ambiguous
        // Sanic's `app.m.restart()`: this worker; `all` every worker.
        const workers = options?.workers ?? (options?.all === true ? undefined : [worker])
        return Effect.flatMap(
          ask(
            {
              _tag: "fiberapp.askRestart",
              ...(workers !== undefined ? { workers } : {}),
              ...(options?.zeroDowntime !== undefined ? { zeroDowntime: options.zeroDowntime } : {})
            },
            controlTimeout
          ),
          (answer) => expectDone(answer, (error) => error)
        )
      }),
    scale: (replicas) =>
      Effect.flatMap(ask({ _tag: "fiberapp.askScale", replicas }, controlTimeout), (answer) =>
        expectDone(answer, asWorkersError)
      ),
    // Serving under a primary, this process alone is not stopped on request: `terminate` stops the server.
    shutdown: Effect.void,
    terminate: Effect.flatMap(ask({ _tag: "fiberapp.askTerminate" }), (answer) => expectDone(answer, asWorkersError)),
    setState: (values) =>
      prepare(values).pipe(
        Effect.flatMap((checked) =>
          ask({ _tag: "fiberapp.askSetState", values: checked.values, remove: checked.remove })
        ),
        Effect.flatMap((answer) => expectDone(answer, asWorkersError))
      )
  }
}

/** A table row as JSON carried it (unset fields left out), back to a `WorkerInfo`. */
const rowOf = (row: Readonly<Record<string, unknown>>): WorkerInfo =>
  ({
    pid: undefined,
    startedAt: undefined,
    ackedAt: undefined,
    restartedAt: undefined,
    lastExit: undefined,
    ...row
  }) as unknown as WorkerInfo

/** What a worker's serve sequence gives back: where it listens, if it says. */
export interface Served {
  readonly address?: { readonly hostname: string; readonly port: number } | undefined
}

/** A task's info without its unset fields, as the protocol carries it. */
const infoOf = (task: Task): Protocol.TaskInfo => Protocol.withoutUndefined(info(task)) as unknown as Protocol.TaskInfo
