import * as Data from "effect/Data"

/** Why the inspector cannot start. */
export type InspectorErrorReason = "InvalidSetting" | "NotLoopback" | "ListenFailed"

export class InspectorError extends Data.TaggedError("InspectorError")<{
  readonly reason: InspectorErrorReason
  /** What went wrong, in words: the message. */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}
