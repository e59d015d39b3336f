import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type { Command } from "../../Inspector.js"

/** The inspector's own actions: no custom command may take their names. */
export const builtinActions: ReadonlyArray<string> = ["tasks", "restart", "reload", "scale", "shutdown"]

/** Why a custom command is refused. */
export type InspectorCommandErrorReason = "BuiltinAction" | "Duplicate" | "InvalidName"

export class InspectorCommandError extends Data.TaggedError("InspectorCommandError")<{
  readonly name: string
  readonly reason: InspectorCommandErrorReason
}> {
  override get message(): string {
    return commandErrorMessages[this.reason](this.name)
  }
}

const commandErrorMessages: { readonly [K in InspectorCommandErrorReason]: (name: string) => string } = {
  BuiltinAction: (name) =>
    `Inspector command "${name}" has the name of a built-in action (${builtinActions.join(", ")}): give it ` +
    `another name.`,
  Duplicate: (name) => `Inspector command "${name}" is declared twice: each command needs its own name.`,
  InvalidName: (name) =>
    `Invalid inspector command name ${JSON.stringify(name)}: it becomes the path POST /<name>, so use letters, ` +
    `digits, "_" and "-" only.`
}

/** A command ready to serve: its schema, and its handler bound to the services of the layer that declared it. */
export interface ReadyCommand {
  readonly name: string
  readonly schema: Schema.Schema<unknown, unknown>
  readonly run: (input: unknown) => Effect.Effect<unknown, unknown>
}

export interface CommandsService {
  readonly commands: ReadonlyArray<ReadyCommand>
}

export class Commands extends Context.Tag("fiberapp/Inspector/Commands")<Commands, CommandsService>() {}

const validName = /^[A-Za-z0-9_-]+$/

export const command = <A, I, E, R>(
  name: string,
  schema: Schema.Schema<A, I>,
  handler: (input: A) => Effect.Effect<unknown, E, R>
): Command<A, E, R> => ({ name, schema, handler })

/** Checks the names and binds every handler to the layer's context (the app's services, `App` among them). */
export const layer = <R>(
  commands: ReadonlyArray<Command<any, any, R>>
): Layer.Layer<Commands, InspectorCommandError, R> =>
  Layer.effect(
    Commands,
    Effect.gen(function* () {
      const seen = new Set<string>()
      for (const { name } of commands) {
        if (typeof name !== "string" || !validName.test(name)) {
          return yield* new InspectorCommandError({ name: String(name), reason: "InvalidName" })
        }
        if (builtinActions.includes(name)) return yield* new InspectorCommandError({ name, reason: "BuiltinAction" })
        if (seen.has(name)) return yield* new InspectorCommandError({ name, reason: "Duplicate" })
        seen.add(name)
      }
      const context = yield* Effect.context<R>()
      return {
        commands: commands.map(
          (declared): ReadyCommand => ({
            name: declared.name,
            schema: declared.schema as Schema.Schema<unknown, unknown>,
            run: (input) =>
              Effect.provide(
                Effect.suspend(() => declared.handler(input)),
                context
              )
          })
        )
      }
    })
  )
