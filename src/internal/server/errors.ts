import * as Data from "effect/Data"
import type { ListenerKind } from "../../App.js"

/** What kind of problem kept the server from starting. */
export type ServeErrorReason =
  | "InvalidOption"
  | "InvalidSetting"
  | "PortInUse"
  | "ListenFailed"
  | "StartFailed"
  | "WorkersFailed"
  | "InspectorFailed"
  | "FleetFailed"

export class ServeError extends Data.TaggedError("ServeError")<{
  readonly reason: ServeErrorReason
  /** What went wrong, in words: the message. */
  readonly detail: string
  readonly listener?: ListenerKind | undefined
  /**
   * The error behind this one (a listener's `StartError`, a `WorkersError`, a `ConfigError`), for code that wants it.
   * Not `cause`: loggers print a `cause` as a block of its own, and the detail already says what it says.
   */
  readonly origin?: unknown
}> {
  constructor(args: {
    readonly reason: ServeErrorReason
    readonly detail: string
    readonly listener?: ListenerKind | undefined
    readonly origin?: unknown
  }) {
    super(args)
    // A configuration or start-up problem is reported by its message; where in the server it was noticed is noise.
    Object.defineProperty(this, "stack", { value: `ServeError: ${args.detail}`, configurable: true, writable: true })
  }

  override get message(): string {
    return this.detail
  }
}
