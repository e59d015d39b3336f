import * as Cause from "effect/Cause"
import * as Option from "effect/Option"

/** Messages `Data.TaggedError` and `Error` give when none was set: they say nothing. */
const emptyMessages = new Set(["", "An error has occurred"])

const hidden = new Set(["_tag", "name", "message", "stack", "cause"])

/** A value as it reads in a one-line message: strings quoted, objects as JSON where they can be. */
export const quote = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "bigint") return `${value}n`
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value, (_, inner) => (typeof inner === "bigint" ? `${inner}n` : inner))
    } catch {
      return Object.prototype.toString.call(value)
    }
  }
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** An error on one line: its tag or name, its message when it has one, and a tagged error's fields. */
export const describeError = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return quote(error)
  const record = error as Record<string, unknown>
  const label =
    typeof record._tag === "string"
      ? record._tag
      : error instanceof Error
        ? error.name
        : (error.constructor?.name ?? "Error")
  const message = error instanceof Error || typeof record.message === "string" ? String(record.message ?? "") : ""
  const fields = Object.keys(record).filter((key) => !hidden.has(key))
  const shown = fields.length === 0 ? "" : ` { ${fields.map((key) => `${key}: ${quote(record[key])}`).join(", ")} }`
  return `${label}${emptyMessages.has(message) ? "" : `: ${message.split("\n")[0]}`}${shown}`
}

/** The first failure of a cause, on one line. */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return describeError(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return describeError(defect.value)
  return Cause.isInterruptedOnly(cause) ? "interrupted" : Cause.pretty(cause).split("\n")[0]!
}
