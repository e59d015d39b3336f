import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * Decodes a duration the way Effect does (numbers are milliseconds), refusing what `Duration.decode` would throw
 * on or silently turn into zero: negative or non-finite numbers, negative or malformed strings.
 */
export const decodeNonNegative = (input: unknown): Option.Option<Duration.Duration> => {
  if (typeof input === "number") return input >= 0 ? Option.some(Duration.millis(input)) : Option.none()
  if (typeof input === "bigint") return input >= 0n ? Option.some(Duration.nanos(input)) : Option.none()
  if (typeof input === "string" && input.trim().startsWith("-")) return Option.none()
  return Duration.decodeUnknown(input)
}

/** What a valid duration looks like, for error messages. */
export const durationHint = 'a non-negative duration such as "10 seconds" or 10000 (milliseconds)'
