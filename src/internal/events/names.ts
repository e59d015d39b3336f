import * as Either from "effect/Either"
import type { EventName } from "../../Events.js"
import { InvalidEventName, ReservedEventName } from "./errors.js"
import type { NamedParamType } from "./params.js"
import { namedReaders, paramTypes, regexReader, unsupportedTypes } from "./params.js"

export const builtinEvents = [
  "server.init.before",
  "server.init.after",
  "server.shutdown.before",
  "server.shutdown.after",
  "server.exception.report",
  "http.lifecycle.begin",
  "http.lifecycle.request",
  "http.lifecycle.handle",
  "http.lifecycle.read_body",
  "http.lifecycle.exception",
  "http.lifecycle.response",
  "http.lifecycle.send",
  "http.lifecycle.complete",
  "http.routing.before",
  "http.routing.after",
  "http.middleware.before",
  "http.middleware.after",
  "http.handler.before",
  "http.handler.after",
  "websocket.handler.before",
  "websocket.handler.after",
  "websocket.handler.exception"
] as const

export const reservedNamespaces: ReadonlyArray<string> = ["server", "http", "websocket"]

const builtins: ReadonlySet<string> = new Set(builtinEvents)
const builtinGroups: ReadonlySet<string> = new Set(builtinEvents.map((event) => event.slice(0, event.lastIndexOf("."))))
const reserved: ReadonlySet<string> = new Set(reservedNamespaces)

/** A parsed name, with what matching needs. */
export interface ParsedName extends EventName {
  /** The first two parts (`"a.b"`), or `""` for one word: where patterned waiters and handlers are grouped. */
  readonly group: string
  /** The last part as written. */
  readonly tail: string
  /** Whether a dispatched third part matches the dynamic part; `undefined` when every one does. */
  readonly accepts: ((tail: string) => boolean) | undefined
  /** The value of the dynamic part for a third part that matches. */
  readonly convert: ((tail: string) => unknown) | undefined
}

const dynamicPattern = /^<([A-Za-z_][A-Za-z0-9_]*)(?::([\s\S]*))?>$/
/** A type spec that names a type (`int`, or Sanic's `ext=js|css`) rather than being a regular expression. */
const typeName = /^([A-Za-z]+)(=[\s\S]*)?$/
const forbidden = /[\s\p{Cc}.<>*]/u
export const maxCached = 4096

const knownTypes: ReadonlySet<string> = new Set(paramTypes)

type Refusal = Omit<ConstructorParameters<typeof InvalidEventName>[0], "event">

const invalid = (event: unknown, refusal: Refusal) => Either.left(new InvalidEventName({ event, ...refusal }))

const checkPart = (part: string, index: number, isLast: boolean): Refusal | undefined => {
  const at = index + 1
  if (part.length === 0) return { reason: "EmptyPart", part: at }
  if (!isLast && part.startsWith("<")) return { reason: "DynamicPartNotLast", part: at, text: part }
  if (!isLast && part === "*") return { reason: "WildcardNotLast", part: at }
  if (forbidden.test(part)) return { reason: "ForbiddenCharacter", part: at, text: part }
  return undefined
}

/**
 * Splits at the dots, except inside a dynamic part, which may be a regular expression with dots in it: as in
 * Sanic's router, a part that starts with `<` runs to the first `>` that ends the name or is followed by a dot.
 */
const split = (name: string): Array<string> => {
  const parts: Array<string> = []
  let start = 0
  for (;;) {
    let end = -1
    if (name.charCodeAt(start) === 60) {
      let close = name.indexOf(">", start)
      while (close >= 0 && close < name.length - 1 && name.charCodeAt(close + 1) !== 46) {
        close = name.indexOf(">", close + 1)
      }
      end = close < 0 ? name.indexOf(".", start) : close + 1 < name.length ? close + 1 : -1
    } else {
      end = name.indexOf(".", start)
    }
    if (end < 0) {
      parts.push(name.slice(start))
      return parts
    }
    parts.push(name.slice(start, end))
    start = end + 1
  }
}

type Dynamic = Pick<ParsedName, "param" | "type" | "pattern" | "accepts" | "convert">

const parseDynamic = (tail: string, at: number): Dynamic | Refusal => {
  const match = dynamicPattern.exec(tail)
  if (match === null) return { reason: "BadDynamicPart", part: at, text: tail }
  const param = match[1]
  const spec = match[2]
  if (spec === undefined) {
    return { param, type: "str", pattern: undefined, ...namedReaders.str }
  }
  if (spec === "") return { reason: "BadDynamicPart", part: at, text: tail }
  const named = typeName.exec(spec)
  if (named !== null) {
    const type = named[1]
    if (Object.hasOwn(unsupportedTypes, type)) return { reason: "UnsupportedParamType", part: at, text: type }
    if (!knownTypes.has(type)) return { reason: "UnknownParamType", part: at, text: type }
    if (named[2] !== undefined) return { reason: "BadDynamicPart", part: at, text: tail }
    const known = type as NamedParamType
    return { param, type: known, pattern: undefined, ...namedReaders[known] }
  }
  const reader = regexReader(param, spec)
  if ("problem" in reader) return { reason: "BadRegex", part: at, text: spec, problem: reader.problem }
  return { param, type: "regex", pattern: spec, ...reader }
}

const parseUncached = (name: string): Either.Either<ParsedName, InvalidEventName> => {
  if (name.length === 0) return invalid(name, { reason: "Empty" })
  const parts = split(name)
  if (parts.length !== 1 && parts.length !== 3) return invalid(name, { reason: "PartCount", part: parts.length })
  const last = parts.length - 1
  for (let i = 0; i < last; i++) {
    const refusal = checkPart(parts[i], i, false)
    if (refusal !== undefined) return invalid(name, refusal)
  }
  const tail = parts[last]
  const group = last === 0 ? "" : `${parts[0]}.${parts[1]}`
  const plain = { name, parts, group, tail, param: undefined, type: undefined, pattern: undefined }
  if (tail === "*") {
    return Either.right({ ...plain, kind: "wildcard", accepts: undefined, convert: undefined })
  }
  if (tail.startsWith("<")) {
    const dynamic = parseDynamic(tail, parts.length)
    if ("reason" in dynamic) return invalid(name, dynamic)
    return Either.right({ name, parts, group, tail, kind: "dynamic", ...dynamic })
  }
  const refusal = checkPart(tail, last, true)
  if (refusal !== undefined) return invalid(name, refusal)
  return Either.right({ ...plain, kind: "static", accepts: undefined, convert: undefined })
}

// A cache of a pure function: the same name always parses the same way.
const parseCache = new Map<string, Either.Either<ParsedName, InvalidEventName>>()

/** Parses a name; results are cached (a bounded cache, cleared when full). */
export const parse = (name: unknown): Either.Either<ParsedName, InvalidEventName> => {
  if (typeof name !== "string") return invalid(name, { reason: "NotAString" })
  let result = parseCache.get(name)
  if (result === undefined) {
    result = parseUncached(name)
    if (parseCache.size >= maxCached) parseCache.clear()
    parseCache.set(name, result)
  }
  return result
}

/** The reason a valid name cannot take a handler, if it cannot. */
export const signalRefusal = (name: ParsedName): InvalidEventName | ReservedEventName | undefined => {
  if (name.kind === "wildcard") return new InvalidEventName({ event: name.name, reason: "WildcardHandler" })
  if (name.parts.length !== 3 || !reserved.has(name.parts[0])) return undefined
  const allowed = name.kind === "static" ? builtins.has(name.name) : builtinGroups.has(name.group)
  return allowed ? undefined : new ReservedEventName({ event: name.name })
}

/** Parses a name that is to take a handler: valid, and a built-in event in the reserved namespaces. */
export const parseForSignal = (name: unknown): Either.Either<ParsedName, InvalidEventName | ReservedEventName> => {
  const parsed = parse(name)
  if (Either.isLeft(parsed)) return parsed
  const refusal = signalRefusal(parsed.right)
  return refusal === undefined ? parsed : Either.left(refusal)
}
