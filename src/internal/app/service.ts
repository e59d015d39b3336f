import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type { AppService, ListenerKind, State } from "../../App.js"
import { describeCause, quote } from "../describe.js"
import { durationHint } from "../duration.js"

export class App extends Context.Tag("fiberapp/App")<App, AppService>() {}

/** Why an app did not start. */
export type StartErrorReason = "NotIdle" | "StoppedWhileStarting" | "ListenerFailed"

export class StartError extends Data.TaggedError("StartError")<{
  readonly reason: StartErrorReason
  readonly app: string
  /** With `NotIdle`: the state the app was in. */
  readonly state?: State | undefined
  /** With `ListenerFailed`: the kind of the listener, and its place among the listeners of that kind (from 1). */
  readonly listener?: ListenerKind | undefined
  readonly position?: number | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}> {
  /** What went wrong, in words. */
  get detail(): string {
    return startErrorDetails[this.reason](this)
  }

  override get message(): string {
    return `The app could not start: ${this.detail}`
  }
}

const startErrorDetails: { readonly [K in StartErrorReason]: (error: StartError) => string } = {
  NotIdle: (error) => `the app "${error.app}" is ${error.state}; an app starts once, from "idle"`,
  StoppedWhileStarting: (error) => `the app "${error.app}" was stopped while starting`,
  ListenerFailed: (error) =>
    `${error.listener} listener #${error.position} failed: ` +
    `${error.cause === undefined ? "unknown" : describeCause(error.cause)}`
}

/** Which option given to `App.make` is unusable. */
export type InvalidAppOptionsReason = "InvalidName" | "InvalidGracefulShutdownTimeout" | "InvalidTaskRetention"

export class InvalidAppOptions extends Data.TaggedError("InvalidAppOptions")<{
  readonly reason: InvalidAppOptionsReason
  readonly value: unknown
}> {
  override get message(): string {
    const given = quote(this.value)
    switch (this.reason) {
      case "InvalidName":
        return `Invalid app options: the app's name must be a non-empty string, got ${given}.`
      case "InvalidGracefulShutdownTimeout":
        return `Invalid app options: gracefulShutdownTimeout ${given} is not ${durationHint}.`
      case "InvalidTaskRetention":
        return `Invalid app options: taskRetention ${given} is not ${durationHint}.`
    }
    return `Invalid app options: ${given}.`
  }
}
