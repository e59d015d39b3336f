import type { Cause, Effect, Scope } from "effect"
import type {
  DispatchOptions,
  EventContext,
  EventTimeout,
  Handler,
  InvalidEventName,
  ReservedEventName,
  SignalOptions,
  WaitOptions
} from "../Events.js"

/** The per-app event machinery that App wires in. */
export interface Registry {
  readonly dispatch: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  readonly event: (event: string, options?: WaitOptions) => Effect.Effect<EventContext, EventTimeout | InvalidEventName>
  readonly signal: <R>(
    event: string,
    handler: Handler<R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, R>
  /** True when some handler or waiter could match `event`: lets hot paths skip building a context. */
  readonly hasListeners: (event: string) => boolean
}

export interface RegistryOptions {
  /** Called once per failing handler, with the event it was registered on. */
  readonly onHandlerFailure: (event: string, cause: Cause.Cause<unknown>) => Effect.Effect<void>
}

export declare const make: (options: RegistryOptions) => Effect.Effect<Registry, never, Scope.Scope>
