import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { version } from "../version.js"
import { command } from "./command.js"
import { exitCodes } from "./errors.js"

export const run = Command.run(command, { name: "fiberapp", version })

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what is stripped
const escapes = /\u001b\[[0-9;]*m/g

const strip = (value: unknown): unknown => (typeof value === "string" ? value.replace(escapes, "") : value)

/** What @effect/cli prints (its help, its errors) without its terminal colours. */
const withoutColors = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.consoleWith((console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(...args.map(strip)),
      error: (...args) => console.error(...args.map(strip))
    })
  )

/** `NO_COLOR` set to anything but the empty string turns colours off (https://no-color.org). */
const noColor = Config.map(
  Config.option(Config.string("NO_COLOR")),
  Option.exists((value) => value !== "")
)

/**
 * Runs the command line (`process.argv`, the first two being node and the script) and gives the exit code: a
 * failure is one line on stderr, never a stack.
 */
export const main = (argv: ReadonlyArray<string>, options?: { readonly colors?: boolean | undefined }) =>
  Effect.flatMap(
    Effect.orElseSucceed(noColor, () => false),
    (off) => (off || options?.colors === false ? withoutColors(run(argv)) : run(argv))
  ).pipe(
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
