import { readFileSync } from "node:fs"
import * as Net from "node:net"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Layer, Logger, LogLevel, Option, Redacted, Scope } from "effect"
import * as App from "../../src/App.js"
import * as Inspector from "../../src/Inspector.js"
import * as Single from "../../src/internal/workers/single.js"
import * as Server from "../../src/Server.js"
import type * as Workers from "../../src/Workers.js"
import { freePort, request } from "../fixtures/workers-harness.js"
import { serveFixture } from "./harness.js"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

/** The listening TCP sockets on `port`, as `address` strings (`127.0.0.1`, `0.0.0.0`, `::`...), from /proc/net. */
const listeners = (port: number): Array<string> => {
  const found: Array<string> = []
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (local === undefined || state !== "0A") continue
      const [hex, portHex] = local.split(":")
      if (Number.parseInt(portHex!, 16) !== port) continue
      found.push(
        hex!.length === 8
          ? Array.from({ length: 4 }, (_, i) => Number.parseInt(hex!.slice(6 - i * 2, 8 - i * 2), 16)).join(".")
          : hex === "00000000000000000000000000000000"
            ? "::"
            : `ipv6:${hex}`
      )
    }
  }
  return found
}

const canListen = (port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = Net.createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resume(Effect.succeed(true))))
  })

describe("where things listen", () => {
  it.live.runIf(process.platform === "linux")(
    "by default the server and the inspector listen on 127.0.0.1 only",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const inspectorPort = yield* freePort
        const { child } = yield* serveFixture({
          PORT: String(port),
          INSPECTOR: "true",
          INSPECTOR_PORT: String(inspectorPort)
        })
        yield* child.line(`Inspector listening on http://127.0.0.1:${inspectorPort}`)
        assert.deepStrictEqual(listeners(port), ["127.0.0.1"])
        assert.deepStrictEqual(listeners(inspectorPort), ["127.0.0.1"])
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.live("an inspector on a non-loopback host without a key stops the server before anything starts", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      for (const host of ["0.0.0.0", "::", "192.0.2.2", "example.org"]) {
        const scope = yield* Scope.make()
        const app = yield* Scope.extend(App.make({ name: "exposed" }), scope)
        let started = false
        yield* app.listener(
          "main_process_start",
          Effect.sync(() => (started = true))
        )
        const exit = yield* Server.serve({ port, inspector: { host, port: 0 } }).pipe(
          Effect.provideService(App.App, app),
          Scope.extend(scope),
          quiet,
          Effect.exit
        )
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
        assert.strictEqual(error?._tag, "ServeError")
        assert.include(error?.message, `Refusing to serve the inspector on ${host}`)
        assert.isFalse(started, "no listener ran")
        assert.strictEqual(yield* app.state, "idle")
        assert.isTrue(yield* canListen(port), "nothing listens on the server's port")
        yield* Scope.close(scope, Exit.void)
      }
    })
  )
})

const apiKey = "s3cret-inspector-key-0123456789"

describe("the inspector without the key", () => {
  it.scopedLive("every request is refused with 401, changes nothing, and no answer carries a result or an error", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "guarded", gracefulShutdownTimeout: "2 seconds" })
      yield* app.start
      yield* (yield* app.addTask(Effect.succeed("secret-result"), { name: "done" })).await
      yield* (yield* app.addTask(Effect.fail("secret-error"), { name: "failed" })).await
      const running = yield* app.addTask(Effect.never, { name: "running" })
      const shutdown = yield* Deferred.make<void>()
      const supervisor: Workers.SupervisorService = {
        ...Single.make(app),
        shutdown: Deferred.succeed(shutdown, undefined)
      }
      const address = yield* Inspector.serve(supervisor, {
        port: 0,
        host: "127.0.0.1",
        apiKey: Option.some(Redacted.make(apiKey))
      })
      const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
        request(address.port, path, { method, headers, ...(body !== undefined ? { body } : {}) })

      const requests: ReadonlyArray<readonly [string, string, string?]> = [
        ["GET", "/"],
        ["GET", "/tasks"],
        ["POST", "/tasks/main/running/cancel"],
        ["POST", "/restart", "{}"],
        ["POST", "/scale", '{"replicas":2}'],
        ["POST", "/shutdown"],
        ["POST", "/scale", "{not json"],
        ["DELETE", "/"],
        ["GET", "/no/such/path"],
        ["GET", `/?apiKey=${apiKey}`]
      ]
      const wrongKeys: ReadonlyArray<Record<string, string>> = [
        {},
        { authorization: "Bearer " },
        { authorization: "Bearer wrong" },
        { authorization: `Bearer ${apiKey.slice(0, -1)}` },
        { authorization: `Bearer ${apiKey}x` },
        { authorization: `Basic ${Buffer.from(`user:${apiKey}`).toString("base64")}` },
        { authorization: apiKey },
        { "x-api-key": apiKey }
      ]
      for (const [method, path, body] of requests) {
        for (const headers of wrongKeys) {
          const response = yield* call(method, path, headers, body)
          assert.strictEqual(response.status, 401, `${method} ${path} ${JSON.stringify(headers)}`)
          assert.strictEqual(response.body, '{"error":"Bad API key"}')
        }
      }
      assert.strictEqual(yield* running.status, "running", "no cancel went through")
      assert.isFalse(yield* Deferred.isDone(shutdown), "no shutdown went through")

      const authorized = { authorization: `Bearer ${apiKey}` }
      for (const path of ["/", "/tasks"]) {
        const response = yield* call("GET", path, authorized)
        assert.strictEqual(response.status, 200)
        assert.notInclude(response.body, "secret-")
      }
      assert.strictEqual((yield* call("POST", "/tasks/main/running/cancel", authorized)).status, 200)
      assert.strictEqual(yield* running.status, "cancelled")
    }).pipe(quiet)
  )
})

describe("error answers", () => {
  it.scopedLive("a failing handler's 500 and a bad request's 400 carry nothing of the error or the input", () =>
    Effect.gen(function* () {
      const routes = Layer.mergeAll(
        HttpLayerRouter.add("GET", "/die", Effect.die(new Error("secret-defect at /srv/app/db.ts"))),
        HttpLayerRouter.add("GET", "/fail", Effect.fail({ password: "secret-password" })),
        HttpLayerRouter.add(
          "POST",
          "/json",
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
            Effect.map(request.json, (body) => HttpServerResponse.unsafeJson(body))
          )
        )
      ) as Layer.Layer<never, never, never>
      const app = yield* App.make({ name: "errors" })
      const server = yield* Server.serve({ port: 0, routes }).pipe(
        Effect.provideService(App.App, app),
        quiet
      ) as Effect.Effect<Server.ServerService, Server.ServeError, Scope.Scope>
      const port = server.address.port
      for (const path of ["/die", "/fail"]) {
        const response = yield* request(port, path)
        assert.strictEqual(response.status, 500)
        assert.strictEqual(response.body, "")
      }
      const bad = yield* request(port, "/json", { method: "POST", body: '{"secret-input": ' })
      assert.strictEqual(bad.status, 400)
      assert.notInclude(bad.body, "secret")
    })
  )
})
