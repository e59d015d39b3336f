import { Cause, Deferred, Duration, Effect, Exit, FiberId, Runtime } from "effect"
import type * as Scope from "effect/Scope"
import type { AppService } from "../../App.js"
import type { ManageOptions } from "../../Workers.js"
import { App } from "../app/service.js"
import { hooksOf, type ManagedEntry } from "../hooks.js"
import { WorkersError } from "./errors.js"
import * as Protocol from "./protocol.js"
import { receive } from "./shared.js"

const initTimeout = Duration.seconds(10)
const maxProcesses = 64
const validName = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/

const invalid = (detail: string) => Effect.fail(new WorkersError({ reason: "InvalidManaged", detail }))

/** `Workers.manage`: checks the options (Sanic's rules and defaults) and records the program in the app. */
export const register = <E>(
  name: string,
  program: Effect.Effect<unknown, E, App | Scope.Scope>,
  options?: ManageOptions
): Effect.Effect<void, WorkersError, App> =>
  Effect.flatMap(App, (app) =>
    Effect.suspend(() => {
      const hooks = hooksOf(app)
      if (!validName.test(name) || /^worker-\d+$/.test(name) || name === "primary" || name === "main") {
        return invalid(
          `Invalid managed process name ${JSON.stringify(name)}: use letters, digits, "_", "." and "-", starting ` +
            `with a letter, and not a server worker's name (worker-N, primary, main).`
        )
      }
      const transient = options?.transient === true
      const restartable = options?.restartable ?? transient
      if (transient && !restartable) {
        return invalid(`Cannot create a transient process that is not restartable (${name}).`)
      }
      const workers = options?.workers ?? 1
      if (!Number.isInteger(workers) || workers < 1 || workers > maxProcesses) {
        return invalid(`Invalid workers ${workers} for ${name}: use a whole number from 1 to ${maxProcesses}.`)
      }
      if (hooks.shared.mode !== "open") {
        return Effect.fail(
          new WorkersError({
            reason: "Sealed",
            detail: `Cannot manage ${name}: the server has started; call Workers.manage before it starts.`
          })
        )
      }
      if (hooks.managed.has(name)) {
        return Effect.fail(new WorkersError({ reason: "NameInUse", detail: `Worker ${name} already exists.` }))
      }
      const entry: ManagedEntry = {
        name,
        program: Effect.scoped(Effect.provideService(program, App, app)) as Effect.Effect<unknown, unknown>,
        restartable,
        transient,
        tracked: options?.tracked ?? true,
        autoStart: options?.autoStart ?? true,
        workers
      }
      hooks.managed.set(name, entry)
      return Effect.void
    })
  )

/** The names of a managed program's processes: the program's own for one, `name-0`, `name-1`, ... for several. */
export const processNames = (entry: ManagedEntry): ReadonlyArray<string> =>
  entry.workers === 1 ? [entry.name] : Array.from({ length: entry.workers }, (_, i) => `${entry.name}-${i}`)

const send = (message: Protocol.ToPrimary): void => {
  if (process.send === undefined || !process.connected) return
  process.send(Protocol.writeToPrimary(message), undefined, undefined, () => {})
}

/**
 * A managed process: gets its name and the shared values from the primary, acknowledges, runs the program and exits
 * with it (0 on success, 1 on failure). Asked to stop, it stops as on SIGTERM: the program is interrupted.
 */
export const run = (app: AppService, program: string): Effect.Effect<never, WorkersError, Scope.Scope> =>
  Effect.gen(function* () {
    const hooks = hooksOf(app)
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const init = Deferred.unsafeMake<{ readonly worker: string; readonly shared: Readonly<Record<string, unknown>> }>(
      FiberId.none
    )
    const onMessage = (raw: unknown): void => {
      const read = Protocol.readToWorker(raw)
      if (read === undefined || read._tag === "Left") return
      const message = read.right
      if (message._tag === "fiberapp.init") {
        Deferred.unsafeDone(init, Exit.succeed({ worker: message.worker, shared: message.shared }))
      } else if (message._tag === "fiberapp.stop") {
        if (process.listenerCount("SIGTERM") > 0) process.kill(process.pid, "SIGTERM")
        else runFork(Effect.sync(() => process.exit(0)))
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("message", onMessage)),
      () => Effect.sync(() => process.off("message", onMessage))
    )
    const entry = hooks.managed.get(program)
    if (entry === undefined) {
      return yield* new WorkersError({
        reason: "NotAWorker",
        detail: `No managed program named ${JSON.stringify(program)} is registered in this process (Workers.manage).`
      })
    }
    send({ _tag: "fiberapp.hello", pid: process.pid })
    const { shared, worker } = yield* Deferred.await(init).pipe(
      Effect.timeoutFail({
        duration: initTimeout,
        onTimeout: () =>
          new WorkersError({
            reason: "NoAnswer",
            detail: `The primary process did not answer this managed process within ${Duration.format(initTimeout)}.`
          })
      })
    )
    receive(hooks.shared, shared)
    send({ _tag: "fiberapp.ready", pid: process.pid, holds: [] })
    const exit = yield* Effect.exit(entry.program).pipe(Effect.annotateLogs("worker", worker))
    if (Exit.isFailure(exit)) {
      yield* Effect.logError(`Managed process ${worker} failed`, Cause.pretty(exit.cause))
    }
    return yield* Effect.sync(() => process.exit(Exit.isSuccess(exit) ? 0 : 1))
  })
