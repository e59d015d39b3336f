import * as Effect from "effect/Effect"
import type { WorkerExit } from "../../Workers.js"
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
