import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Task from "../../Task.js"
import { defaultInspectorHost, defaultInspectorPort } from "../inspector/defaults.js"
import { type Connection, call } from "./client.js"
import { InspectError } from "./errors.js"
import { ProcessInfo, processTable, TaskList, taskTable, WorkerRow, workerTable } from "./render.js"

/** An unset or blank variable counts as unset, as the server reads them. */
const variable = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((text) => text.trim() !== "")))

const validPort = (port: number): boolean => Number.isInteger(port) && port >= 1 && port <= 65_535

const portConfig: Config.Config<number> = variable("INSPECTOR_PORT").pipe(
  Config.mapOrFail(
    Option.match({
      onNone: () => Either.right(defaultInspectorPort),
      onSome: (text) =>
        validPort(Number(text))
          ? Either.right(Number(text))
          : Either.left(
              ConfigError.InvalidData(["INSPECTOR_PORT"], `expected a port from 1 to 65535, got ${text.trim()}`)
            )
    })
  )
)

const hostOption = Options.text("host").pipe(
  Options.withDescription(`The inspector's host (INSPECTOR_HOST, default ${defaultInspectorHost}).`)
)

const portOption = Options.integer("port").pipe(
  Options.withDescription(`The inspector's port (INSPECTOR_PORT, default ${defaultInspectorPort}).`),
  Options.mapEffect((port) =>
    validPort(port)
      ? Effect.succeed(port)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`Invalid port ${port}: use 1 to 65535.`)))
  )
)

const apiKeyOption = Options.redacted("api-key").pipe(
  Options.withDescription("The inspector's API key (INSPECTOR_API_KEY), sent as a bearer token.")
)

const timeoutOption = Options.integer("timeout").pipe(
  Options.withDescription(
    "Seconds to wait for an answer (default 60); restarts and scaling answer once workers serve."
  ),
  Options.mapEffect((seconds) =>
    seconds >= 1
      ? Effect.succeed(Duration.seconds(seconds))
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`Invalid timeout ${seconds}: use 1 or more seconds.`)))
  )
)

const jsonOption = Options.boolean("json").pipe(
  Options.withDescription("Print the inspector's JSON answer instead of a table, for scripts.")
)

/** `inspect`'s options: each falls back to its variable, then to its default. */
const settings = {
  host: hostOption.pipe(
    Options.withFallbackConfig(
      Config.map(
        variable("INSPECTOR_HOST"),
        Option.getOrElse(() => defaultInspectorHost)
      )
    )
  ),
  port: portOption.pipe(Options.withFallbackConfig(portConfig)),
  apiKey: apiKeyOption.pipe(
    Options.optional,
    Options.withFallbackConfig(Config.map(variable("INSPECTOR_API_KEY"), Option.map(Redacted.make)))
  ),
  timeout: timeoutOption.pipe(Options.withDefault(Duration.seconds(60))),
  json: jsonOption
}

/** A subcommand's own copies of `inspect`'s options, so that they can follow its name too; they win. */
const overrides = {
  host: Options.optional(hostOption),
  port: Options.optional(portOption),
  apiKey: Options.optional(apiKeyOption),
  timeout: Options.optional(timeoutOption),
  json: jsonOption
}

interface Settings {
  readonly host: string
  readonly port: number
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly timeout: Duration.Duration
  readonly json: boolean
}

interface Overrides {
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly timeout: Option.Option<Duration.Duration>
  readonly json: boolean
}

const connectionOf = (settings: Settings): Connection => ({
  host: settings.host,
  port: settings.port,
  apiKey: settings.apiKey,
  timeout: settings.timeout
})

const print = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** Decodes an answer for a table; an answer of another shape means this is not a fiberapp inspector. */
const decode = <A, I>(schema: Schema.Schema<A, I>, answer: unknown): Effect.Effect<A, InspectError> =>
  Effect.mapError(
    Schema.decodeUnknown(schema)(answer),
    () => new InspectError({ reason: "Failed", detail: "The inspector's answer has an unexpected shape." })
  )

/** The inspector's own limit. */
const maxReplicas = 256

const statuses = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "cancelled"
] as const satisfies ReadonlyArray<Task.Status>

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** `*` matches any run of characters; everything else matches itself. */
const namePattern = (pattern: string): RegExp => new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`)

const processCommand = Command.make("inspect", settings, (options) =>
  Effect.gen(function* () {
    const answer = yield* call(connectionOf(options), "GET", "/")
    if (options.json) return yield* print(answer)
    const info = yield* decode(ProcessInfo, answer)
    yield* Console.log(processTable(info, yield* Clock.currentTimeMillis))
  })
).pipe(Command.withDescription("Shows the process and its workers, or acts on them with a subcommand."))

/** A subcommand's settings: its own options, then those given to `inspect`. */
const settingsOf = (own: Overrides): Effect.Effect<Settings, never, Command.Command.Context<"inspect">> =>
  Effect.map(processCommand, (parent) => ({
    host: Option.getOrElse(own.host, () => parent.host),
    port: Option.getOrElse(own.port, () => parent.port),
    apiKey: Option.orElse(own.apiKey, () => parent.apiKey),
    timeout: Option.getOrElse(own.timeout, () => parent.timeout),
    json: own.json || parent.json
  }))

const tasksCommand = Command.make(
  "tasks",
  {
    ...overrides,
    status: Options.choice("status", statuses).pipe(
      Options.withDescription("Only tasks with this status; repeat for several."),
      Options.repeated
    ),
    name: Options.text("name").pipe(
      Options.withDescription("Only tasks with this name; * matches any run of characters."),
      Options.optional
    )
  },
  (options) =>
    Effect.gen(function* () {
      const settings = yield* settingsOf(options)
      const answer = yield* call(connectionOf(settings), "GET", "/tasks")
      const { tasks } = yield* decode(TaskList, answer)
      const pattern = Option.map(options.name, namePattern)
      const keep = tasks.map(
        (task) =>
          (options.status.length === 0 || options.status.includes(task.status as (typeof statuses)[number])) &&
          Option.match(pattern, { onNone: () => true, onSome: (regex) => regex.test(task.name ?? "") })
      )
      if (settings.json) {
        const raw = (answer as { readonly tasks: ReadonlyArray<unknown> }).tasks
        return yield* print({ tasks: raw.filter((_, index) => keep[index]) })
      }
      yield* Console.log(
        taskTable(
          tasks.filter((_, index) => keep[index]),
          yield* Clock.currentTimeMillis
        )
      )
    })
).pipe(Command.withDescription("Lists every worker's tasks: worker, name, status, times, runs and failures."))

const cancelCommand = Command.make(
  "cancel",
  {
    ...overrides,
    worker: Args.text({ name: "worker" }).pipe(Args.withDescription("The worker running the task: main when alone.")),
    task: Args.text({ name: "task" }).pipe(Args.withDescription("The task's name."))
  },
  (options) =>
    Effect.gen(function* () {
      const settings = yield* settingsOf(options)
      const path = `/tasks/${encodeURIComponent(options.worker)}/${encodeURIComponent(options.task)}/cancel`
      const answer = yield* call(connectionOf(settings), "POST", path)
      if (settings.json) return yield* print(answer)
      yield* Console.log(`Cancelled task ${JSON.stringify(options.task)} in ${options.worker}.`)
    })
).pipe(Command.withDescription("Cancels a task in a worker."))

const workersTable = (answer: unknown) =>
  Effect.zipWith(
    decode(Schema.Struct({ workers: Schema.Array(WorkerRow) }), answer),
    Clock.currentTimeMillis,
    ({ workers }, now) => workerTable(workers, now)
  )

const restartCommand = Command.make(
  "restart",
  {
    ...overrides,
    workers: Args.text({ name: "worker" }).pipe(
      Args.withDescription("The workers to restart, by name (worker-0, ...); all when none is given."),
      Args.repeated
    ),
    zeroDowntime: Options.boolean("no-zero-downtime", { ifPresent: false, negationNames: ["zero-downtime"] }).pipe(
      Options.withDescription(
        "--zero-downtime (the default) starts each new process before stopping the old one; " +
          "--no-zero-downtime stops it first."
      )
    )
  },
  (options) =>
    Effect.gen(function* () {
      const settings = yield* settingsOf(options)
      const answer = yield* call(connectionOf(settings), "POST", "/restart", {
        ...(options.workers.length > 0 ? { workers: options.workers } : {}),
        zeroDowntime: options.zeroDowntime
      })
      if (settings.json) return yield* print(answer)
      const which = options.workers.length > 0 ? options.workers.join(", ") : "all workers"
      yield* Console.log(`Restarted ${which}${options.zeroDowntime ? " (zero-downtime)" : ""}.\n`)
      yield* Console.log(yield* workersTable(answer))
    })
).pipe(Command.withDescription("Restarts workers, one at a time; each new process serves before the old one stops."))

const scaleCommand = Command.make(
  "scale",
  {
    ...overrides,
    replicas: Args.integer({ name: "replicas" }).pipe(
      Args.withDescription(`How many workers to run (1 to ${maxReplicas}).`),
      Args.mapEffect((replicas) =>
        replicas >= 1 && replicas <= maxReplicas
          ? Effect.succeed(replicas)
          : Effect.fail(HelpDoc.p(`Invalid number of workers ${replicas}: use 1 to ${maxReplicas}.`))
      )
    )
  },
  (options) =>
    Effect.gen(function* () {
      const settings = yield* settingsOf(options)
      const answer = yield* call(connectionOf(settings), "POST", "/scale", { replicas: options.replicas })
      if (settings.json) return yield* print(answer)
      yield* Console.log(`Scaled to ${options.replicas} worker${options.replicas === 1 ? "" : "s"}.\n`)
      yield* Console.log(yield* workersTable(answer))
    })
).pipe(Command.withDescription("Starts or stops workers until there are this many."))

const shutdownCommand = Command.make("shutdown", overrides, (options) =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(options)
    const answer = yield* call(connectionOf(settings), "POST", "/shutdown")
    if (settings.json) return yield* print(answer)
    yield* Console.log("The server is shutting down.")
  })
).pipe(Command.withDescription("Stops the server as SIGTERM does: the current requests are answered first."))

export const inspect = processCommand.pipe(
  Command.withSubcommands([tasksCommand, cancelCommand, restartCommand, scaleCommand, shutdownCommand])
)

export const command = Command.make("fiberapp").pipe(
  Command.withDescription("Operates a running fiberapp server through its inspector."),
  Command.withSubcommands([inspect])
)
