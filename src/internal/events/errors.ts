import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { durationHint } from "../duration.js"

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
  | "NotConcrete"
  | "WildcardHandler"

export class InvalidEventName extends Data.TaggedError("InvalidEventName")<{
  readonly event: unknown
  readonly reason: InvalidEventNameReason
  /** The part in question (from 1), or with `PartCount` how many parts the name has. */
  readonly part?: number | undefined
  /** The text of the part in question, or with `UnknownParamType` the type given. */
  readonly text?: string | undefined
}> {
  /** What is wrong with the name, in words. */
  get detail(): string {
    return nameDetails[this.reason](this)
  }

  override get message(): string {
    return (
      `Invalid event name ${describe(this.event)}: ${this.detail}. ` +
      `A valid name is one word ("ready") or three dot-separated parts ("my.custom.event"), ` +
      `where only the third part may be dynamic ("orders.paid.<id>", "orders.paid.<amount:int>").`
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
  BadDynamicPart: ({ text }) => `the dynamic part "${text}" must be <name> or <name:int>, with a name like "order_id"`,
  UnknownParamType: ({ event, text }) =>
    `the dynamic part "${lastPart(event)}" has the unknown type "${text}" (use "int", or no type)`,
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

const lastPart = (event: unknown): string => (typeof event === "string" ? event.slice(event.lastIndexOf(".") + 1) : "")

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
