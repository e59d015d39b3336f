import { Effect } from "effect"
import type { Transport } from "../events.js"
import { state } from "./state.js"

/**
 * The transport an app's event registry is built with. It is bound late: the app exists before the server decides
 * whether this process is a primary, a worker or alone, and until then (or alone) `scope: "all"` stays local.
 */
export const forApp = (app: string): Transport => ({
  publish: (event, options) =>
    Effect.suspend(() => {
      const publisher = state.publisher
      return publisher === undefined ? Effect.void : publisher(app, event, options)
    })
})
