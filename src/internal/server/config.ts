import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Fleet from "../../Fleet.js"
import type * as Inspector from "../../Inspector.js"
import type { Options } from "../../Server.js"
import { decodeNonNegative } from "../duration.js"
import { type FleetSettings, fleetOf } from "../fleet/settings.js"
import { isLoopback } from "../inspector/auth.js"
import { defaultInspectorHost, defaultInspectorPort } from "../inspector/defaults.js"
import { InspectorError } from "../inspector/errors.js"
import { ServeError } from "./errors.js"
import * as WebSocket from "./websocket.js"

export interface Resolved {
  readonly port: number
  readonly host: string
  readonly workers: number
  /** From `GRACEFUL_SHUTDOWN_TIMEOUT` or the options; `undefined` leaves the app's own. */
  readonly gracefulShutdownTimeout: Duration.Duration | undefined
  readonly maxBodySize: number
  readonly websocket: WebSocket.ResolvedOptions
  /** The inspector's settings, when it is on. */
  readonly inspector: Option.Option<Inspector.Resolved>
  /** This process's worker name, when a primary forked it. */
  readonly worker: Option.Option<string>
  /** The fleet's settings, when the server is one machine of a fleet. */
  readonly fleet: Option.Option<FleetSettings>
  /** The managed program this process runs, when a primary started it for one (`Workers.manage`). */
  readonly managed: Option.Option<string>
  /** Whether the primary restarts the workers when a source file changes. */
  readonly autoReload: boolean
}

export const defaultPort = 8000
export const defaultHost = "127.0.0.1"

/** An unset or blank variable counts as unset, so `PORT= npm start` behaves as no `PORT` at all. */
const raw = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((text) => text.trim() !== "")))

/** Every setting the environment can give a server process, read once: the one `Config` of the server. */
export const ServerConfig = Config.all({
  PORT: raw("PORT"),
  HOST: raw("HOST"),
  GRACEFUL_SHUTDOWN_TIMEOUT: raw("GRACEFUL_SHUTDOWN_TIMEOUT"),
  WORKERS: raw("WORKERS"),
  FIBERAPP_WORKER: raw("FIBERAPP_WORKER"),
  FIBERAPP_MANAGED: raw("FIBERAPP_MANAGED"),
  AUTO_RELOAD: raw("AUTO_RELOAD"),
  DEV: raw("DEV"),
  INSPECTOR: raw("INSPECTOR"),
  INSPECTOR_PORT: raw("INSPECTOR_PORT"),
  INSPECTOR_HOST: raw("INSPECTOR_HOST"),
  INSPECTOR_API_KEY: raw("INSPECTOR_API_KEY"),
  FLEET: raw("FLEET"),
  DATABASE_URL: raw("DATABASE_URL"),
  FLEET_MACHINE: raw("FLEET_MACHINE"),
  FLEET_HOST: raw("FLEET_HOST"),
  FLEET_RUNNER_PORT: raw("FLEET_RUNNER_PORT"),
  FLEET_TABLE_PREFIX: raw("FLEET_TABLE_PREFIX")
})

/** A set variable, read as `config` reads it (with Effect's own parsers and messages). */
const typed = <A>(
  name: string,
  value: Option.Option<string>,
  config: (name: string) => Config.Config<A>
): Effect.Effect<Option.Option<A>, ConfigError.ConfigError> =>
  Option.match(value, {
    onNone: () => Effect.succeedNone,
    onSome: (text) => Effect.asSome(ConfigProvider.fromMap(new Map([[name, text]])).load(config(name)))
  })

const readSettings = Effect.flatMap(ServerConfig, (env) =>
  Effect.all({
    port: typed("PORT", env.PORT, Config.integer),
    host: Effect.succeed(env.HOST),
    gracefulShutdownTimeout: Effect.succeed(env.GRACEFUL_SHUTDOWN_TIMEOUT),
    workers: typed("WORKERS", env.WORKERS, Config.integer),
    worker: Effect.succeed(env.FIBERAPP_WORKER),
    managed: Effect.succeed(env.FIBERAPP_MANAGED),
    autoReload: typed("AUTO_RELOAD", env.AUTO_RELOAD, Config.boolean),
    // Only `DEV=true`: tools set `DEV` for their own ends (vitest sets `DEV=1` in every process it starts).
    dev: Effect.succeed(Option.map(env.DEV, (dev) => dev.trim().toLowerCase() === "true")),
    inspector: typed("INSPECTOR", env.INSPECTOR, Config.boolean),
    inspectorPort: typed("INSPECTOR_PORT", env.INSPECTOR_PORT, Config.integer),
    inspectorHost: Effect.succeed(env.INSPECTOR_HOST),
    inspectorApiKey: typed("INSPECTOR_API_KEY", env.INSPECTOR_API_KEY, Config.redacted),
    fleet: typed("FLEET", env.FLEET, Config.boolean),
    database: typed("DATABASE_URL", env.DATABASE_URL, (name) => Config.redacted(Config.string(name))),
    fleetMachine: Effect.succeed(env.FLEET_MACHINE),
    fleetHost: Effect.succeed(env.FLEET_HOST),
    fleetRunnerPort: typed("FLEET_RUNNER_PORT", env.FLEET_RUNNER_PORT, Config.integer),
    fleetTablePrefix: Effect.succeed(env.FLEET_TABLE_PREFIX)
  })
)

/** The environment's settings, read. */
export type Settings = Effect.Effect.Success<typeof readSettings>

const settingName = (error: ConfigError.ConfigError): string => {
  if (ConfigError.isAnd(error) || ConfigError.isOr(error)) return settingName(error.left)
  if (
    ConfigError.isInvalidData(error) ||
    ConfigError.isMissingData(error) ||
    ConfigError.isSourceUnavailable(error) ||
    ConfigError.isUnsupported(error)
  ) {
    return error.path.join(".")
  }
  return "environment"
}

/** What a config error says, without the "(Invalid data at X: ...)" wrapping around it. */
const configProblem = (error: ConfigError.ConfigError): string => {
  if (ConfigError.isInvalidData(error) || ConfigError.isMissingData(error)) return error.message
  return String(error)
}

const settings: Effect.Effect<Settings, ServeError> = Effect.mapError(
  readSettings,
  (error) =>
    new ServeError({
      reason: "InvalidSetting",
      detail: `Invalid ${settingName(error)} setting: ${configProblem(error)}.`,
      origin: error
    })
)

/** A worker's name comes with the IPC channel its primary opened: without one, the variable means nothing. */
const workerOf = (name: Option.Option<string>): Option.Option<string> =>
  typeof process.send === "function" ? name : Option.none()

/** This process's worker name, when a primary forked it. */
export const workerName: Effect.Effect<Option.Option<string>> = Effect.map(
  Effect.orElseSucceed(ServerConfig, () => undefined),
  (read) => (read === undefined ? Option.none() : workerOf(read.FIBERAPP_WORKER))
)

/** The managed program this process runs, when a primary started it for one. */
export const managedName: Effect.Effect<Option.Option<string>> = Effect.map(
  Effect.orElseSucceed(ServerConfig, () => undefined),
  (read) => (read === undefined ? Option.none() : workerOf(read.FIBERAPP_MANAGED))
)

/**
 * A duration: options take Effect's `DurationInput` (numbers are milliseconds); the environment also takes a bare
 * number of seconds (Sanic's unit). Negative values are refused rather than clamped to zero.
 */
const duration = (
  input: Duration.DurationInput,
  source: string,
  what: string,
  numbers: "millis" | "seconds"
): Effect.Effect<Duration.Duration, ServeError> => {
  const seconds = typeof input === "string" && input.trim() !== "" && !Number.isNaN(Number(input.trim()))
  const decoded = seconds && numbers === "seconds" ? decodeNonNegative(Number(input) * 1000) : decodeNonNegative(input)
  return Option.match(decoded, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.fail(
        new ServeError({
          reason:
            source.startsWith("options") || source.startsWith("websocket") || source.startsWith("worker")
              ? "InvalidOption"
              : "InvalidSetting",
          detail:
            `Invalid ${what} ${JSON.stringify(String(input))} (${source}): ` +
            `use a non-negative ${numbers === "seconds" ? "number of seconds" : "duration"} such as ` +
            `${numbers === "seconds" ? '"10" or ' : ""}"10 seconds".`
        })
      )
  })
}

const invalid = (detail: string) => Effect.fail(new ServeError({ reason: "InvalidOption", detail }))

const checkPort = (port: number, source: string) =>
  Number.isInteger(port) && port >= 0 && port <= 65535
    ? Effect.void
    : Effect.fail(
        new ServeError({
          reason: source === "PORT" ? "InvalidSetting" : "InvalidOption",
          detail: `Invalid port ${port} (${source}): a port is an integer from 0 to 65535.`
        })
      )

/** Options with the environment's settings (the `ServerConfig`) taking precedence. */
export const resolve = (options: Options<any, any, any>): Effect.Effect<Resolved, ServeError> =>
  Effect.gen(function* () {
    if (options.port !== undefined) yield* checkPort(options.port, "options.port")
    const env = yield* settings
    if (Option.isSome(env.port)) yield* checkPort(env.port.value, "PORT")
    const port = Option.getOrElse(env.port, () => options.port ?? defaultPort)
    const host = Option.getOrElse(env.host, () => options.host ?? defaultHost)
    if (host.trim() === "") return yield* invalid("Invalid host: it is empty.")

    const workers = Option.getOrElse(env.workers, () => options.workers ?? 1)
    if (!Number.isInteger(workers) || workers < 1) {
      return yield* invalid(`Invalid workers ${workers}: use a whole number of processes, 1 or more.`)
    }

    let gracefulShutdownTimeout: Duration.Duration | undefined
    if (options.gracefulShutdownTimeout !== undefined) {
      gracefulShutdownTimeout = yield* duration(
        options.gracefulShutdownTimeout,
        "options.gracefulShutdownTimeout",
        "graceful shutdown timeout",
        "millis"
      )
    }
    if (Option.isSome(env.gracefulShutdownTimeout)) {
      gracefulShutdownTimeout = yield* duration(
        env.gracefulShutdownTimeout.value as Duration.DurationInput,
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "graceful shutdown timeout",
        "seconds"
      )
    }

    const maxBodySize = options.maxBodySize ?? 10 * 1024 * 1024
    if (!(maxBodySize > 0)) return yield* invalid(`Invalid maxBodySize ${maxBodySize}: use a positive number of bytes.`)
    const ws = options.websocket
    for (const key of ["maxMessageSize", "maxBufferedBytes", "maxQueuedMessages"] as const) {
      const value = ws?.[key]
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        return yield* invalid(`Invalid websocket.${key} ${value}: use a positive whole number.`)
      }
    }
    if (ws?.pingInterval !== undefined && ws.pingInterval !== false) {
      const parsed = yield* duration(ws.pingInterval, "websocket.pingInterval", "ping interval", "millis")
      if (Duration.toMillis(parsed) === 0) {
        return yield* invalid("Invalid websocket.pingInterval 0: use false to disable pings.")
      }
    }
    // A start timeout of zero, or a negative one (which decodes as zero), kills every worker as it starts.
    const startTimeout = options.workerOptions?.startTimeout
    if (startTimeout !== undefined) {
      const parsed = yield* duration(startTimeout, "workerOptions.startTimeout", "worker start timeout", "millis")
      if (Duration.toMillis(parsed) === 0) {
        return yield* invalid("Invalid workerOptions.startTimeout 0: use a positive duration.")
      }
    }

    const inspector = yield* Effect.mapError(
      inspectorOf(options.inspector, env),
      (error) => new ServeError({ reason: "InspectorFailed", detail: error.message, origin: error })
    )
    const fleet = yield* fleetOf(options.fleet as boolean | Fleet.Options | undefined, env, port)
    return {
      port,
      host,
      workers,
      gracefulShutdownTimeout,
      maxBodySize,
      websocket: WebSocket.resolveOptions(ws),
      inspector,
      worker: workerOf(env.worker),
      fleet,
      managed: workerOf(env.managed),
      // `AUTO_RELOAD` wins; else `DEV` (Sanic's dev mode) turns it on; else the option. Never on by default.
      autoReload: Option.getOrElse(
        Option.orElse(env.autoReload, () => Option.filter(env.dev, (dev) => dev)),
        () => options.autoReload === true
      )
    }
  })

/** The inspector's settings from its options and the environment, which wins; `None` when it is off. */
const inspectorOf = (
  options: boolean | Inspector.Options | undefined,
  env: Settings
): Effect.Effect<Option.Option<Inspector.Resolved>, InspectorError> =>
  Effect.gen(function* () {
    const fromOptions = typeof options === "object" ? options : undefined
    const enabled = Option.getOrElse(
      env.inspector,
      () => options === true || (fromOptions !== undefined && fromOptions.enabled !== false)
    )
    if (!enabled) return Option.none()
    const port = Option.getOrElse(env.inspectorPort, () => fromOptions?.port ?? defaultInspectorPort)
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      return yield* new InspectorError({
        reason: "InvalidSetting",
        detail: `Invalid inspector port ${port}: use an integer from 0 to 65535.`
      })
    }
    const host = Option.getOrElse(env.inspectorHost, () => fromOptions?.host ?? defaultInspectorHost).trim()
    if (host === "")
      return yield* new InspectorError({ reason: "InvalidSetting", detail: "Invalid inspector host: it is empty." })
    const optionKey = fromOptions?.apiKey
    const apiKey = Option.orElse(
      Option.filter(env.inspectorApiKey, (key) => Redacted.value(key) !== ""),
      () =>
        optionKey === undefined || (typeof optionKey === "string" && optionKey === "")
          ? Option.none()
          : Option.some(typeof optionKey === "string" ? Redacted.make(optionKey) : optionKey)
    )
    if (Option.isNone(apiKey) && !isLoopback(host)) {
      return yield* new InspectorError({
        reason: "NotLoopback",
        detail:
          `Refusing to serve the inspector on ${host}, which is not a loopback address, without an API key: anyone ` +
          `who can reach it could restart or stop the server. Set INSPECTOR_API_KEY (or the apiKey option), or ` +
          `listen on 127.0.0.1.`
      })
    }
    return Option.some<Inspector.Resolved>({ port, host, apiKey: apiKey as Option.Option<Redacted.Redacted> })
  })

/** The inspector's settings alone (for `Inspector.resolve`). */
export const resolveInspector = (
  options: boolean | Inspector.Options | undefined
): Effect.Effect<Option.Option<Inspector.Resolved>, InspectorError> =>
  Effect.flatMap(
    Effect.mapError(
      readSettings,
      (error) =>
        new InspectorError({
          reason: "InvalidSetting",
          detail: `Invalid ${settingName(error)} setting: ${configProblem(error)}.`,
          cause: error
        })
    ),
    (env) => inspectorOf(options, env)
  )
