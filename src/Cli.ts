/**
 * `fiberapp inspect`: the inspector from the command line, built on `@effect/cli` and platform's `HttpClient`.
 *
 * | Command | Does |
 * |---|---|
 * | `fiberapp inspect` | the process and its workers, as a table |
 * | `fiberapp inspect tasks [--status s]... [--name n]` | every worker's tasks, filtered (`*` in a name matches anything) |
 * | `fiberapp inspect cancel <worker> <task>` | cancels a task |
 * | `fiberapp inspect restart [worker...] [--no-zero-downtime]` | restarts workers (zero-downtime by default) |
 * | `fiberapp inspect scale <n>` | runs `n` workers |
 * | `fiberapp inspect shutdown` | stops the server as SIGTERM does |
 *
 * Every command takes `--host`, `--port`, `--api-key` (or `INSPECTOR_HOST`, `INSPECTOR_PORT`, `INSPECTOR_API_KEY`),
 * `--timeout <seconds>` and `--json`. A failure is one line on stderr and an exit code from {@link exitCodes}.
 *
 * @example
 * ```ts
 * import * as Command from "@effect/cli/Command"
 * import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import * as Cli from "fiberapp/Cli"
 *
 * // `my-app inspect tasks --status running` in your own command line
 * const myApp = Command.make("my-app").pipe(Command.withSubcommands([Cli.inspect]))
 *
 * Command.run(myApp, { name: "my-app", version: "1.0.0" })(process.argv).pipe(
 *   Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layer)),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import type * as ValidationError from "@effect/cli/ValidationError"
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Effect } from "effect"
import * as internal from "./internal/cli/command.js"
import * as errors from "./internal/cli/errors.js"
import * as internalMain from "./internal/cli/main.js"

/**
 * Why a command failed: bad input (`BadInput`), no inspector at that address or no answer in time (`Unreachable`),
 * a missing or wrong API key (`Refused`), an unknown worker or task (`NotFound`), or the inspector could not do it
 * (`Failed`, e.g. restarting a process that serves alone).
 *
 * @since 0.1.0
 * @category errors
 */
export const InspectError: typeof errors.InspectError = errors.InspectError

/**
 * The type of an `InspectError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InspectError = errors.InspectError

/**
 * Why a command failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type InspectErrorReason = errors.InspectErrorReason

/**
 * The exit codes of `fiberapp`: 0 done, 1 bad input (the command line, or a request the inspector refused as
 * invalid), 2 inspector unreachable, 3 API key refused, 4 worker or task not found, 5 the inspector could not do it.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodes: {
  readonly Ok: 0
  readonly BadInput: 1
  readonly Unreachable: 2
  readonly Refused: 3
  readonly NotFound: 4
  readonly Failed: 5
} = errors.exitCodes

/**
 * The `inspect` command and its subcommands, to put under a command line of your own.
 *
 * @since 0.1.0
 * @category commands
 */
export const inspect: typeof internal.inspect = internal.inspect

/**
 * The `fiberapp` command line: `fiberapp inspect ...`.
 *
 * @since 0.1.0
 * @category commands
 */
export const command: typeof internal.command = internal.command

/**
 * Runs the `fiberapp` command line on `process.argv`-style arguments (node and the script first). Fails with the
 * `InspectError` or the `ValidationError` (which `@effect/cli` has already printed).
 *
 * @since 0.1.0
 * @category running
 */
export const run: (
  argv: ReadonlyArray<string>
) => Effect.Effect<
  void,
  InspectError | ValidationError.ValidationError,
  HttpClient.HttpClient | CliApp.CliApp.Environment
> = internalMain.run

/**
 * Runs the `fiberapp` command line and gives its exit code (see {@link exitCodes}); a failure is printed as one line
 * on stderr. What the `fiberapp` bin runs, with Node's context and HTTP client and `colors` set when stdout is a
 * terminal. `NO_COLOR` turns colours off too.
 *
 * @since 0.1.0
 * @category running
 */
export const main: (
  argv: ReadonlyArray<string>,
  options?: { readonly colors?: boolean | undefined }
) => Effect.Effect<number, never, HttpClient.HttpClient | CliApp.CliApp.Environment> = internalMain.main
