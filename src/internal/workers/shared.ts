import type { Schema as S } from "effect"
import { Effect, Option, Schema } from "effect"
import type { SharedValue } from "../../Workers.js"
import { App } from "../app/service.js"
import type { SharedValues } from "../hooks.js"
import { hooksOf } from "../hooks.js"
import { SharedValueError } from "./errors.js"

const withShared = <A, E>(f: (shared: SharedValues) => Effect.Effect<A, E>): Effect.Effect<A, E, App> =>
  Effect.flatMap(App, (app) => f(hooksOf(app).shared))

export const make = <A, I>(key: string, schema: S.Schema<A, I>): SharedValue<A> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const getOption: Effect.Effect<Option.Option<A>, SharedValueError, App> = withShared((shared) => {
    if (!shared.values.has(key)) return Effect.succeed(Option.none())
    return decode(shared.values.get(key)).pipe(
      Effect.map(Option.some),
      Effect.mapError(
        (cause) =>
          new SharedValueError({ key, reason: "NotDecodable", detail: `it does not decode: ${cause.message}`, cause })
      )
    )
  })
  return {
    key,
    set: (value) =>
      withShared((shared) => {
        if (shared.mode === "readOnly") {
          return Effect.fail(
            new SharedValueError({
              key,
              reason: "ReadOnly",
              detail: "shared values are read-only in a worker; set them in main_process_start."
            })
          )
        }
        if (shared.mode === "sealed") {
          return Effect.fail(
            new SharedValueError({
              key,
              reason: "Sealed",
              detail: "the workers have already been started; set shared values in main_process_start."
            })
          )
        }
        return encode(value).pipe(
          Effect.mapError(
            (cause) =>
              new SharedValueError({
                key,
                reason: "NotEncodable",
                detail: `it does not encode: ${cause.message}`,
                cause
              })
          ),
          // Stored as the workers will see it, so that the primary reads what they read.
          Effect.flatMap((encoded) =>
            Effect.try({
              try: () => {
                shared.values.set(key, JSON.parse(JSON.stringify(encoded)))
              },
              catch: (cause) =>
                new SharedValueError({
                  key,
                  reason: "NotJson",
                  detail: `its encoded form does not survive JSON (${String(cause)}); use a schema that encodes to JSON.`,
                  cause
                })
            })
          )
        )
      }),
    get: Effect.flatMap(getOption, (value) =>
      Option.isSome(value)
        ? Effect.succeed(value.value)
        : Effect.fail(
            new SharedValueError({
              key,
              reason: "ReadOnly",
              detail: "it was never set (set it in main_process_start)."
            })
          )
    ),
    getOption
  }
}

/** The values, as they go to a worker. */
export const snapshot = (shared: SharedValues): Record<string, unknown> => Object.fromEntries(shared.values)

/** In a worker: the values from the primary, from now on read-only. */
export const receive = (shared: SharedValues, values: Readonly<Record<string, unknown>>): void => {
  shared.values.clear()
  for (const key of Object.keys(values)) shared.values.set(key, values[key])
  shared.mode = "readOnly"
}
