import * as Either from "effect/Either"
import type { EventName } from "../../Events.js"
import { InvalidEventName, ReservedEventName } from "./errors.js"

export const builtinEvents = [
  "server.init.before",
  "server.init.after",
  "server.shutdown.before",
  "server.shutdown.after",
  "server.exception.report",
  "http.lifecycle.request",
  "http.lifecycle.response",
  "http.routing.before",
  "http.routing.after",
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
}

const paramPattern = /^<([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?>$/
const forbidden = /[\s\p{Cc}.<>*]/u
export const intPattern = /^-?\d+$/
export const maxCached = 4096

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

const parseUncached = (name: string): Either.Either<ParsedName, InvalidEventName> => {
  if (name.length === 0) return invalid(name, { reason: "Empty" })
  const parts = name.split(".")
  if (parts.length !== 1 && parts.length !== 3) return invalid(name, { reason: "PartCount", part: parts.length })
  const last = parts.length - 1
  for (let i = 0; i < last; i++) {
    const refusal = checkPart(parts[i], i, false)
    if (refusal !== undefined) return invalid(name, refusal)
  }
  const tail = parts[last]
  const group = last === 0 ? "" : `${parts[0]}.${parts[1]}`
  if (tail === "*") {
    return Either.right({ name, parts, kind: "wildcard", param: undefined, type: undefined, group, tail })
  }
  if (tail.startsWith("<")) {
    const match = paramPattern.exec(tail)
    if (match === null) return invalid(name, { reason: "BadDynamicPart", part: parts.length, text: tail })
    const type = match[2] ?? "str"
    if (type !== "str" && type !== "int") {
      return invalid(name, { reason: "UnknownParamType", part: parts.length, text: type })
    }
    return Either.right({ name, parts, kind: "dynamic", param: match[1], type, group, tail })
  }
  const refusal = checkPart(tail, last, true)
  if (refusal !== undefined) return invalid(name, refusal)
  return Either.right({ name, parts, kind: "static", param: undefined, type: undefined, group, tail })
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
