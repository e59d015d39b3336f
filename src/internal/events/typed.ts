import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type {
  DispatchOptions,
  EventContext,
  EventsOptions,
  SignalOptions,
  TypedEvent,
  WaitOptions
} from "../../Events.js"
import { App } from "../app/service.js"
import { InvalidEventContext } from "./errors.js"

/**
 * An event declared with a schema: dispatch encodes the context (so what crosses to another process is JSON), and
 * every receiver, here or there, decodes it, so that all of them see the same types.
 */
export const define = <A, I extends EventContext>(name: string, schema: Schema.Schema<A, I>): TypedEvent<A, I> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const failed = (reason: "Encode" | "Decode") => (error: ParseResult.ParseError) =>
    new InvalidEventContext({ event: name, reason, detail: ParseResult.TreeFormatter.formatErrorSync(error) })
  const decoded = (context: EventContext) => Effect.mapError(decode(context), failed("Decode"))

  return {
    name,
    schema,
    dispatch: (context: A, options?: Omit<DispatchOptions, "context">) =>
      Effect.flatMap(Effect.mapError(encode(context), failed("Encode")), (encoded) =>
        Effect.flatMap(App, (app) => app.dispatch(name, { ...options, context: encoded }))
      ),
    event: (options?: WaitOptions) => Effect.flatMap(App, (app) => Effect.flatMap(app.event(name, options), decoded)),
    // One context that does not decode (a raw dispatch, an older worker) must not end every reader's stream.
    events: (options?: EventsOptions) =>
      Stream.unwrap(
        Effect.map(App, (app) =>
          app.events(name, options).pipe(
            Stream.mapEffect((context) =>
              decoded(context).pipe(
                Effect.map(Option.some),
                Effect.catchAll((error) =>
                  Effect.as(Effect.logWarning(`${error.message}; this dispatch is skipped`), Option.none<A>())
                )
              )
            ),
            Stream.filterMap(identity)
          )
        )
      ),
    signal: <R>(handler: (context: A) => Effect.Effect<unknown, unknown, R>, options?: SignalOptions) =>
      Effect.flatMap(App, (app) => app.signal(name, (context) => Effect.flatMap(decoded(context), handler), options))
  }
}
