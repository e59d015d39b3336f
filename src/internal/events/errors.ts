import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { durationHint } from "../duration.js"
import { paramTypes, unsupportedTypes } from "./params.js"

const paramTypeList = paramTypes.map((type) => `"${type}"`).join(", ")

/** Why an event name is refused. */
export type InvalidEventNameReason =
  | "NotAString"
  | "Empty"
  | "PartCount"
  | "EmptyPart"
  | "DynamicPartNotLast"
  | "WildcardNotLast"
  | "ForbiddenCharacter"
  | "BadDynamicPart"
  | "UnknownParamType"
  | "UnsupportedParamType"
  | "BadRegex"
  | "NotConcrete"
  | "WildcardHandler"

export class InvalidEventName extends Data.TaggedError("InvalidEventName")<{
  readonly event: unknown
  readonly reason: InvalidEventNameReason
  /** The part in question (from 1), or with `PartCount` how many parts the name has. */
  readonly part?: number | undefined
  /**
   * The text of the part in question; with `UnknownParamType` and `UnsupportedParamType` the type given, with
   * `BadRegex` the regular expression.
   */
  readonly text?: string | undefined
  /** With `BadRegex`: what is wrong with the regular expression. */
  readonly problem?: string | undefined
}> {
  /** What is wrong with the name, in words. */
  get detail(): string {
    return nameDetails[this.reason](this)
  }

  override get message(): string {
    return (
      `Invalid event name ${describe(this.event)}: ${this.detail}. ` +
      `A valid name is one word ("ready") or three dot-separated parts ("my.custom.event"), ` +
      `where only the third part may be dynamic ("orders.paid.<id>", "orders.paid.<amount:int>", ` +
      `"orders.paid.<code:[A-Z]{3}>").`
    )
  }
}

const nameDetails: { readonly [K in InvalidEventNameReason]: (error: InvalidEventName) => string } = {
  NotAString: ({ event }) => `an event name must be a string, got ${event === null ? "null" : typeof event}`,
  Empty: () => "it is empty",
  PartCount: ({ part }) => `it has ${part} parts`,
  EmptyPart: ({ part }) => `part ${part} is empty`,
  DynamicPartNotLast: ({ part, text }) => `only the third part may be dynamic, not part ${part} ("${text}")`,
  WildcardNotLast: ({ part }) => `only the third part may be "*", not part ${part}`,
  ForbiddenCharacter: ({ part, text }) =>
    `part ${part} ("${text}") contains whitespace, a control character, "<", ">" or "*"`,
  BadDynamicPart: ({ text }) =>
    `the dynamic part "${text}" must be <name>, <name:type> or <name:regex>, with a name like "order_id"`,
  UnknownParamType: ({ text }) =>
    `the dynamic part has the unknown type "${text}" (use one of ${paramTypeList}, or a regular expression)`,
  UnsupportedParamType: ({ text }) => `the dynamic part cannot have the type "${text}": ${unsupportedTypes[text!]}`,
  BadRegex: ({ problem, text }) => `the dynamic part's regular expression /${text}/ is unusable: ${problem}`,
  NotConcrete: () => `a dispatched name must be concrete, without "<...>" or "*"`,
  WildcardHandler: () => `"*" is only for waiting with event(); a handler uses a dynamic part such as "<name>"`
}

export class ReservedEventName extends Data.TaggedError("ReservedEventName")<{ readonly event: string }> {
  override get message(): string {
    return (
      `Cannot declare reserved event "${this.event}": the namespaces "server", "http" and "websocket" ` +
      `hold only the built-in events (for example "server.init.before"). Use your own namespace, ` +
      `such as "app.${this.event.split(".").slice(1).join(".")}".`
    )
  }
}

export class EventTimeout extends Data.TaggedError("EventTimeout")<{
  readonly event: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `Timed out after ${Duration.format(this.timeout)} waiting for event "${this.event}".`
  }
}

export class InvalidEventTimeout extends Data.TaggedError("InvalidEventTimeout")<{
  readonly event: string
  readonly timeout: unknown
}> {
  override get message(): string {
    return `Invalid timeout ${describe(this.timeout)} waiting for event "${this.event}": use ${durationHint}.`
  }
}

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || typeof value !== "object") return String(value)
  try {
    return String(value)
  } catch {
    return "[object]"
  }
}

/** The option of `events` that is unusable. */
export type InvalidEventsOptionsReason = "bufferSize" | "strategy"

export class InvalidEventsOptions extends Data.TaggedError("InvalidEventsOptions")<{
  readonly event: string
  readonly reason: InvalidEventsOptionsReason
  readonly value: unknown
}> {
  override get message(): string {
    const expected =
      this.reason === "bufferSize" ? "a whole number, 1 or more" : `"dropping" (the default) or "sliding"`
    return `Invalid option "${this.reason}" for the events of "${this.event}": expected ${expected}, got ${describe(this.value)}.`
  }
}

export class UnserializableEventContext extends Data.TaggedError("UnserializableEventContext")<{
  readonly event: string
  readonly detail: string
}> {
  override get message(): string {
    return (
      `The context of event "${this.event}" cannot go to other processes (${this.detail}): a dispatch with ` +
      `scope: "all" carries its context as JSON, so no bigint and no cycles; nothing was delivered. ` +
      `Declare the event with a Schema (Events.define) to carry richer values.`
    )
  }
}

/** Which way a typed event's context failed its schema. */
export type InvalidEventContextReason = "Encode" | "Decode"

export class InvalidEventContext extends Data.TaggedError("InvalidEventContext")<{
  readonly event: string
  readonly reason: InvalidEventContextReason
  /** The schema's own words. */
  readonly detail: string
}> {
  override get message(): string {
    const what = this.reason === "Encode" ? "cannot be encoded for dispatch" : "does not decode"
    return `The context of event "${this.event}" ${what} with its schema: ${this.detail}`
  }
}
