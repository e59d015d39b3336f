import * as Effect from "effect/Effect"
import type { WorkerExit } from "../../Workers.js"
import { WorkersError } from "./errors.js"
import type * as Protocol from "./protocol.js"

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
