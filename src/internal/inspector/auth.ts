import { createHash, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"

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

/** Host name and port of a `Host` header or an `Origin` URL; the port is `""` when it is the scheme's default. */
const hostAndPort = (value: string): { readonly hostname: string; readonly port: string } | undefined => {
  try {
    const url = new URL(value.includes("://") ? value : `http://${value}`)
    return { hostname: url.hostname, port: url.port }
  } catch {
    return undefined
  }
}

/**
 * Whether an `Origin` is the inspector's own: the host and port the request was sent to (its `Host`), loopback names
 * counting as one. A page of another site, or of another port on this machine, is foreign; so is `Origin: null`.
 */
export const sameOrigin = (host: string | undefined, origin: string): boolean => {
  const own = host === undefined ? undefined : hostAndPort(host)
  const from = hostAndPort(origin)
  if (own === undefined || from === undefined || own.port !== from.port) return false
  return own.hostname === from.hostname || (isLoopback(own.hostname) && isLoopback(from.hostname))
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** Whether the `Authorization` header carries the key; in constant time, over hashes so lengths do not leak. */
export const authorized = (header: string | undefined, apiKey: Redacted.Redacted): boolean => {
  // The auth scheme is case-insensitive (RFC 9110): "bearer" and "BEARER" are as good as "Bearer".
  const match = header === undefined ? null : /^bearer +(.*)$/i.exec(header.trim())
  const given = match === null ? "" : match[1]!.trim()
  const ok = timingSafeEqual(digest(given), digest(Redacted.value(apiKey)))
  return ok && given !== ""
}
