import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type { SupervisorService } from "../../Workers.js"

/** The kinds of problem a worker operation runs into. */
export const workersErrorReasons = [
  "NotSupervisor",
  "ServesAlone",
  "StartFailed",
  "RestartFailed",
  "NotServing",
  "NoAnswer",
  "Stopping",
  "InvalidReplicas",
  "NoEntryScript",
  "AmbiguousRestart",
  "NotRestartable",
  "NameInUse",
  "InvalidManaged",
  "Sealed",
  "NotAWorker",
  "ReservedKey",
  "NotJson"
] as const

/** What kind of problem a worker operation ran into. */
export type WorkersErrorReason = (typeof workersErrorReasons)[number]

export class WorkersError extends Data.TaggedError("WorkersError")<{
  readonly reason: WorkersErrorReason
  /** What went wrong, in words: the message. */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

export class WorkerNotFound extends Data.TaggedError("WorkerNotFound")<{ readonly worker: string }> {
  override get message(): string {
    return `No worker named "${this.worker}".`
  }
}

/** Why a shared value could not be set or read. */
export type SharedValueErrorReason = "ReadOnly" | "Sealed" | "NotEncodable" | "NotJson" | "NotDecodable" | "NotSet"

export class SharedValueError extends Data.TaggedError("SharedValueError")<{
  readonly key: string
  readonly reason: SharedValueErrorReason
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Shared value "${this.key}": ${this.detail}`
  }
}

export class Supervisor extends Context.Tag("fiberapp/Workers/Supervisor")<Supervisor, SupervisorService>() {}
