import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { version } from "../version.js"
import { command } from "./command.js"
import { exitCodes } from "./errors.js"

export const run = Command.run(command, { name: "fiberapp", version })

/**
 * Runs the command line (`process.argv`, the first two being node and the script) and gives the exit code: a
 * failure is one line on stderr, never a stack.
 */
export const main = (argv: ReadonlyArray<string>) =>
  run(argv).pipe(
    Effect.as(exitCodes.Ok),
    Effect.catchAll((error) => {
      // @effect/cli has already printed what was wrong with the command line.
      if (ValidationError.isValidationError(error)) return Effect.succeed(exitCodes.BadInput)
      return Effect.as(Console.error(`fiberapp: ${error.message}`), exitCodes[error.reason])
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`fiberapp: unexpected failure: ${firstLine(Cause.squash(cause))}`), exitCodes.Failed)
    )
  )

const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split("\n", 1)[0] ?? ""
