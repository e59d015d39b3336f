import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { DispatchOptions } from "../../Events.js"

/** Carries dispatches made with `scope: "all"` out of this process. */
export interface TransportService {
  readonly publish: (event: string, options: DispatchOptions) => Effect.Effect<void>
  /** The largest context (bytes of JSON) it carries: a larger one is refused before any delivery. */
  readonly maxContextBytes?: (() => number | undefined) | undefined
}

export class Transport extends Context.Tag("fiberapp/Events/Transport")<Transport, TransportService>() {}
