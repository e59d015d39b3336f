import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Options } from "../../Server.js"
import { ServeError } from "../../Server.js"
import * as WebSocket from "./websocket.js"

export interface Resolved {
  readonly port: number
  readonly host: string
  readonly workers: number
  /** From `GRACEFUL_SHUTDOWN_TIMEOUT` or the options; `undefined` leaves the app's own. */
  readonly gracefulShutdownTimeout: Duration.Duration | undefined
  readonly maxBodySize: number
  readonly websocket: WebSocket.ResolvedOptions
}

export const defaultPort = 8000
export const defaultHost = "127.0.0.1"

const checkPort = (port: number, source: string): ServeError | undefined =>
  Number.isInteger(port) && port >= 0 && port <= 65535
    ? undefined
    : new ServeError({ reason: `Invalid port ${port} (${source}): a port is an integer from 0 to 65535.` })

/**
 * A duration option (numbers are milliseconds, as everywhere in Effect) or, from the environment, a number of
 * seconds (Sanic's unit) or a duration string. Negative values are refused rather than clamped to zero.
 */
const parseDuration = (
  input: Duration.DurationInput,
  source: string,
  what: string,
  numbers: "millis" | "seconds"
): Duration.Duration | ServeError => {
  const invalid = () =>
    new ServeError({
      reason:
        `Invalid ${what} ${JSON.stringify(String(input))} (${source}): ` +
        `use a non-negative ${numbers === "seconds" ? "number of seconds" : "duration"} such as ` +
        `${numbers === "seconds" ? '"10" or ' : ""}"10 seconds".`
    })
  if (typeof input === "number") {
    if (!(input >= 0)) return invalid()
    return numbers === "seconds" ? Duration.seconds(input) : Duration.millis(input)
  }
  if (typeof input === "string") {
    const trimmed = input.trim()
    if (trimmed.startsWith("-")) return invalid()
    if (trimmed !== "" && !Number.isNaN(Number(trimmed))) return parseDuration(Number(trimmed), source, what, numbers)
    return Option.getOrElse(Duration.decodeUnknown(trimmed), invalid)
  }
  return Option.getOrElse(Duration.decodeUnknown(input), invalid)
}

/** An unset or blank variable leaves the option's value, so `PORT= npm start` behaves as no `PORT` at all. */
const fromConfig = <A>(config: Config.Config<A>, name: string): Effect.Effect<Option.Option<A>, ServeError> =>
  Effect.mapError(
    Effect.flatMap(Config.option(Config.string(name)), (raw) =>
      Option.isNone(raw) || raw.value.trim() === "" ? Effect.succeedNone : Config.option(config)
    ),
    (error) =>
      new ServeError({
        reason: `Invalid ${name} setting: ${ConfigError.isConfigError(error) ? String(error) : "unreadable"}.`
      })
  )

/** Options with `PORT`, `HOST` and `GRACEFUL_SHUTDOWN_TIMEOUT` from the environment (Config) taking precedence. */
export const resolve = (options: Options<any, any, any>): Effect.Effect<Resolved, ServeError> =>
  Effect.gen(function* () {
    if (options.port !== undefined) {
      const invalid = checkPort(options.port, "options.port")
      if (invalid) return yield* invalid
    }
    const envPort = yield* fromConfig(Config.integer("PORT"), "PORT")
    if (Option.isSome(envPort)) {
      const invalid = checkPort(envPort.value, "PORT")
      if (invalid) return yield* invalid
    }
    const port = Option.getOrElse(envPort, () => options.port ?? defaultPort)

    const envHost = yield* fromConfig(Config.string("HOST"), "HOST")
    const host = Option.getOrElse(envHost, () => options.host ?? defaultHost)
    if (host.trim() === "") return yield* new ServeError({ reason: "Invalid host: it is empty." })

    const workers = options.workers ?? 1
    if (!Number.isInteger(workers) || workers < 1) {
      return yield* new ServeError({
        reason: `Invalid workers ${workers}: use a whole number of processes, 1 or more.`
      })
    }

    let gracefulShutdownTimeout: Duration.Duration | undefined
    if (options.gracefulShutdownTimeout !== undefined) {
      const parsed = parseDuration(
        options.gracefulShutdownTimeout,
        "options.gracefulShutdownTimeout",
        "graceful shutdown timeout",
        "millis"
      )
      if (parsed instanceof ServeError) return yield* parsed
      gracefulShutdownTimeout = parsed
    }
    const envTimeout = yield* fromConfig(Config.string("GRACEFUL_SHUTDOWN_TIMEOUT"), "GRACEFUL_SHUTDOWN_TIMEOUT")
    if (Option.isSome(envTimeout)) {
      const parsed = parseDuration(
        envTimeout.value as Duration.DurationInput,
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "graceful shutdown timeout",
        "seconds"
      )
      if (parsed instanceof ServeError) return yield* parsed
      gracefulShutdownTimeout = parsed
    }

    const maxBodySize = options.maxBodySize ?? 10 * 1024 * 1024
    if (!(maxBodySize > 0)) {
      return yield* new ServeError({ reason: `Invalid maxBodySize ${maxBodySize}: use a positive number of bytes.` })
    }
    const ws = options.websocket
    for (const key of ["maxMessageSize", "maxBufferedBytes", "maxQueuedMessages"] as const) {
      const value = ws?.[key]
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        return yield* new ServeError({ reason: `Invalid websocket.${key} ${value}: use a positive whole number.` })
      }
    }
    if (ws?.pingInterval !== undefined && ws.pingInterval !== false) {
      const parsed = parseDuration(ws.pingInterval, "websocket.pingInterval", "ping interval", "millis")
      if (parsed instanceof ServeError) return yield* parsed
      if (Duration.toMillis(parsed) === 0) {
        return yield* new ServeError({ reason: "Invalid websocket.pingInterval 0: use false to disable pings." })
      }
    }
    // A start timeout of zero, or a negative one (which decodes as zero), kills every worker as it starts.
    const startTimeout = options.workerOptions?.startTimeout
    if (startTimeout !== undefined) {
      const parsed = parseDuration(startTimeout, "workerOptions.startTimeout", "worker start timeout", "millis")
      if (parsed instanceof ServeError) return yield* parsed
      if (Duration.toMillis(parsed) === 0) {
        return yield* new ServeError({ reason: "Invalid workerOptions.startTimeout 0: use a positive duration." })
      }
    }

    return {
      port,
      host,
      workers,
      gracefulShutdownTimeout,
      maxBodySize,
      websocket: WebSocket.resolveOptions(ws)
    }
  })
