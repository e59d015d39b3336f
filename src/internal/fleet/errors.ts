import * as Data from "effect/Data"

/** The kinds of fleet errors. */
export type FleetErrorReason = "Unavailable" | "ContextTooLarge" | "MachineNotFound" | "NoAnswer"

export class FleetError extends Data.TaggedError("FleetError")<{
  readonly reason: FleetErrorReason
  readonly detail: string
  /** The machine concerned, where there is one. */
  readonly machine?: string | undefined
}> {
  override get message(): string {
    return this.detail
  }
}

/** PostgreSQL refuses a notification payload of 8000 bytes or more; the envelope around an event takes the rest. */
export const maxEventBytes = 7000
