import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** Why a task name is refused. */
export type InvalidTaskNameReason = "NotAString" | "Empty" | "TooLong"

export class TaskNotFound extends Data.TaggedError("TaskNotFound")<{ readonly name: string }> {
  override get message(): string {
    return `Registered task named "${text(this.name)}" not found.`
  }
}

export class TaskNameInUse extends Data.TaggedError("TaskNameInUse")<{ readonly name: string }> {
  override get message(): string {
    return `A task named "${text(this.name)}" is still running; cancel it first or choose another name.`
  }
}

export class InvalidTaskName extends Data.TaggedError("InvalidTaskName")<{
  readonly name: unknown
  readonly reason: InvalidTaskNameReason
}> {
  override get message(): string {
    return `Invalid task name ${describe(this.name)}: ${explain(this.name, this.reason)}.`
  }
}

export const maxNameLength = 256

const explain = (name: unknown, reason: InvalidTaskNameReason): string => {
  switch (reason) {
    case "NotAString":
      return `a task name must be a string, got ${typeof name}`
    case "Empty":
      return "a task name must not be empty"
    case "TooLong":
      return `a task name must be at most ${maxNameLength} characters, got ${(name as string).length}`
  }
}

export const validateName = (name: unknown): InvalidTaskNameReason | undefined => {
  if (typeof name !== "string") return "NotAString"
  if (name.length === 0) return "Empty"
  if (name.length > maxNameLength) return "TooLong"
  return undefined
}

// Names come from JS callers too: a message must not throw for a value that has no string form.
const text = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

const describe = (name: unknown): string => {
  if (typeof name !== "string") return text(name)
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name
  return JSON.stringify(shown)
}

/** The option of `addTask` that is unusable. */
export type InvalidTaskOptionsReason = "schedule" | "timeZone" | "retry" | "timeout" | "placement"

export class InvalidTaskOptions extends Data.TaggedError("InvalidTaskOptions")<{
  readonly name: string | undefined
  readonly reason: InvalidTaskOptionsReason
  readonly value: unknown
  readonly detail: string
}> {
  override get message(): string {
    const task = this.name === undefined ? "an unnamed task" : `task ${describe(this.name)}`
    return `Invalid option "${this.reason}" for ${task}: ${this.detail}.`
  }
}

export class TaskTimeout extends Data.TaggedError("TaskTimeout")<{
  readonly name: string | undefined
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    const task = this.name === undefined ? "An unnamed task's run" : `A run of task ${describe(this.name)}`
    return `${task} did not end within ${Duration.format(this.timeout)} and was interrupted.`
  }
}
