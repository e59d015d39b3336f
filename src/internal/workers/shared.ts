import type { Schema as S } from "effect"
import { Effect, Option, Schema } from "effect"
import type { SharedValue } from "../../Workers.js"
import { SharedValueError } from "../../Workers.js"
import { state } from "./state.js"

export const make = <A, I>(key: string, schema: S.Schema<A, I>): SharedValue<A> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const getOption: Effect.Effect<Option.Option<A>, SharedValueError> = Effect.suspend(() => {
    if (!state.shared.has(key)) return Effect.succeed(Option.none())
    return decode(state.shared.get(key)).pipe(
      Effect.map(Option.some),
      Effect.mapError((cause) => new SharedValueError({ key, reason: `it does not decode: ${cause.message}`, cause }))
    )
  })
  return {
    key,
    set: (value) =>
      Effect.suspend(() => {
        if (state.sharedReadOnly) {
          return Effect.fail(
            new SharedValueError({
              key,
              reason: "shared values are read-only in a worker; set them in main_process_start."
            })
          )
        }
        if (state.sharedSealed) {
          return Effect.fail(
            new SharedValueError({
              key,
              reason: "the workers have already been started; set shared values in main_process_start."
            })
          )
        }
        return encode(value).pipe(
          Effect.mapError(
            (cause) => new SharedValueError({ key, reason: `it does not encode: ${cause.message}`, cause })
          ),
          // Stored as the workers will see it, so that the primary reads what they read.
          Effect.flatMap((encoded) =>
            Effect.try({
              try: () => {
                state.shared.set(key, JSON.parse(JSON.stringify(encoded)))
              },
              catch: (cause) =>
                new SharedValueError({
                  key,
                  reason: `its encoded form does not survive JSON (${String(cause)}); use a schema that encodes to JSON.`,
                  cause
                })
            })
          )
        )
      }),
    get: Effect.flatMap(getOption, (value) =>
      Option.isSome(value)
        ? Effect.succeed(value.value)
        : Effect.fail(new SharedValueError({ key, reason: "it was never set (set it in main_process_start)." }))
    ),
    getOption
  }
}

/** The values, as they go to a worker. */
export const snapshot = (): Record<string, unknown> => Object.fromEntries(state.shared)

/** In a worker: the values from the primary, from now on read-only. */
export const receive = (values: Readonly<Record<string, unknown>>): void => {
  state.shared.clear()
  for (const key of Object.keys(values)) state.shared.set(key, values[key])
  state.sharedReadOnly = true
}
