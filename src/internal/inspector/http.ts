import * as Http from "node:http"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Address, Resolved } from "../../Inspector.js"
import type { SupervisorService } from "../../Workers.js"
import type { Call } from "../fleet/bus.js"
import type { Member } from "../fleet/member.js"
import type { WorkerMetrics } from "../workers/questions.js"
import { authorized, fromLoopbackClient, sameOrigin } from "./auth.js"
import type { CommandsService, ReadyCommand } from "./commands.js"
import { InspectorError } from "./errors.js"
import * as live from "./live.js"
import { html } from "./page/html.js"
import { script } from "./page/script.js"
import { style } from "./page/style.js"

const RestartBody = Schema.Struct({
  workers: Schema.optional(Schema.Array(Schema.String)),
  zeroDowntime: Schema.optional(Schema.Boolean)
})
/** Sanic's `reload`: its `zero_downtime` (off unless given, as in Sanic), or ours; and our `workers`. */
const ReloadBody = Schema.Struct({
  zero_downtime: Schema.optional(Schema.Boolean),
  zeroDowntime: Schema.optional(Schema.Boolean),
  workers: Schema.optional(Schema.Array(Schema.String))
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

const builtinList =
  "GET /, GET /tasks, GET /metrics, GET /page/events, POST /tasks/<worker>/<name>/cancel, POST /restart, POST /reload, POST /scale, POST /shutdown, " +
  "GET /fleet, POST /fleet/<machine>/(restart|scale|tasks/<worker>/<name>/cancel)"

/** Sanic's inspector answers every action with `{ meta: { action }, result }`. */
const sanicAnswer = (action: string, result: unknown) => json(200, { meta: { action }, result: result ?? null })

const failureText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  if (typeof failure === "object" && failure !== null && "message" in failure && typeof failure.message === "string") {
    return failure.message
  }
  return String(failure)
}

/** A custom command: the body decoded with its schema, its handler run, the result in Sanic's answer. */
const runCommand = (command: ReadyCommand) =>
  Effect.flatMap(body(command.schema, true), (input) =>
    Effect.matchCauseEffect(command.run(input), {
      onFailure: (cause) =>
        Effect.as(
          Effect.logError(`Inspector command "${command.name}" failed`, cause),
          error(500, `Command "${command.name}" failed: ${failureText(cause)}`)
        ),
      onSuccess: (result) =>
        Effect.suspend(() => {
          try {
            return Effect.succeed(sanicAnswer(command.name, result))
          } catch (cause) {
            return Effect.as(
              Effect.logError(`Inspector command "${command.name}" returned a value that is not JSON`, cause),
              error(500, `Command "${command.name}" returned a value that is not JSON.`)
            )
          }
        })
    })
  )

/** The JSON body, decoded with `schema` (platform's `schemaBodyJson`); an empty body is `{}` where it is optional. */
const body = <A, I>(
  schema: Schema.Schema<A, I>,
  optional: boolean
): Effect.Effect<A, BadRequest, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.flatMap(
      request.text,
      (
        text
      ): Effect.Effect<
        A,
        BadRequest | HttpServerError.RequestError | ParseResult.ParseError,
        HttpServerRequest.HttpServerRequest
      > => {
        if (text.trim() !== "") return HttpServerRequest.schemaBodyJson(schema, { onExcessProperty: "error" })
        return optional ? Schema.decodeUnknown(schema)({}) : Effect.fail(new BadRequest("A JSON body is required."))
      }
    )
  ).pipe(
    Effect.catchTags({
      RequestError: (cause: HttpServerError.RequestError) =>
        Effect.fail(new BadRequest(`Invalid JSON body: ${String(cause.cause ?? cause.message)}`)),
      ParseError: (cause: ParseResult.ParseError) =>
        Effect.fail(new BadRequest(`Invalid body: ${ParseResult.TreeFormatter.formatErrorSync(cause)}`))
    })
  )

/** Where `/metrics` finds the machine's metrics: this process's (labelled `self`, if several) and its workers'. */
export interface MetricsSources {
  readonly self: string | undefined
  readonly workers: Effect.Effect<ReadonlyArray<WorkerMetrics>>
}

const alone: MetricsSources = { self: undefined, workers: Effect.succeed([]) }

const optionalPackages =
  "@effect/opentelemetry, @opentelemetry/api, @opentelemetry/sdk-metrics, @opentelemetry/resources and " +
  "@opentelemetry/exporter-prometheus"

/** The machine's metrics in Prometheus text; 501 when the optional OpenTelemetry packages are not installed. */
const metricsAnswer = (app: string, sources: MetricsSources) =>
  Effect.flatMap(Effect.either(Effect.tryPromise(() => import("../metrics/prometheus.js"))), (loaded) =>
    loaded._tag === "Left"
      ? Effect.as(
          Effect.logWarning(`The inspector's /metrics needs ${optionalPackages}`, loaded.left.error),
          error(501, `/metrics needs the optional packages ${optionalPackages}: install them beside fiberapp.`)
        )
      : Effect.flatMap(sources.workers, (workers) =>
          Effect.map(
            loaded.right.render(app, sources.self, workers as ReadonlyArray<import("../metrics/prometheus.js").Source>),
            (text) => HttpServerResponse.text(text, { contentType: loaded.right.contentType })
          )
        )
  )

/** The inspector's routes; a path it knows answered with another method gets 405 and the method it takes. */
const routes = (
  supervisor: SupervisorService,
  startedAt: number,
  commands: ReadonlyArray<ReadyCommand>,
  fleet: Effect.Effect<Member | undefined>,
  metrics: MetricsSources
) => {
  const known: Array<readonly [string, string]> = []
  const route =
    (method: "GET" | "POST", path: HttpRouter.PathInput, handler: HttpRouter.Route.Handler<BadRequest, never>) =>
    (router: HttpRouter.HttpRouter<BadRequest>) => {
      known.push([method, path])
      return HttpRouter.route(method)(path, handler)(router)
    }
  const withMethodChecks = (router: HttpRouter.HttpRouter<BadRequest>) => {
    let checked = router
    for (const [allowed, path] of known) {
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"] as const) {
        if (method === allowed) continue
        checked = HttpRouter.route(method)(
          path as HttpRouter.PathInput,
          Effect.succeed(error(405, `${method} is not allowed here; use ${allowed}.`, { allow: allowed }))
        )(checked)
      }
    }
    return checked
  }
  const workersErrors = {
    WorkerNotFound: (e: { readonly message: string }) => Effect.succeed(error(404, e.message)),
    WorkersError: (e: { readonly message: string }) => Effect.succeed(error(409, e.message))
  }

  const processInfo = Effect.sync(() => ({
    app: supervisor.app,
    mode: supervisor.mode,
    pid: process.pid,
    node: process.version,
    platform: process.platform,
    startedAt: Math.round(Date.now() - process.uptime() * 1000),
    uptime: process.uptime(),
    memory: process.memoryUsage().rss,
    inspectorStartedAt: startedAt
  }))

  return HttpRouter.empty.pipe(
    route(
      "GET",
      "/",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        wantsPage(request)
          ? Effect.succeed(page.html)
          : Effect.map(Effect.zip(processInfo, supervisor.table), ([info, workers]) =>
              json(
                200,
                {
                  ...info,
                  // What a worker published with `Workers.setState` sits in its row, as in Sanic's worker state.
                  workers: workers.map(({ custom, ...row }) => (custom === undefined ? row : { ...custom, ...row }))
                },
                { vary: "Accept" }
              )
            )
      )
    ),
    route("GET", "/page/app.js", Effect.succeed(page.script)),
    route("GET", "/page/app.css", Effect.succeed(page.style)),
    route(
      "GET",
      "/page/events",
      Effect.succeed(
        HttpServerResponse.stream(live.events(supervisor, processInfo, fleet), {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
        })
      )
    ),
    route(
      "GET",
      "/tasks",
      Effect.map(supervisor.tasks, (tasks) => json(200, { tasks }))
    ),
    route("GET", "/metrics", metricsAnswer(supervisor.app, metrics)),
    route(
      "POST",
      "/tasks/:worker/:name/:action",
      Effect.flatMap(HttpRouter.params, ({ action, name = "", worker = "" }) =>
        action !== "cancel"
          ? Effect.fail(new BadRequest(`Unknown task action "${action}"; use cancel.`))
          : supervisor.cancelTask(worker, name).pipe(
              Effect.as(json(200, { cancelled: { worker, name } })),
              Effect.catchTags({
                ...workersErrors,
                TaskNotFound: (e) => Effect.succeed(error(404, `Worker ${worker}: ${e.message}`))
              })
            )
      )
    ),
    route(
      "POST",
      "/restart",
      Effect.flatMap(body(RestartBody, true), (restart) =>
        supervisor.restart(restart).pipe(
          Effect.zipRight(supervisor.table),
          Effect.map((workers) =>
            json(200, { restarted: restart.workers ?? "all", zeroDowntime: restart.zeroDowntime !== false, workers })
          ),
          Effect.catchTags(workersErrors)
        )
      )
    ),
    route(
      "POST",
      "/reload",
      Effect.flatMap(body(ReloadBody, true), (reload) => {
        if (
          reload.zero_downtime !== undefined &&
          reload.zeroDowntime !== undefined &&
          reload.zero_downtime !== reload.zeroDowntime
        ) {
          return Effect.fail(new BadRequest(`"zero_downtime" and "zeroDowntime" disagree: give one of them.`))
        }
        const zeroDowntime = reload.zero_downtime ?? reload.zeroDowntime ?? false
        const restart = reload.workers === undefined ? { zeroDowntime } : { workers: reload.workers, zeroDowntime }
        return supervisor.restart(restart).pipe(
          Effect.zipRight(supervisor.table),
          Effect.map((workers) => sanicAnswer("reload", { restarted: reload.workers ?? "all", zeroDowntime, workers })),
          Effect.catchTags(workersErrors)
        )
      })
    ),
    route(
      "POST",
      "/scale",
      Effect.flatMap(body(ScaleBody, false), ({ replicas }) =>
        supervisor.scale(replicas).pipe(
          Effect.zipRight(supervisor.table),
          Effect.map((workers) => json(200, { replicas, workers })),
          Effect.catchTag("WorkersError", workersErrors.WorkersError)
        )
      )
    ),
    route("POST", "/shutdown", Effect.as(supervisor.shutdown, sanicAnswer("shutdown", null))),
    route(
      "GET",
      "/fleet",
      Effect.flatMap(fleet, (member) =>
        member === undefined
          ? Effect.succeed(error(404, "This server is not part of a fleet."))
          : Effect.all([member.machines, member.tasks]).pipe(
              Effect.map(([machines, tasks]) => json(200, { machine: member.machine, machines, tasks })),
              Effect.catchTag("FleetError", (e) => Effect.succeed(error(503, e.message)))
            )
      )
    ),
    route(
      "POST",
      "/fleet/:machine/:action",
      Effect.flatMap(HttpRouter.params, ({ action = "", machine = "" }) =>
        action === "restart"
          ? Effect.flatMap(body(RestartBody, true), (restart) =>
              askFleet(fleet, machine, { _tag: "restart", ...restart })
            )
          : action === "scale"
            ? Effect.flatMap(body(ScaleBody, false), ({ replicas }) =>
                askFleet(fleet, machine, { _tag: "scale", replicas })
              )
            : Effect.fail(
                new BadRequest(`Unknown fleet action "${action}"; use restart, scale or tasks/<worker>/<name>/cancel.`)
              )
      )
    ),
    route(
      "POST",
      "/fleet/:machine/tasks/:worker/:name/cancel",
      Effect.flatMap(HttpRouter.params, ({ machine = "", name = "", worker = "" }) =>
        askFleet(fleet, machine, { _tag: "cancel", worker, name })
      )
    ),
    (router) =>
      commands.reduce(
        (withCommands, command) => route("POST", `/${command.name}`, runCommand(command))(withCommands),
        router
      ),
    withMethodChecks
  )
}

/** Carries an action to a machine of the fleet (this one's answer comes through the fleet too: one path for all). */
const askFleet = (fleet: Effect.Effect<Member | undefined>, machine: string, call: Call) =>
  Effect.flatMap(fleet, (member) =>
    member === undefined
      ? Effect.succeed(error(404, "This server is not part of a fleet."))
      : member.ask(machine, call).pipe(
          Effect.map((answer) =>
            answer.error === undefined
              ? json(200, { machine, done: call._tag })
              : error(answer.status, `Machine ${machine}: ${answer.error}`)
          ),
          Effect.catchTag("FleetError", (e) =>
            Effect.succeed(error(e.reason === "MachineNotFound" ? 404 : e.reason === "NoAnswer" ? 504 : 503, e.message))
          )
        )
  )

/** Whether a request is a browser's asking for a page: its `Accept` names `text/html`. JSON stays for the rest. */
const wantsPage = (request: HttpServerRequest.HttpServerRequest): boolean =>
  /(^|,)\s*text\/html\s*(;|,|$)/i.test(request.headers.accept ?? "")

/** The page's files, answered without the key (so that the page can ask for it); every data request needs it. */
const page = {
  html: HttpServerResponse.text(html, { contentType: "text/html; charset=utf-8", headers: { vary: "Accept" } }),
  script: HttpServerResponse.text(script, { contentType: "text/javascript; charset=utf-8" }),
  style: HttpServerResponse.text(style, { contentType: "text/css; charset=utf-8" })
}

const isPageFile = (request: HttpServerRequest.HttpServerRequest, path: string): boolean =>
  request.method === "GET" &&
  (path === "/page/app.js" || path === "/page/app.css" || (path === "/" && wantsPage(request)))

/**
 * On every answer: a page (or an answer shown as one) may load only the inspector's own files and connect only to
 * it, run no inline code, sit in no frame, and send no referrer.
 */
const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin"
}

/** What the inspector answers, for the 404 of a path it does not know. */
const actionsOf = (commands: ReadonlyArray<ReadyCommand>): string =>
  commands.length === 0 ? builtinList : `${builtinList}, ${commands.map(({ name }) => `POST /${name}`).join(", ")}`

/** The inspector's HTTP app: a key or loopback check, then the routes. Every failure becomes a JSON answer. */
export const makeApp = (
  supervisor: SupervisorService,
  apiKey: Option.Option<Redacted.Redacted>,
  startedAt: number,
  commands: ReadonlyArray<ReadyCommand> = [],
  fleet: Effect.Effect<Member | undefined> = Effect.succeed(undefined),
  metrics: MetricsSources = alone
) => {
  const router = routes(supervisor, startedAt, commands, fleet, metrics)
  const actions = actionsOf(commands)
  const answer = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?", 1)[0]!
    if (request.headers.origin !== undefined && !sameOrigin(request.headers.host, request.headers.origin)) {
      return error(
        403,
        "The inspector answers its own page and clients that are not browsers, not pages of other sites."
      )
    }
    if (Option.isSome(apiKey)) {
      if (!isPageFile(request, path) && !authorized(request.headers.authorization, apiKey.value)) {
        return error(401, "Bad API key", { "www-authenticate": 'Bearer realm="fiberapp inspector"' })
      }
    } else if (!fromLoopbackClient(request.headers.host, request.headers.origin)) {
      return error(403, "Without an API key the inspector answers only loopback clients, not pages of other sites.")
    }
    if (!decodable(path)) return error(400, `Invalid path ${JSON.stringify(path)}.`)
    return yield* router.pipe(
      Effect.catchTags({
        BadRequest: (bad) => Effect.succeed(error(400, bad.message)),
        RouteNotFound: () =>
          Effect.succeed(
            error(
              404,
              request.method === "POST" && /^\/[^/]+$/.test(path)
                ? `Unknown action "${decodeURIComponent(path.slice(1))}". The inspector answers ${actions}.`
                : `Not found: ${path}. The inspector answers ${actions}.`
            )
          )
      }),
      Effect.catchAllDefect((defect) =>
        Effect.as(Effect.logError("Inspector request failed", defect), error(500, "Internal error"))
      )
    )
  })
  return Effect.map(answer, HttpServerResponse.setHeaders(securityHeaders))
}

const decodable = (path: string): boolean => {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

/** Serves the inspector in the current scope; the caller says where it listens, once the server is up too. */
export const serve = (
  supervisor: SupervisorService,
  resolved: Resolved,
  commands?: CommandsService | undefined,
  fleet?: Effect.Effect<Member | undefined>,
  metrics?: MetricsSources
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
    yield* server.serve(
      makeApp(supervisor, resolved.apiKey, yield* Clock.currentTimeMillis, commands?.commands, fleet, metrics)
    )
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : resolved.port
    return { host: resolved.host, port }
  })
