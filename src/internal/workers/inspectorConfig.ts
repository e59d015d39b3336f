import { createHash, timingSafeEqual } from "node:crypto"
import { Config, ConfigError, Effect, Option, Redacted } from "effect"
import type { Options, Resolved } from "../../Inspector.js"
import { defaultHost, defaultPort, InspectorError } from "../../Inspector.js"

const loopbackHosts = new Set(["localhost", "127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1"])

export const isLoopback = (host: string): boolean => loopbackHosts.has(host) || /^127(\.\d{1,3}){3}$/.test(host)

/** The host name of a `Host` header or of an `Origin` URL: `"localhost:6457"`, `"[::1]:80"`, `"http://x:1"`. */
const hostnameOf = (value: string): string | undefined => {
  try {
    return new URL(value.includes("://") ? value : `http://${value}`).hostname
  } catch {
    return undefined
  }
}

/**
 * Without an API key the inspector trusts whoever reaches its loopback port, so it must not be reachable through a
 * browser: a page on another site (an `Origin` that is not loopback) or a DNS-rebound name (a `Host` that is not
 * loopback) is refused.
 */
export const fromLoopbackClient = (host: string | undefined, origin: string | undefined): boolean => {
  const hostname = host === undefined ? undefined : hostnameOf(host)
  if (hostname === undefined || !isLoopback(hostname)) return false
  if (origin === undefined) return true
  const originHost = hostnameOf(origin)
  return originHost !== undefined && isLoopback(originHost)
}

/** An unset or blank variable leaves the option's value, as for `PORT` and `WORKERS`. */
const setting = <A>(config: Config.Config<A>, name: string): Effect.Effect<Option.Option<A>, InspectorError> =>
  Effect.mapError(
    Effect.flatMap(Config.option(Config.string(name)), (raw) =>
      Option.isNone(raw) || raw.value.trim() === "" ? Effect.succeedNone : Config.option(config)
    ),
    (error) =>
      new InspectorError({
        reason: `Invalid ${name} setting: ${ConfigError.isConfigError(error) ? String(error) : "unreadable"}.`,
        cause: error
      })
  )

/**
 * The inspector's settings from the options and the environment (`INSPECTOR`, `INSPECTOR_PORT`, `INSPECTOR_HOST`,
 * `INSPECTOR_API_KEY`), which win. `None` when it is off.
 */
export const resolve = (
  options: boolean | Options | undefined
): Effect.Effect<Option.Option<Resolved>, InspectorError> =>
  Effect.gen(function* () {
    const fromOptions = typeof options === "object" ? options : undefined
    const enabled = Option.getOrElse(
      yield* setting(Config.boolean("INSPECTOR"), "INSPECTOR"),
      () => options === true || (fromOptions !== undefined && fromOptions.enabled !== false)
    )
    if (!enabled) return Option.none()
    const port = Option.getOrElse(
      yield* setting(Config.integer("INSPECTOR_PORT"), "INSPECTOR_PORT"),
      () => fromOptions?.port ?? defaultPort
    )
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      return yield* new InspectorError({ reason: `Invalid inspector port ${port}: use an integer from 0 to 65535.` })
    }
    const host = Option.getOrElse(
      yield* setting(Config.string("INSPECTOR_HOST"), "INSPECTOR_HOST"),
      () => fromOptions?.host ?? defaultHost
    ).trim()
    if (host === "") return yield* new InspectorError({ reason: "Invalid inspector host: it is empty." })
    const envKey = yield* setting(Config.redacted("INSPECTOR_API_KEY"), "INSPECTOR_API_KEY")
    const optionKey = fromOptions?.apiKey
    const apiKey = Option.orElse(
      Option.filter(envKey, (key) => Redacted.value(key) !== ""),
      () =>
        optionKey === undefined || (typeof optionKey === "string" && optionKey === "")
          ? Option.none()
          : Option.some(typeof optionKey === "string" ? Redacted.make(optionKey) : optionKey)
    )
    if (Option.isNone(apiKey) && !isLoopback(host)) {
      return yield* new InspectorError({
        reason:
          `Refusing to serve the inspector on ${host}, which is not a loopback address, without an API key: anyone ` +
          `who can reach it could restart or stop the server. Set INSPECTOR_API_KEY (or the apiKey option), or ` +
          `listen on 127.0.0.1.`
      })
    }
    return Option.some({ port, host, apiKey })
  })

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** Whether the `Authorization` header carries the key; in constant time, over hashes so lengths do not leak. */
export const authorized = (header: string | undefined, apiKey: Redacted.Redacted): boolean => {
  const given = header?.startsWith("Bearer ") ? header.slice(7).trim() : ""
  const ok = timingSafeEqual(digest(given), digest(Redacted.value(apiKey)))
  return ok && given !== ""
}
