import * as Http from "node:http"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { Scope } from "effect"
import { Effect, Either, Option, ParseResult, type Redacted, Schema } from "effect"
import type { Address, Resolved } from "../../Inspector.js"
import type { SupervisorService } from "../../Workers.js"
import { authorized, fromLoopbackClient } from "./auth.js"
import { InspectorError } from "./errors.js"

const RestartBody = Schema.Struct({
  workers: Schema.optional(Schema.Array(Schema.String)),
  zeroDowntime: Schema.optional(Schema.Boolean)
})
/** More workers than this is a typo, not a plan: forking them would take the machine down. */
const maxReplicas = 256
const ScaleBody = Schema.Struct({
  replicas: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1), Schema.lessThanOrEqualTo(maxReplicas))
})

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
export const makeApp = (supervisor: SupervisorService, apiKey: Option.Option<Redacted.Redacted>, startedAt: number) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Option.isSome(apiKey)) {
      if (!authorized(request.headers.authorization, apiKey.value)) {
        return error(401, "Bad API key", { "www-authenticate": 'Bearer realm="fiberapp inspector"' })
      }
    } else if (!fromLoopbackClient(request.headers.host, request.headers.origin)) {
      return error(403, "Without an API key the inspector answers only loopback clients, not pages of other sites.")
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
              startedAt: Math.round(Date.now() - process.uptime() * 1000),
              uptime: process.uptime(),
              memory: process.memoryUsage().rss,
              inspectorStartedAt: startedAt,
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
  supervisor: SupervisorService,
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
            reason: "ListenFailed",
            detail: `The inspector could not listen on ${resolved.host}:${resolved.port}: ${String(
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
