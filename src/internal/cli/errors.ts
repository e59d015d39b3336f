import * as Data from "effect/Data"

/** Why `fiberapp inspect` failed; each reason has its own exit code. */
export type InspectErrorReason = "BadInput" | "Unreachable" | "Refused" | "NotFound" | "Failed"

export class InspectError extends Data.TaggedError("InspectError")<{
  readonly reason: InspectErrorReason
  /** What went wrong, in one line: the message. */
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

export const exitCodes = {
  Ok: 0,
  BadInput: 1,
  Unreachable: 2,
  Refused: 3,
  NotFound: 4,
  Failed: 5
} as const
