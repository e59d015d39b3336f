/**
 * The types of a dynamic part (`<name:type>`), after sanic-routing's `REGEX_TYPES`: which third parts each matches
 * and what value a waiter or handler gets. A part never holds a dot (dots separate the parts), and is never empty.
 */

/** How a dynamic part reads the third part of a dispatched name. */
export interface ParamReader {
  /** Whether the third part matches; `undefined` when every part does. */
  readonly accepts: ((tail: string) => boolean) | undefined
  /** The value given to waiters and handlers, for a part that matches. */
  readonly convert: (tail: string) => unknown
}

/** The named types; a type spec that is anything else is a regular expression. */
export const paramTypes = ["str", "strorempty", "int", "float", "alpha", "slug", "uuid", "ymd"] as const

export type NamedParamType = (typeof paramTypes)[number]

/** Sanic types that no event name can use, with the reason. */
export const unsupportedTypes: Readonly<Record<string, string>> = {
  path: `"path" matches across separators, and the parts of an event name are separated by dots`,
  ext: `"ext" matches "name.ext", and a part of an event name cannot hold a dot, so no dispatch could ever match it`
}

const same = (tail: string): string => tail
const test = (pattern: RegExp) => (tail: string) => pattern.test(tail)

const floatPattern = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/
const ymdPattern = /^([12]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/
const uuidPattern = /^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/

/** A real calendar day: `2023-02-29` has the form but is no date (Python's `strptime` refuses it too). */
const ymd = (tail: string): Date | undefined => {
  const match = ymdPattern.exec(tail)
  if (match === null) return undefined
  const year = Number(match[1])
  const month = Number(match[2]) - 1
  const day = Number(match[3])
  const date = new Date(Date.UTC(year, month, day))
  // Date.UTC maps years 0-99 to 1900-1999; the pattern allows only 1000-2999.
  return date.getUTCMonth() === month && date.getUTCDate() === day ? date : undefined
}

export const namedReaders: { readonly [K in NamedParamType]: ParamReader } = {
  str: { accepts: undefined, convert: same },
  strorempty: { accepts: undefined, convert: same },
  int: { accepts: test(/^-?\d+$/), convert: Number },
  float: { accepts: test(floatPattern), convert: Number },
  alpha: { accepts: test(/^[A-Za-z]+$/), convert: same },
  slug: { accepts: test(/^[a-z0-9]+(?:-[a-z0-9]+)*$/), convert: same },
  uuid: { accepts: test(uuidPattern), convert: (tail) => tail.toLowerCase() },
  ymd: { accepts: (tail) => ymd(tail) !== undefined, convert: (tail) => ymd(tail)! }
}

/** Why a regular expression cannot be a dynamic part. */
export type RegexProblem = { readonly problem: string }

/**
 * A regular expression part (`<name:[a-z]+>`), JavaScript syntax with the `u` flag, matching the whole third part.
 * As in sanic-routing, a pattern with one capturing group gives that group's text (which must not be empty), one
 * without gives the whole part, and more than one group is refused; a named group must have the part's name.
 */
export const regexReader = (param: string, source: string): ParamReader | RegexProblem => {
  try {
    new RegExp(source, "u")
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) }
  }
  // The source compiles alone, so it is balanced: wrapping it cannot change what it means.
  const empty = new RegExp(`${source}|`, "u").exec("")!
  const groups = empty.length - 1
  if (groups > 1) {
    return { problem: `it has ${groups} capturing groups; use one at most, and (?:...) for the others` }
  }
  const named = empty.groups === undefined ? [] : Object.keys(empty.groups)
  if (named.length === 1 && named[0] !== param) {
    return { problem: `its named group "${named[0]}" must have the name of the part, "${param}"` }
  }
  const whole = new RegExp(`^(?:${source})$`, "u")
  if (groups === 0) return { accepts: (tail) => whole.test(tail), convert: same }
  const group = (tail: string): string | undefined => whole.exec(tail)?.[1]
  return {
    accepts: (tail) => {
      const value = group(tail)
      return value !== undefined && value !== ""
    },
    convert: (tail) => group(tail)!
  }
}
