import * as Os from "node:os"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Fleet from "../../Fleet.js"
import { decodeNonNegative } from "../duration.js"
import { ServeError } from "../server/errors.js"

/** A fleet's settings, resolved: what every fleet module reads. Kept free of cluster's values (types only). */
export interface FleetSettings {
  readonly database: Redacted.Redacted
  readonly machine: string
  readonly host: string
  readonly runnerPort: number
  readonly prefix: string
  readonly heartbeat: Duration.Duration
  readonly expiry: Duration.Duration
  readonly sharding: Partial<ShardingConfig.ShardingConfig["Type"]>
}

/** The environment's part of a fleet's settings (read by the server's one `Config`). */
export interface FleetEnv {
  readonly fleet: Option.Option<boolean>
  readonly database: Option.Option<Redacted.Redacted>
  readonly fleetMachine: Option.Option<string>
  readonly fleetHost: Option.Option<string>
  readonly fleetRunnerPort: Option.Option<number>
  readonly fleetTablePrefix: Option.Option<string>
}

const invalid = (detail: string) => Effect.fail(new ServeError({ reason: "InvalidOption", detail }))

/** Table and channel names are built from the prefix, so it must be a plain SQL identifier. */
const identifier = /^[a-z_][a-z0-9_]{0,39}$/

const durationOf = (input: Duration.DurationInput | undefined, fallback: string, what: string) =>
  Option.match(decodeNonNegative(input ?? fallback), {
    onNone: () => invalid(`Invalid fleet.${what} ${JSON.stringify(String(input))}: use a positive duration.`),
    onSome: (duration) =>
      Duration.toMillis(duration) > 0
        ? Effect.succeed(duration)
        : invalid(`Invalid fleet.${what} ${JSON.stringify(String(input))}: use a positive duration.`)
  })

/** The fleet's settings from its options and the environment, which wins; `None` when it is off. */
export const fleetOf = (
  options: boolean | Fleet.Options | undefined,
  env: FleetEnv,
  port: number
): Effect.Effect<Option.Option<FleetSettings>, ServeError> =>
  Effect.gen(function* () {
    const fromOptions = typeof options === "object" ? options : undefined
    const enabled = Option.getOrElse(
      env.fleet,
      () => options === true || (fromOptions !== undefined && fromOptions.enabled !== false)
    )
    if (!enabled) return Option.none()
    const given = fromOptions?.database
    const database = Option.orElse(env.database, () =>
      given === undefined || given === ""
        ? Option.none()
        : Option.some(Redacted.isRedacted(given) ? given : Redacted.make(given))
    )
    if (Option.isNone(database)) {
      return yield* invalid("A fleet needs a database: set DATABASE_URL or the fleet.database option.")
    }
    const url = Redacted.value(database.value)
    if (!/^postgres(ql)?:\/\//.test(url) || !URL.canParse(url)) {
      return yield* new ServeError({
        reason: "InvalidSetting",
        detail: "Invalid fleet database URL: expected postgres://user@host:port/database."
      })
    }
    const runnerPort = Option.getOrElse(env.fleetRunnerPort, () => fromOptions?.runnerPort ?? 0)
    if (!(Number.isInteger(runnerPort) && runnerPort >= 0 && runnerPort <= 65535)) {
      return yield* invalid(`Invalid fleet runner port ${runnerPort}: use an integer from 0 to 65535.`)
    }
    const prefix = Option.getOrElse(env.fleetTablePrefix, () => fromOptions?.tablePrefix ?? "fiberapp")
    if (!identifier.test(prefix)) {
      return yield* invalid(
        `Invalid fleet table prefix ${JSON.stringify(prefix)}: use lower-case letters, digits and _ (at most 40).`
      )
    }
    const machine = Option.getOrElse(env.fleetMachine, () => fromOptions?.machine ?? `${Os.hostname()}:${port}`)
    if (machine.trim() === "") return yield* invalid("Invalid fleet machine name: it is empty.")
    const host = Option.getOrElse(env.fleetHost, () => fromOptions?.host ?? "127.0.0.1")
    if (host.trim() === "") return yield* invalid("Invalid fleet host: it is empty.")
    const heartbeat = yield* durationOf(fromOptions?.heartbeat, "2 seconds", "heartbeat")
    const expiry = yield* durationOf(fromOptions?.expiry, "10 seconds", "expiry")
    if (Duration.lessThanOrEqualTo(expiry, heartbeat)) {
      return yield* invalid("Invalid fleet.expiry: it must be longer than the heartbeat.")
    }
    return Option.some<FleetSettings>({
      database: database.value,
      machine,
      host,
      runnerPort,
      prefix,
      heartbeat,
      expiry,
      sharding: fromOptions?.sharding ?? {}
    })
  })
