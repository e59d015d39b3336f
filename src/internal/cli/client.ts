import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { InspectError } from "./errors.js"

/** Where the inspector is and how to talk to it. */
export interface Connection {
  readonly host: string
  readonly port: number
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly timeout: Duration.Duration
}

/** `http://host:port`, with an IPv6 address in brackets. */
export const origin = ({ host, port }: Pick<Connection, "host" | "port">): string =>
  `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`

const errorOf = (body: unknown): string | undefined =>
  typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string"
    ? (body as { error: string }).error
    : undefined

/** A message in one line: a multi-line one (a schema's error tree) keeps its first and last lines. */
const oneLine = (message: string): string => {
  const lines = message
    .split("\n")
    .map((line) => line.replace(/^[\s\u2500-\u257f]+/, "").trim())
    .filter((line) => line !== "")
  return lines.length <= 1 ? (lines[0] ?? "") : `${lines[0]} ${lines[lines.length - 1]}`
}

const causeOf = (error: HttpClientError.RequestError): string => {
  const cause = error.cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    // Node gives an AggregateError with no message when every address of "localhost" refuses.
    if (cause.message !== "") return cause.message
    if (typeof code === "string") return code
  }
  return error.description ?? error.reason
}

/** One request to the inspector; its JSON answer, or an `InspectError` saying in one line what went wrong. */
export const call = (
  connection: Connection,
  method: "GET" | "POST",
  path: string,
  body?: unknown
): Effect.Effect<unknown, InspectError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const where = origin(connection)
    let request = HttpClientRequest.make(method)(`${where}${path}`).pipe(HttpClientRequest.acceptJson)
    if (Option.isSome(connection.apiKey)) request = HttpClientRequest.bearerToken(request, connection.apiKey.value)
    if (body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, body)
    const answer = yield* client.execute(request).pipe(
      Effect.flatMap((response) =>
        Effect.map(
          Effect.orElseSucceed(response.json, () => undefined),
          (json) => ({ status: response.status, json })
        )
      ),
      Effect.scoped,
      Effect.timeoutFail({
        duration: connection.timeout,
        onTimeout: () =>
          new InspectError({
            reason: "Unreachable",
            detail: `The inspector at ${where} did not answer within ${Duration.format(connection.timeout)}.`
          })
      }),
      Effect.catchTag("RequestError", (error) =>
        Effect.fail(
          error.reason === "InvalidUrl"
            ? new InspectError({ reason: "BadInput", detail: `Invalid inspector address ${where}.` })
            : new InspectError({
                reason: "Unreachable",
                detail: `Cannot reach the inspector at ${where}: ${causeOf(error)}.`
              })
        )
      ),
      Effect.catchTag("ResponseError", (error) =>
        Effect.fail(
          new InspectError({ reason: "Failed", detail: `The inspector's answer broke off: ${error.message}` })
        )
      )
    )
    const { json, status } = answer
    if (status >= 200 && status < 300) return json
    const said = oneLine(errorOf(json) ?? `HTTP ${status}`)
    switch (status) {
      case 401:
        return yield* new InspectError({
          reason: "Refused",
          detail: Option.isSome(connection.apiKey)
            ? `The inspector at ${where} refused the API key.`
            : `The inspector at ${where} needs an API key: give --api-key or set INSPECTOR_API_KEY.`
        })
      case 403:
        return yield* new InspectError({ reason: "Refused", detail: said })
      case 404:
        return yield* new InspectError({ reason: "NotFound", detail: said })
      case 400:
        return yield* new InspectError({ reason: "BadInput", detail: said })
      default:
        return yield* new InspectError({ reason: "Failed", detail: `The inspector answered ${status}: ${said}` })
    }
  })
