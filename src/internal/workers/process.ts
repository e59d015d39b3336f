import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { WorkerExit } from "../../Workers.js"
import { WorkersError } from "./errors.js"
import type * as Protocol from "./protocol.js"
import type { Proc } from "./slots.js"

/** Stops this process as SIGTERM does, a moment from now, so that the answer to the caller goes out first. */
export const shutdownSelf: Effect.Effect<void> = Effect.sync(() => {
  setTimeout(() => process.kill(process.pid, "SIGTERM"), 50)
})

export const dispatchOptions = (message: Protocol.Event) => ({
  ...(message.context !== undefined ? { context: message.context } : {}),
  ...(message.condition !== undefined ? { condition: message.condition } : {})
})

export const describeExit = (exit: WorkerExit): string =>
  exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`

/** The script workers run: the given one, or this process's entry script when it is the app's own. */
export const entryScript = (exec: string | undefined): Effect.Effect<string, WorkersError> => {
  const script = exec ?? process.argv[1]
  if (script === undefined) {
    return Effect.fail(
      new WorkersError({
        reason: "NoEntryScript",
        detail:
          "Workers run this process's entry script again, but it has none (process.argv[1]); set workerOptions.exec."
      })
    )
  }
  if (exec === undefined && /[\\/]node_modules[\\/]/.test(script)) {
    return Effect.fail(
      new WorkersError({
        reason: "NoEntryScript",
        detail:
          `Workers run this process's entry script again, and that is ${script}, inside node_modules: this process ` +
          `was not started from the app's own script (a test runner or another tool?). Start it with ` +
          `\`node <script>\` or \`tsx <script>\`, or set workerOptions.exec.`
      })
    )
  }
  return Effect.succeed(script)
}

/** Time for a stopping worker's own bounded stop (its `after_server_stop` gets at least 1 s) and its exit. */
const stopMargin = Duration.seconds(2)
const killWait = Duration.seconds(5)

/** Kills the process at once and waits (a while) for its exit. */
export const kill = (proc: Proc): Effect.Effect<void> =>
  Effect.suspend(() => {
    proc.expected = true
    if (proc.worker.isDead()) return Deferred.await(proc.exited).pipe(Effect.asVoid)
    proc.worker.process.kill("SIGKILL")
    return Deferred.await(proc.exited).pipe(Effect.timeout(killWait), Effect.ignore)
  })

/** Asks the worker to stop as on SIGTERM, then kills it once the graceful timeout (and a margin) has passed. */
export const stopProcess = (
  proc: Proc,
  send: (message: Protocol.ToWorker) => void,
  grace: Duration.Duration
): Effect.Effect<void> =>
  Effect.suspend(() => {
    proc.expected = true
    if (proc.worker.isDead()) return Effect.void
    if (proc.worker.isConnected()) send({ _tag: "fiberapp.stop" })
    else proc.worker.process.kill("SIGTERM")
    return Deferred.await(proc.exited).pipe(
      Effect.timeout(Duration.sum(grace, stopMargin)),
      Effect.catchTag("TimeoutException", () =>
        Effect.logWarning(
          `Worker ${proc.slot.name} (pid ${proc.pid}) did not stop within ${Duration.format(grace)}; killing it`
        ).pipe(Effect.zipRight(kill(proc)))
      ),
      Effect.asVoid
    )
  })
