import { createHash, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { Scope } from "effect"
import { Config, ConfigError, Effect, Either, Option, ParseResult, Redacted, Schema } from "effect"
import type { Address, Options, Resolved } from "../../Inspector.js"
import { defaultHost, defaultPort, InspectorError } from "../../Inspector.js"
import type { Supervisor } from "../../Workers.js"

const loopbackHosts = new Set(["localhost", "127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1"])

export const isLoopback = (host: string): boolean => loopbackHosts.has(host) || /^127(\.\d{1,3}){3}$/.test(host)

const setting = <A>(config: Config.Config<A>, name: string): Effect.Effect<Option.Option<A>, InspectorError> =>
  Effect.mapError(
    Config.option(config),
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

const RestartBody = Schema.Struct({
  workers: Schema.optional(Schema.Array(Schema.String)),
  zeroDowntime: Schema.optional(Schema.Boolean)
})
const ScaleBody = Schema.Struct({ replicas: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)) })

class BadRequest {
  readonly _tag = "BadRequest"
  constructor(readonly message: string) {}
}

const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  HttpServerResponse.unsafeJson(body, headers === undefined ? { status } : { status, headers })

const error = (status: number, message: string, headers?: Record<string, string>) =>
  json(status, { error: message }, headers)

const readBody = <A, I>(
  request: HttpServerRequest.HttpServerRequest,
  schema: Schema.Schema<A, I>,
  optional: boolean
): Effect.Effect<A, BadRequest> =>
  request.text.pipe(
    Effect.mapError((cause) => new BadRequest(`Could not read the request body: ${cause.message}`)),
    Effect.flatMap((text) => {
      if (text.trim() === "") {
        return optional ? Effect.succeed("{}") : Effect.fail(new BadRequest("A JSON body is required."))
      }
      return Effect.succeed(text)
    }),
    Effect.flatMap((text) =>
      Either.match(
        Either.try({
          try: () => JSON.parse(text) as unknown,
          catch: (cause) => new BadRequest(`Invalid JSON body: ${(cause as Error).message}`)
        }),
        { onLeft: Effect.fail, onRight: Effect.succeed }
      )
    ),
    Effect.flatMap((body) =>
      Schema.decodeUnknown(schema, { onExcessProperty: "error" })(body).pipe(
        Effect.mapError((cause) => new BadRequest(`Invalid body: ${ParseResult.TreeFormatter.formatErrorSync(cause)}`))
      )
    )
  )

const actions = "GET /, GET /tasks, POST /tasks/<worker>/<name>/cancel, POST /restart, POST /scale, POST /shutdown"

/** The inspector's HTTP app. Every failure becomes a JSON answer; nothing reveals a task's result or error. */
export const makeApp = (supervisor: Supervisor, apiKey: Option.Option<Redacted.Redacted>, startedAt: number) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Option.isSome(apiKey) && !authorized(request.headers.authorization, apiKey.value)) {
      return error(401, "Bad API key", { "www-authenticate": 'Bearer realm="fiberapp inspector"' })
    }
    const path = request.url.split("?", 1)[0]!
    let segments: Array<string>
    try {
      segments = path
        .split("/")
        .filter((s) => s !== "")
        .map((s) => decodeURIComponent(s))
    } catch {
      return error(400, `Invalid path ${JSON.stringify(path)}.`)
    }
    const method = request.method
    const only = (allowed: string, run: () => Effect.Effect<HttpServerResponse.HttpServerResponse, BadRequest>) =>
      method === allowed
        ? run()
        : Effect.succeed(error(405, `${method} is not allowed here; use ${allowed}.`, { allow: allowed }))

    const answer = Effect.suspend((): Effect.Effect<HttpServerResponse.HttpServerResponse, BadRequest> => {
      if (segments.length === 0) {
        return only("GET", () =>
          Effect.map(supervisor.table, (workers) =>
            json(200, {
              app: supervisor.app,
              mode: supervisor.mode,
              pid: process.pid,
              node: process.version,
              platform: process.platform,
              startedAt,
              uptime: (Date.now() - startedAt) / 1000,
              workers
            })
          )
        )
      }
      const [head] = segments
      if (head === "tasks") {
        if (segments.length === 1)
          return only("GET", () => Effect.map(supervisor.tasks, (tasks) => json(200, { tasks })))
        if (segments.length !== 4) return Effect.succeed(error(404, `Not found: ${path}`))
        const [, worker, name, action] = segments as [string, string, string, string]
        if (action !== "cancel") return Effect.fail(new BadRequest(`Unknown task action "${action}"; use cancel.`))
        return only("POST", () =>
          supervisor.cancelTask(worker, name).pipe(
            Effect.as(json(200, { cancelled: { worker, name } })),
            Effect.catchTags({
              WorkerNotFound: (e) => Effect.succeed(error(404, e.message)),
              TaskNotFound: (e) => Effect.succeed(error(404, `Worker ${worker}: ${e.message}`)),
              WorkersError: (e) => Effect.succeed(error(409, e.message))
            })
          )
        )
      }
      if (segments.length !== 1) return Effect.succeed(error(404, `Not found: ${path}`))
      switch (head) {
        case "restart":
          return only("POST", () =>
            readBody(request, RestartBody, true).pipe(
              Effect.flatMap((body) =>
                supervisor.restart(body).pipe(
                  Effect.zipRight(supervisor.table),
                  Effect.map((workers) => json(200, { restarted: body.workers ?? "all", workers })),
                  Effect.catchTags({
                    WorkerNotFound: (e) => Effect.succeed(error(404, e.message)),
                    WorkersError: (e) => Effect.succeed(error(409, e.message))
                  })
                )
              )
            )
          )
        case "scale":
          return only("POST", () =>
            readBody(request, ScaleBody, false).pipe(
              Effect.flatMap((body) =>
                supervisor.scale(body.replicas).pipe(
                  Effect.zipRight(supervisor.table),
                  Effect.map((workers) => json(200, { replicas: body.replicas, workers })),
                  Effect.catchTag("WorkersError", (e) => Effect.succeed(error(409, e.message)))
                )
              )
            )
          )
        case "shutdown":
          return only("POST", () => Effect.as(supervisor.shutdown, json(202, { shutdown: true })))
        default:
          return method === "POST"
            ? Effect.fail(new BadRequest(`Unknown action "${head}". The inspector answers ${actions}.`))
            : Effect.succeed(error(404, `Not found: ${path}. The inspector answers ${actions}.`))
      }
    })

    return yield* answer.pipe(
      Effect.catchAll((bad) => Effect.succeed(error(400, bad.message))),
      Effect.catchAllDefect((defect) =>
        Effect.as(Effect.logError("Inspector request failed", defect), error(500, "Internal error"))
      )
    )
  })

/** Serves the inspector in the current scope. */
export const serve = (
  supervisor: Supervisor,
  resolved: Resolved
): Effect.Effect<Address, InspectorError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* NodeHttpServer.make(() => Http.createServer(), {
      port: resolved.port,
      host: resolved.host
    }).pipe(
      Effect.mapError(
        (cause) =>
          new InspectorError({
            reason: `The inspector could not listen on ${resolved.host}:${resolved.port}: ${String(
              (cause.cause as Error | undefined)?.message ?? cause
            )}`,
            cause
          })
      )
    )
    yield* server.serve(makeApp(supervisor, resolved.apiKey, Date.now()))
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : resolved.port
    yield* Effect.logInfo(`Inspector listening on http://${resolved.host}:${port}`).pipe(
      Effect.annotateLogs({ app: supervisor.app })
    )
    return { host: resolved.host, port }
  })
