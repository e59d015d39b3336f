import * as Net from "node:net"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Layer, Logger, LogLevel, Option, Scope } from "effect"
import * as App from "../../src/App.js"
import * as Server from "../../src/Server.js"
import { freePort, request } from "../fixtures/workers-harness.js"
import { fixture, spawnNode } from "./harness.js"

/** Writes `data` on a fresh connection, optionally waits, and gives everything the server sent before closing. */
const raw = (port: number, chunks: ReadonlyArray<string>, options: { readonly end?: boolean } = {}) =>
  Effect.async<string>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    let received = ""
    socket.on("data", (data) => {
      received += data.toString("latin1")
    })
    socket.on("error", () => {})
    socket.on("close", () => resume(Effect.succeed(received)))
    for (const chunk of chunks) socket.write(chunk)
    if (options.end !== false) socket.end()
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the server never closed") }))

const statusOf = (response: string) => /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]

const routes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello"))),
  HttpLayerRouter.add(
    "POST",
    "/echo",
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.map(request.text, (text) => HttpServerResponse.text(`${text.length} bytes`))
    )
  ),
  HttpLayerRouter.add(
    "POST",
    "/bytes",
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.map(request.arrayBuffer, (bytes) => HttpServerResponse.text(`${bytes.byteLength} bytes`))
    )
  ),
  HttpLayerRouter.add(
    "POST",
    "/json",
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.map(request.json, (body) => HttpServerResponse.unsafeJson(body))
    )
  )
) as Layer.Layer<never, never, never>

const serveWithLogs = (maxBodySize: number) =>
  Effect.gen(function* () {
    const errors: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Error" || logLevel._tag === "Fatal") errors.push(String(message))
    })
    const app = yield* App.make({ name: "bad-input", gracefulShutdownTimeout: "2 seconds" })
    const server = yield* Server.serve({ port: 0, routes, maxBodySize }).pipe(
      Effect.provideService(App.App, app),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    ) as Effect.Effect<Server.ServerService, Server.ServeError, Scope.Scope>
    return { port: server.address.port, errors }
  })

describe("HTTP", () => {
  it.scopedLive("malformed requests get 4xx and the server keeps serving", () =>
    Effect.gen(function* () {
      const { port, errors } = yield* serveWithLogs(1024)
      const host = "Host: 127.0.0.1\r\n"
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["a header line without a colon", `GET /hello HTTP/1.1\r\n${host}Bad Header\r\n\r\n`],
        ["a garbage request line", "GARBAGE\r\n\r\n"],
        ["a control character in a header value", `GET /hello HTTP/1.1\r\n${host}X-A: a\x01b\r\n\r\n`],
        ["a non-numeric content-length", `POST /echo HTTP/1.1\r\n${host}Content-Length: abc\r\n\r\n`],
        [
          "both content-length and chunked",
          `POST /echo HTTP/1.1\r\n${host}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`
        ],
        ["headers over 16 KiB", `GET /hello HTTP/1.1\r\n${host}X-Big: ${"a".repeat(20_000)}\r\n\r\n`],
        ["invalid JSON to a route that reads JSON", `POST /json HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\n{bad}`]
      ]
      for (const [what, data] of cases) {
        const status = statusOf(yield* raw(port, [data]))
        assert.match(status ?? "none", /^4\d\d$/, `${what}: ${status}`)
      }
      assert.strictEqual((yield* request(port, "/hello")).body, "hello")
      assert.deepStrictEqual(errors, [], "bad requests are the client's problem, not errors of the server")
    })
  )

  it.scopedLive("a body over maxBodySize gets 413, declared or streamed; one within it is read whole", () =>
    Effect.gen(function* () {
      const { port, errors } = yield* serveWithLogs(1024)
      const post = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`
      const within = yield* request(port, "/echo", { method: "POST", body: "x".repeat(1024) })
      assert.deepStrictEqual([within.status, within.body], [200, "1024 bytes"])

      for (const path of ["/echo", "/bytes", "/json"]) {
        // Declared too large: answered before a byte of the body is sent.
        const declared = yield* raw(port, [post(path, "Content-Length: 100000000\r\n")], { end: false })
        assert.strictEqual(statusOf(declared), "413", declared)
        assert.match(declared, /connection: close/i)
        // Chunked: refused once more than the limit has arrived; the client stops sending there.
        const chunk = `800\r\n${"x".repeat(0x800)}\r\n`
        const streamed = yield* raw(port, [post(path, "Transfer-Encoding: chunked\r\n"), chunk], { end: false })
        assert.strictEqual(statusOf(streamed), "413", streamed)
      }
      assert.strictEqual((yield* request(port, "/hello")).body, "hello")
      assert.deepStrictEqual(errors, [])
    })
  )
})

describe("names from JS callers", () => {
  it.scoped("task names and lookups that are not strings give typed errors with messages that do not throw", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "bad-input" })
      yield* app.start
      const kept = yield* app.addTask(Effect.never, { name: "kept" })
      const odd: ReadonlyArray<unknown> = [Object.create(null), Symbol("s"), 42, null, { toString: () => "x" }, [1]]
      for (const name of odd) {
        const added = yield* Effect.flip(app.addTask(Effect.void, { name: name as string }))
        assert.strictEqual(added._tag, "InvalidTaskName")
        assert.match(added.message, /^Invalid task name .+: a task name must be a string, got \w+\.$/)
        const got = yield* Effect.flip(app.getTask(name as string))
        assert.strictEqual(got._tag, "TaskNotFound")
        assert.match(got.message, /^Registered task named ".*" not found\.$/)
        assert.strictEqual((yield* Effect.flip(app.cancelTask(name as string)))._tag, "TaskNotFound")
        assert.isTrue(Option.isNone(yield* app.findTask(name as string)))
      }
      assert.deepStrictEqual(yield* app.tasks, [kept])
      assert.strictEqual(yield* kept.status, "running")
    })
  )
})

describe("server settings", () => {
  const serveExit = (options: Server.Options<never, never, never>, env: Record<string, string> = {}) =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const app = yield* Scope.extend(App.make({ name: "bad-input" }), scope)
      const exit = yield* Server.serve(options).pipe(
        Effect.provideService(App.App, app),
        Scope.extend(scope),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.exit
      )
      const state = yield* app.state
      yield* Scope.close(scope, Exit.void)
      return { exit, state }
    })

  it.live("a blank WORKERS counts as unset; a bad one, or a bad worker start timeout, is a clear ServeError", () =>
    Effect.gen(function* () {
      const blank = yield* serveExit({ port: 0 }, { WORKERS: " " })
      assert.isTrue(Exit.isSuccess(blank.exit), String(blank.exit))
      const refused = [
        [{ port: 0 }, { WORKERS: "many" }, "Invalid WORKERS setting"],
        [{ port: 0 }, { WORKERS: "0" }, "Invalid workers 0"],
        [{ port: 0, workerOptions: { startTimeout: -1 } }, {}, "Invalid worker start timeout"],
        [{ port: 0, workerOptions: { startTimeout: 0 } }, {}, "Invalid workerOptions.startTimeout 0"]
      ] as const
      for (const [options, env, reason] of refused) {
        const { exit, state } = yield* serveExit(options, env)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
        assert.strictEqual(error?._tag, "ServeError")
        assert.include(error?.message, reason)
        assert.strictEqual(state, "idle", "nothing started")
      }
    })
  )

  it.live(
    "a port in use, in a real process: exit code 1 and one clear line, no stack trace",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const blocker = Net.createServer()
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            blocker.listen(port, "127.0.0.1", () => resume(Effect.void))
          }),
          () => Effect.async<void>((resume) => void blocker.close(() => resume(Effect.void)))
        )
        const child = yield* spawnNode(fixture("reliability-app.ts"), { env: { PORT: String(port) } })
        const exit = yield* child.exit.pipe(Effect.timeout("30 seconds"))
        const output = child.output()
        assert.strictEqual(exit.code, 1, output)
        assert.include(output, `Port ${port} on 127.0.0.1 is already in use.`)
        assert.notMatch(output, /^\s+at /m, "no stack trace")
        assert.notInclude(output, "EADDRINUSE")
        assert.notInclude(output, "listening ")
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})
