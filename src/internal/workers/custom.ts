import * as Effect from "effect/Effect"
import { WorkersError } from "./errors.js"

/** The fields of a worker table row: `Workers.setState` may not use them. */
const reservedKeys: ReadonlySet<string> = new Set([
  "name",
  "state",
  "pid",
  "startedAt",
  "ackedAt",
  "starts",
  "restarts",
  "restartedAt",
  "serving",
  "lastExit",
  "kind",
  "custom"
])

/** Merges published values into what a process published before; `remove` lists the keys set to `undefined`. */
export const mergeCustom = (
  current: Readonly<Record<string, unknown>> | undefined,
  values: Readonly<Record<string, unknown>>,
  remove: ReadonlyArray<string>
): Readonly<Record<string, unknown>> | undefined => {
  const merged: Record<string, unknown> = { ...current, ...values }
  for (const key of remove) delete merged[key]
  return Object.keys(merged).length === 0 ? undefined : merged
}

/** The first key of `values` that a table row already uses, if any. */
export const reservedKeyOf = (keys: ReadonlyArray<string>): string | undefined =>
  keys.find((key) => reservedKeys.has(key))

/** What `Workers.setState` sends: the values, checked, and the keys set to `undefined` (to remove). */
export const prepare = (
  values: Readonly<Record<string, unknown>>
): Effect.Effect<{ readonly values: Record<string, unknown>; readonly remove: ReadonlyArray<string> }, WorkersError> =>
  Effect.suspend(() => {
    const keys = Object.keys(values)
    const reserved = reservedKeyOf(keys)
    if (reserved !== undefined) {
      return Effect.fail(
        new WorkersError({
          reason: "ReservedKey",
          detail: `Cannot set "${reserved}": the worker table's rows already use it.`
        })
      )
    }
    const remove = keys.filter((key) => values[key] === undefined)
    const kept = Object.fromEntries(keys.filter((key) => values[key] !== undefined).map((key) => [key, values[key]]))
    try {
      const json = JSON.parse(JSON.stringify(kept)) as Record<string, unknown>
      return Effect.succeed({ values: json, remove })
    } catch (cause) {
      return Effect.fail(
        new WorkersError({
          reason: "NotJson",
          detail: `Worker state must survive JSON: ${String(cause)}.`,
          cause
        })
      )
    }
  })
