import cluster from "node:cluster"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, Fiber, FiberId, FiberMap, MetricLabel, Runtime, Schedule } from "effect"
import type { AppService } from "../../App.js"
import type { DispatchOptions } from "../../Events.js"
import type { Options, RestartOptions, SupervisorService, WorkerExit } from "../../Workers.js"
import * as Reach from "../app/reach.js"
import type { StartError } from "../app/service.js"
import { hooksOf } from "../hooks.js"
import * as Metrics from "../metrics/definitions.js"
import { mergeCustom, reservedKeyOf } from "./custom.js"
import { defaultRestartSchedule, defaultStartTimeout } from "./defaults.js"
import { type WorkerNotFound, WorkersError } from "./errors.js"
import { Replies } from "./ipc.js"
import { processNames } from "./managed.js"
import * as Placements from "./placements.js"
import { describeExit, dispatchOptions, entryScript, shutdownSelf, stopProcess } from "./process.js"
import * as Protocol from "./protocol.js"
import { withoutUndefined } from "./protocol.js"
import * as Questions from "./questions.js"
import * as Reload from "./reload.js"
import { snapshot } from "./shared.js"
import type { Proc, Slot } from "./slots.js"
import { addManagedSlot, addSlot } from "./slots.js"
import * as Starting from "./starting.js"

export interface PrimaryOptions extends Options {
  readonly app: AppService
  readonly workers: number
  /** How long a worker may take to stop before it is killed. */
  readonly gracefulShutdownTimeout: Duration.Duration
  /** Where this machine's `scope: "all"` dispatches go beyond it (a fleet), besides its workers. */
  readonly outbound?: ((event: string, options: DispatchOptions) => Effect.Effect<void>) | undefined
  /** The largest context `outbound` carries. */
  readonly maxContextBytes?: (() => number | undefined) | undefined
  /** Restart the workers when a source file changes (`Server.Options.autoReload`). */
  readonly autoReload?: boolean | undefined
}

/** What a restart does beyond its options: who asked, and whether the first failure ends it (auto-reload). */
interface RestartControl {
  /** Runs right before a slot's old process is asked to stop. */
  readonly beforeStop?: ((slot: Slot) => void) | undefined
  /** Stop at the first slot that fails to restart, leaving the others as they were. */
  readonly firstFailureStops?: boolean | undefined
}

/** A worker that served this long before it exited had started well: its restarts count from zero again. */
const stableAfter = Duration.seconds(10)

/**
 * The primary: runs `main_process_start`, forks the workers and waits for their acknowledgements, runs
 * `main_process_ready`. Closing the scope asks every worker to stop as on SIGTERM, kills the ones still running after
 * the graceful timeout (plus a margin for their own bounded stop), and runs `main_process_stop`.
 */
export const make = (options: PrimaryOptions): Effect.Effect<Primary, WorkersError | StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const app = options.app
    const hooks = hooksOf(app)
    const clock = yield* Effect.clock
    const grace = options.gracefulShutdownTimeout
    const startTimeout = Duration.decode(options.startTimeout ?? defaultStartTimeout)
    const schedule = options.restartSchedule ?? defaultRestartSchedule
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())

    const slots = new Map<string, Slot>()
    const procs = new Set<Proc>()
    const operations = yield* Effect.makeSemaphore(1)
    /** Whatever works on a slot (its start, its recovery, a restart, its removal) is that slot's one fiber here. */
    const supervisors = yield* FiberMap.make<string>()
    let stopping = false
    let address: { readonly hostname: string; readonly port: number } | undefined

    const send = (proc: Proc, message: Protocol.ToWorker): void => {
      if (!proc.worker.isConnected()) return
      proc.worker.send(Protocol.writeToWorker(message) as any, (error: Error | null) => {
        if (error !== null) runFork(Effect.logDebug(`IPC to worker pid ${proc.pid} failed`, error))
      })
    }

    /** One-worker tasks are placed once the first workers all serve, so the lowest-numbered gets them. */
    let placing = false
    const placements = Placements.make({
      eligible: (proc) =>
        placing &&
        !stopping &&
        !proc.expected &&
        proc.ackedAt !== undefined &&
        proc.slot.current === proc &&
        !proc.slot.removed &&
        proc.worker.isConnected(),
      grant: (proc, name, claim, run) => send(proc, { _tag: "fiberapp.grant", name, claim, run }),
      cancel: (proc, name) =>
        runFork(
          Effect.ignore(
            cancelTask(proc.slot.name, name).pipe(
              Effect.tapError((error) =>
                Effect.logWarning(`Cancelling one-worker task "${name}" on ${proc.slot.name} failed: ${error.message}`)
              )
            )
          )
        ),
      placed: (proc, name) =>
        runFork(Effect.logInfo(`One-worker task "${name}" runs on ${proc.slot.name} (pid ${proc.pid})`))
    })

    /** The server workers' processes that can hear us: managed processes take no part in events or tasks. */
    const live = (): Array<Proc> =>
      Array.from(procs).filter((p) => p.slot.managed === undefined && p.worker.isConnected())

    const forward = (from: Proc | undefined, message: Protocol.Event): void => {
      for (const proc of live()) if (proc !== from) send(proc, message)
    }

    const onMessage = (slot: Slot, proc: Proc, raw: unknown): void => {
      const read = Protocol.readToPrimary(raw)
      if (read === undefined) return
      if (read._tag === "Left") {
        runFork(Effect.logWarning(`Unreadable message from ${slot.name} (pid ${proc.pid}): ${read.left}`))
        return
      }
      const message = read.right
      switch (message._tag) {
        case "fiberapp.hello":
          send(proc, { _tag: "fiberapp.init", worker: slot.name, shared: snapshot(hooks.shared) })
          return
        case "fiberapp.ready":
          if (message.address !== undefined && address === undefined) address = message.address
          proc.ackedAt = clock.unsafeCurrentTimeMillis()
          Deferred.unsafeDone(proc.acked, Exit.void)
          for (const { claim, name } of message.holds) placements.hold(proc, name, claim)
          placements.rebalance()
          return
        case "fiberapp.event": {
          forward(proc, message)
          if (message.app === app.name) {
            runFork(Effect.ignore(hooks.dispatchLocal(message.event, dispatchOptions(message))))
            if (options.outbound !== undefined) runFork(options.outbound(message.event, dispatchOptions(message)))
          }
          return
        }
        case "fiberapp.closed":
          send(proc, { _tag: "fiberapp.closedSeen", id: message.id })
          return
        case "fiberapp.reply": {
          proc.replies.answer(message.id, message.answer)
          return
        }
        case "fiberapp.ask": {
          // The first answer goes: a worker that restarts itself is answered before it is stopped.
          let answered = false
          const reply = (answer: Protocol.AskAnswer): void => {
            if (answered) return
            answered = true
            send(proc, { _tag: "fiberapp.answered", id: message.id, answer })
          }
          runFork(Effect.flatMap(answerAsk(proc, message, reply), (answer) => Effect.sync(() => reply(answer))))
          return
        }
        case "fiberapp.hold":
          placements.hold(proc, message.name, message.claim)
          return
        case "fiberapp.release":
          placements.release(proc, message.name, message.claim, message.ended)
          return
      }
    }

    const onExit = (slot: Slot, proc: Proc, code: number | null, signal: string | null): void => {
      procs.delete(proc)
      placements.gone(proc)
      const exit: WorkerExit = {
        worker: slot.name,
        pid: proc.pid,
        code,
        signal,
        acknowledged: proc.ackedAt !== undefined
      }
      proc.replies.failAll(
        new WorkersError({
          reason: "NoAnswer",
          detail: `Worker ${slot.name} (pid ${proc.pid}) exited before answering.`
        })
      )
      Deferred.unsafeDone(proc.exited, Exit.succeed(exit))
      if (slot.current !== proc) return
      slot.current = undefined
      slot.lastExit = exit
      // Processes that have not acknowledged their start belong to whoever started them.
      if (proc.expected || proc.ackedAt === undefined) return
      if (stopping || slot.removed) {
        slot.state = "stopped"
        return
      }
      const managed = slot.managed
      if (managed !== undefined && (!managed.restartable || (code === 0 && signal === null))) {
        // A program that ended by itself is done; one that failed is restarted only when restartable.
        const completed = code === 0 && signal === null
        slot.state = completed ? "stopped" : "failed"
        if (!managed.tracked) slots.delete(slot.name)
        runFork(
          completed
            ? Effect.logInfo(`Managed process ${slot.name} (pid ${proc.pid}) completed`)
            : Effect.logWarning(
                `Managed process ${slot.name} (pid ${proc.pid}) failed (${describeExit(exit)}); it is not restartable`
              )
        )
        return
      }
      slot.state = "restarting"
      // One that exits soon after its start keeps counting against the schedule, so a crash loop is given up.
      const stable = clock.unsafeCurrentTimeMillis() - proc.ackedAt >= Duration.toMillis(stableAfter)
      runFork(
        Effect.logWarning(
          `Worker ${slot.name} (pid ${proc.pid}) exited unexpectedly (${describeExit(exit)}); restarting it`
        ).pipe(
          Effect.zipRight(
            // A restart or a removal already working on the slot decides what comes next.
            FiberMap.run(
              supervisors,
              slot.name,
              Effect.ignore(stable ? Effect.zipRight(slot.driver.reset, recover(slot, exit)) : recover(slot, exit)),
              { onlyIfMissing: true }
            )
          )
        )
      )
    }

    const spawn = (slot: Slot, replacing: boolean): Proc => {
      const worker = cluster.fork(
        slot.managed === undefined ? { [Protocol.workerEnv]: slot.name } : { [Protocol.managedEnv]: slot.managed.name }
      )
      const now = clock.unsafeCurrentTimeMillis()
      const proc: Proc = {
        slot,
        worker,
        pid: worker.process.pid ?? -1,
        startedAt: now,
        ackedAt: undefined,
        acked: Deferred.unsafeMake(FiberId.none),
        exited: Deferred.unsafeMake(FiberId.none),
        expected: false,
        replies: new Replies(),
        custom: undefined
      }
      procs.add(proc)
      slot.starts++
      if (slot.starts > 1) {
        slot.restarts++
        slot.restartedAt = now
        Metrics.increment(hooks.metrics.workerRestarts, [MetricLabel.make("worker", slot.name)])
      }
      if (!replacing) {
        slot.current = proc
        slot.state = "starting"
      }
      worker.on("message", (raw: unknown) => onMessage(slot, proc, raw))
      worker.on("exit", (code: number | null, signal: string | null) => onExit(slot, proc, code, signal))
      worker.on("error", (error: Error) =>
        runFork(Effect.logWarning(`Worker ${slot.name} (pid ${proc.pid}) IPC error`, error))
      )
      return proc
    }

    const stopProc = (proc: Proc) => stopProcess(proc, (message) => send(proc, message), grace)

    /** Runs `work` as the slot's supervising fiber once the one before it has ended, and waits for it. */
    const supervise = <E>(slot: Slot, work: Effect.Effect<void, E>): Effect.Effect<void, E> =>
      FiberMap.remove(supervisors, slot.name).pipe(
        Effect.zipRight(FiberMap.run(supervisors, slot.name, work)),
        Effect.flatMap(Fiber.join)
      )

    const { ensureServing, recover, startOnce } = Starting.make({
      spawn,
      startTimeout,
      stopping: () => stopping
    })

    const startSlots = (count: number): Effect.Effect<void, WorkersError> =>
      Effect.gen(function* () {
        const added: Array<Slot> = []
        for (let i = 0; i < count; i++) added.push(yield* addSlot(slots, schedule))
        const results = yield* Effect.forEach(added, (slot) => Effect.either(supervise(slot, ensureServing(slot))), {
          concurrency: "unbounded"
        })
        const failed = results.flatMap((r) => (r._tag === "Left" ? [r.left.detail] : []))
        if (failed.length > 0) return yield* new WorkersError({ reason: "StartFailed", detail: failed.join(" ") })
      })

    const stopAll = Effect.suspend(() => {
      stopping = true
      return FiberMap.clear(supervisors).pipe(
        Effect.zipRight(
          Effect.forEach(
            Array.from(procs),
            (proc) => {
              const slot = proc.slot
              if (slot.current === proc) slot.state = "stopping"
              return stopProc(proc).pipe(
                Effect.ensuring(
                  Effect.sync(() => {
                    if (slot.current === proc || slot.current === undefined) slot.state = "stopped"
                  })
                )
              )
            },
            { concurrency: "unbounded", discard: true }
          )
        )
      )
    })

    // A second SIGINT or SIGTERM while stopping kills every worker and this process at once.
    const onSecondSignal = (signal: NodeJS.Signals) => {
      for (const proc of procs) {
        proc.expected = true
        if (!proc.worker.isDead()) proc.worker.process.kill("SIGKILL")
      }
      process.exit(signal === "SIGINT" ? 130 : 143)
    }

    const exec = yield* entryScript(options.exec)
    yield* hooks.runListeners("main_process_start")
    hooks.shared.mode = "sealed"
    cluster.setupPrimary({
      exec,
      args: process.argv.slice(2),
      execArgv: process.execArgv
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        process.once("SIGINT", onSecondSignal)
        process.once("SIGTERM", onSecondSignal)
        yield* stopAll
        yield* Effect.ignore(hooks.runListeners("main_process_stop"))
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            process.off("SIGINT", onSecondSignal)
            process.off("SIGTERM", onSecondSignal)
            hooks.shared.mode = "open"
          })
        )
      )
    )

    /** Hands a dispatch to every worker of this machine. */
    const relay = (event: string, dispatch: DispatchOptions) =>
      Effect.sync(() =>
        forward(undefined, {
          _tag: "fiberapp.event",
          app: app.name,
          event,
          ...(dispatch.context !== undefined ? { context: dispatch.context } : {}),
          ...(dispatch.condition !== undefined ? { condition: dispatch.condition } : {})
        })
      )
    const outbound = options.outbound
    yield* hooks.useTransport({
      publish:
        outbound === undefined
          ? relay
          : (event, dispatch) => Effect.zipRight(relay(event, dispatch), outbound(event, dispatch)),
      maxContextBytes: options.maxContextBytes
    })

    const { cancelTask, everyTask, info, metrics, slotOf, tasks } = Questions.make(slots, send)

    /** Restarts the slot's process: the new one first with zero downtime, else after the old one has stopped. */
    const restartWork = (
      slot: Slot,
      zeroDowntime: boolean,
      control: RestartControl
    ): Effect.Effect<void, WorkersError | WorkerExit> =>
      Effect.gen(function* () {
        yield* slot.driver.reset
        const old = slot.current
        if (zeroDowntime && old !== undefined && old.ackedAt !== undefined) {
          const fresh = yield* Effect.either(startOnce(slot, true))
          if (fresh._tag === "Left") {
            return yield* new WorkersError({
              reason: "RestartFailed",
              detail:
                `The new process for ${slot.name} did not start (${describeExit(fresh.left)}); ` +
                `the old one (pid ${old.pid}) keeps serving.`
            })
          }
          old.expected = true
          slot.current = fresh.right
          slot.state = "serving"
          control.beforeStop?.(slot)
          return yield* stopProc(old)
        }
        if (old !== undefined) {
          slot.state = "stopping"
          control.beforeStop?.(slot)
          yield* stopProc(old)
          slot.current = undefined
        }
        if (!stopping) yield* startOnce(slot)
      })

    const restartSlot = (
      slot: Slot,
      zeroDowntime: boolean,
      control: RestartControl
    ): Effect.Effect<void, WorkersError> =>
      supervise(slot, restartWork(slot, zeroDowntime, control)).pipe(
        Effect.catchIf(
          (error): error is WorkerExit => !(error instanceof WorkersError),
          (exit) =>
            // The slot goes on starting with backoff, as after a crash, while the caller hears of the failure.
            FiberMap.run(supervisors, slot.name, Effect.ignore(recover(slot, exit)), { onlyIfMissing: true }).pipe(
              Effect.zipRight(
                new WorkersError({
                  reason: "RestartFailed",
                  detail: `${slot.name} did not restart (${describeExit(exit)}); retrying with backoff.`
                })
              )
            )
        )
      )

    const restart = (restartOptions?: RestartOptions, control: RestartControl = {}) =>
      Effect.gen(function* () {
        if (restartOptions?.all === true && restartOptions.workers !== undefined) {
          return yield* new WorkersError({
            reason: "AmbiguousRestart",
            detail: "Ambiguous restart with both named workers and all: give one of them."
          })
        }
        if (stopping) return yield* new WorkersError({ reason: "Stopping", detail: "The workers are stopping." })
        // All: the server workers and the transient managed processes (Sanic's global restart).
        const names = new Set(
          restartOptions?.workers ??
            Array.from(slots.values())
              .filter((slot) => slot.managed === undefined || slot.managed.transient)
              .map((slot) => slot.name)
        )
        const selected = yield* Effect.forEach(names, slotOf)
        const fixed = selected.find((slot) => slot.managed !== undefined && !slot.managed.restartable)
        if (fixed !== undefined) {
          return yield* new WorkersError({
            reason: "NotRestartable",
            detail: `Managed process ${fixed.name} is not restartable (Workers.manage with restartable: true).`
          })
        }
        const zeroDowntime = restartOptions?.zeroDowntime !== false
        if (control.firstFailureStops === true) {
          for (const slot of selected) yield* restartSlot(slot, zeroDowntime, control)
          return
        }
        // Zero-downtime restarts go one worker at a time: all at once would double the memory for a moment.
        const results = yield* Effect.forEach(
          selected,
          (slot) => Effect.either(restartSlot(slot, zeroDowntime, control)),
          { concurrency: zeroDowntime ? 1 : "unbounded" }
        )
        const failed = results.flatMap((r) => (r._tag === "Left" ? [r.left.detail] : []))
        if (failed.length > 0) return yield* new WorkersError({ reason: "RestartFailed", detail: failed.join(" ") })
      }).pipe(operations.withPermits(1))

    const scale = (replicas: number, control: RestartControl = {}) =>
      Effect.gen(function* () {
        if (!Number.isInteger(replicas) || replicas < 1) {
          return yield* new WorkersError({
            reason: "InvalidReplicas",
            detail: `Cannot scale to ${replicas}: use a whole number, 1 or more.`
          })
        }
        if (stopping) return yield* new WorkersError({ reason: "Stopping", detail: "The workers are stopping." })
        const current = Array.from(slots.values())
          .filter((slot) => slot.managed === undefined)
          .sort((a, b) => a.index - b.index)
        if (replicas > current.length) return yield* startSlots(replicas - current.length)
        const removed = current.slice(replicas)
        for (const slot of removed) slot.removed = true
        yield* Effect.forEach(
          removed,
          (slot) =>
            supervise(
              slot,
              Effect.suspend(() => {
                const proc = slot.current
                slot.state = "stopping"
                control.beforeStop?.(slot)
                return proc === undefined ? Effect.void : stopProc(proc)
              })
            ).pipe(Effect.ensuring(Effect.sync(() => slots.delete(slot.name)))),
          { concurrency: "unbounded", discard: true }
        )
      }).pipe(operations.withPermits(1))

    const done: Protocol.AskAnswer = { _tag: "Done" }

    /**
     * A worker's question: about every worker (`scope: "all"`), or one of the supervisor's controls (`app.m`).
     * `reply` answers at once: a restart or a scale that stops the asking worker answers it right before.
     */
    const answerAsk = (
      proc: Proc,
      ask: Protocol.Ask,
      reply: (answer: Protocol.AskAnswer) => void
    ): Effect.Effect<Protocol.AskAnswer> => {
      const reach = Reach.ofSupervisor(supervisor, everyTask)
      const call = ask.call
      const beforeStop = (slot: Slot) => {
        if (slot === proc.slot) reply(done)
      }
      const answered = ((): Effect.Effect<Protocol.AskAnswer, WorkersError | WorkerNotFound> => {
        switch (call._tag) {
          case "fiberapp.askTasks":
            return Effect.map(reach.tasks, (tasks) => ({
              _tag: "WorkerTasks" as const,
              tasks: tasks.map((task) => withoutUndefined(task) as Protocol.WorkerTaskInfo)
            }))
          case "fiberapp.askCancel":
            return Effect.map(reach.cancel(call.name, call.worker), (count) => ({
              _tag: "CancelledOn" as const,
              count
            }))
          case "fiberapp.askTable":
            return Effect.map(supervisor.table, (rows) => ({
              _tag: "Table" as const,
              workers: rows.map((row) => withoutUndefined(row))
            }))
          case "fiberapp.askRestart":
            return Effect.as(
              restart(
                {
                  ...(call.workers !== undefined ? { workers: call.workers } : {}),
                  ...(call.zeroDowntime !== undefined ? { zeroDowntime: call.zeroDowntime } : {})
                },
                { beforeStop }
              ),
              done
            )
          case "fiberapp.askScale":
            return Effect.as(scale(call.replicas, { beforeStop }), done)
          case "fiberapp.askTerminate":
            return Effect.as(shutdownSelf, done)
          case "fiberapp.askSetState":
            return Effect.suspend(() => {
              const reserved = reservedKeyOf([...Object.keys(call.values), ...call.remove])
              if (reserved !== undefined) {
                return Effect.fail(
                  new WorkersError({ reason: "ReservedKey", detail: `The worker table already uses "${reserved}".` })
                )
              }
              proc.custom = mergeCustom(proc.custom, call.values, call.remove)
              return Effect.succeed(done)
            })
        }
      })()
      return Effect.catchAll(answered, (error) =>
        Effect.succeed<Protocol.AskAnswer>(
          error._tag === "WorkerNotFound"
            ? { _tag: "Refused", reason: "WorkerNotFound", worker: error.worker, message: error.message }
            : { _tag: "Refused", reason: "Failed", kind: error.reason, message: error.message }
        )
      )
    }

    const supervisor: SupervisorService = {
      mode: "primary",
      app: app.name,
      name: "primary",
      pid: process.pid,
      state: Effect.sync(() => (stopping ? "stopping" : "serving")),
      terminate: shutdownSelf,
      setState: () =>
        Effect.fail(
          new WorkersError({
            reason: "NotAWorker",
            detail: "The primary has no row of its own in the worker table: publish state from a worker."
          })
        ),
      table: Effect.sync(() => Array.from(slots.values(), info).sort((a, b) => a.name.localeCompare(b.name))),
      tasks,
      cancelTask,
      restart: (restartOptions) => restart(restartOptions),
      scale: (replicas) => scale(replicas),
      shutdown: shutdownSelf
    }

    yield* startSlots(options.workers)
    // Managed processes start beside the workers; one that cannot start is logged and given up, and never keeps
    // the server from serving.
    for (const entry of hooks.managed.values()) {
      for (const name of processNames(entry)) {
        const slot = yield* addManagedSlot(slots, name, entry, entry.restartable ? schedule : Schedule.stop)
        if (entry.autoStart) yield* FiberMap.run(supervisors, slot.name, Effect.ignore(ensureServing(slot)))
      }
    }
    placing = true
    placements.rebalance()
    if (options.autoReload === true) {
      const listeners = (kind: "reload_process_start" | "before_reload_trigger" | "after_reload_trigger") =>
        hooks.runListeners(kind).pipe(Effect.catchAll((error) => Effect.logError(error.message, error.cause)))
      const reload = (files: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          yield* Effect.logInfo(`Auto-reload: ${files.join(", ")} changed; restarting the workers`)
          yield* listeners("before_reload_trigger")
          // One at a time with zero downtime, ending at the first that fails: a change that does not start (a
          // syntax error) is met once, and every old worker goes on serving.
          yield* restart(undefined, { firstFailureStops: true }).pipe(
            Effect.catchAll((error) => Effect.logError(`Auto-reload: the workers were not restarted: ${error.message}`))
          )
          yield* listeners("after_reload_trigger")
        })
      yield* listeners("reload_process_start")
      // Scope finalizers run in reverse: the watcher closes, then reload_process_stop, then the workers stop.
      yield* Effect.addFinalizer(() => Effect.ignore(hooks.runListeners("reload_process_stop")))
      yield* Reload.watch(Reload.foldersOf(exec, process.cwd()), reload)
    }
    yield* hooks.runListeners("main_process_ready")
    return {
      supervisor,
      address,
      reach: Reach.ofSupervisor(supervisor, everyTask),
      metrics,
      deliver: (event, dispatch) =>
        Effect.zipRight(relay(event, dispatch), Effect.ignore(hooks.dispatchLocal(event, dispatch)))
    }
  })

export interface Primary {
  readonly supervisor: SupervisorService
  /** Every worker's tasks for app code (`scope: "all"`): a worker that does not answer is an error, not a gap. */
  readonly reach: Reach.Reach
  /** Every serving worker's metrics, for the inspector's `/metrics`. */
  readonly metrics: Effect.Effect<ReadonlyArray<Questions.WorkerMetrics>>
  /** Where the first worker said it listens. */
  readonly address: { readonly hostname: string; readonly port: number } | undefined
  /** Delivers a dispatch from another machine to every worker here, and to the primary's own listeners. */
  readonly deliver: (event: string, options: DispatchOptions) => Effect.Effect<void>
}
