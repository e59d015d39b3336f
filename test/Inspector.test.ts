import { assert, describe, it, layer } from "@effect/vitest"
import {
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Schema,
  Scope
} from "effect"
import * as App from "../src/App.js"
import * as Inspector from "../src/Inspector.js"
import { authorized } from "../src/internal/inspector/auth.js"
import * as Single from "../src/internal/workers/single.js"
import * as Server from "../src/Server.js"
import * as Workers from "../src/Workers.js"
import {
  ClusterTag,
  clusterLayer,
  freePort,
  inspect,
  isAlive,
  request,
  table,
  waitFor
} from "./fixtures/workers-harness.js"

const withEnv = (entries: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

const resolve = (options: boolean | Inspector.Options | undefined, env: Record<string, string> = {}) =>
  Inspector.resolve(options).pipe(withEnv(env))

describe("settings", () => {
  it.effect("off by default, on with INSPECTOR=true at 127.0.0.1:6457 without a key", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* resolve(undefined)))
      assert.isTrue(Option.isNone(yield* resolve(false)))
      const on = yield* resolve(undefined, { INSPECTOR: "true" })
      assert.deepStrictEqual(on, Option.some({ port: 6457, host: "127.0.0.1", apiKey: Option.none() }))
    })
  )

  it.effect("the environment wins over the options", () =>
    Effect.gen(function* () {
      const resolved = yield* resolve(
        { port: 7000, host: "localhost", apiKey: "from-options" },
        { INSPECTOR_PORT: "7001", INSPECTOR_HOST: "127.0.0.2", INSPECTOR_API_KEY: "from-env" }
      )
      const value = Option.getOrThrow(resolved)
      assert.strictEqual(value.port, 7001)
      assert.strictEqual(value.host, "127.0.0.2")
      assert.strictEqual(Redacted.value(Option.getOrThrow(value.apiKey)), "from-env")
      assert.isTrue(Option.isNone(yield* resolve(true, { INSPECTOR: "false" })))
    })
  )

  it.effect("blank INSPECTOR variables count as unset", () =>
    Effect.gen(function* () {
      const resolved = yield* resolve(true, { INSPECTOR: " ", INSPECTOR_PORT: "", INSPECTOR_HOST: "" })
      assert.isTrue(Option.isSome(resolved))
      if (Option.isSome(resolved)) assert.strictEqual(resolved.value.port, 6457)
      assert.isTrue(Option.isNone(yield* resolve(undefined, { INSPECTOR: "" })))
    })
  )

  it.effect("refuses a non-loopback host without an API key, with a clear error", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.either(resolve({ host: "0.0.0.0" }))
      assert.isTrue(Either.isLeft(refused))
      const error = Either.getLeft(refused).pipe(Option.getOrThrow)
      assert.strictEqual(error._tag, "InspectorError")
      assert.include(error.message, "0.0.0.0, which is not a loopback address, without an API key")
      assert.include(error.message, "INSPECTOR_API_KEY")
      const withKey = yield* resolve({ host: "0.0.0.0" }, { INSPECTOR_API_KEY: "k" })
      assert.strictEqual(Option.getOrThrow(withKey).host, "0.0.0.0")
      assert.isTrue(Option.isSome(yield* resolve({ host: "::1" })))
      const badPort = yield* Effect.either(resolve(true, { INSPECTOR_PORT: "70000" }))
      assert.include(Option.getOrThrow(Either.getLeft(badPort)).message, "Invalid inspector port 70000")
    })
  )

  it("the API key is checked over hashes, so any length compares", () => {
    const key = Redacted.make("s3cret-key")
    assert.isTrue(authorized("Bearer s3cret-key", key))
    // the scheme is case-insensitive, as HTTP says
    assert.isTrue(authorized("bearer s3cret-key", key))
    assert.isTrue(authorized("BEARER  s3cret-key", key))
    assert.isFalse(authorized("Basic s3cret-key", key))
    assert.isFalse(authorized("s3cret-key", key))
    assert.isFalse(authorized("Bearer s3cret-kez", key))
    assert.isFalse(authorized("Bearer s3cret", key))
    assert.isFalse(authorized("Bearer s3cret-key-and-more", key))
    assert.isFalse(authorized("s3cret-key", key))
    assert.isFalse(authorized(undefined, key))
    assert.isFalse(authorized("Bearer ", Redacted.make("")))
  })
})

const apiKey = "inspector-test-key"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

/** A serving app with a succeeded, a failed and a running task, inspected on a random port. */
const inspected = Effect.gen(function* () {
  const app = yield* App.make({ name: "inspected", gracefulShutdownTimeout: "2 seconds" })
  yield* app.start
  const done = yield* app.addTask(Effect.succeed("secret-result"), { name: "done" })
  const failed = yield* app.addTask(Effect.fail("secret-error"), { name: "failed" })
  yield* done.await
  yield* failed.await
  yield* app.addTask(Effect.never, { name: "running" })
  yield* app.addTask(Effect.never, { name: "a/b ü?" })
  const address = yield* Inspector.serve(Single.make(app), {
    port: 0,
    host: "127.0.0.1",
    apiKey: Option.some(Redacted.make(apiKey))
  })
  const call = (path: string, options: { method?: string; body?: string; key?: string | null } = {}) =>
    request(address.port, path, {
      ...(options.method !== undefined ? { method: options.method } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      headers: options.key === null ? {} : { authorization: `Bearer ${options.key ?? apiKey}` }
    })
  const json = (path: string, options: { method?: string; body?: string } = {}) =>
    Effect.map(call(path, options), (response) => ({ status: response.status, body: JSON.parse(response.body) }))
  return { app, address, call, json }
})

describe("a process serving alone", () => {
  it.scopedLive("401 without the key or with a wrong one", () =>
    Effect.gen(function* () {
      const { call } = yield* inspected
      for (const key of [null, "wrong", `${apiKey}x`]) {
        const response = yield* call("/", { key })
        assert.strictEqual(response.status, 401)
        assert.deepStrictEqual(JSON.parse(response.body), { error: "Bad API key" })
        assert.include(response.headers["www-authenticate"], "Bearer")
      }
      assert.strictEqual((yield* call("/tasks/main/running/cancel", { method: "POST", key: null })).status, 401)
    }).pipe(quiet)
  )

  it.scopedLive("GET / shows this process as the only worker", () =>
    Effect.gen(function* () {
      const { json } = yield* inspected
      const { status, body } = yield* json("/")
      assert.strictEqual(status, 200)
      assert.strictEqual(body.app, "inspected")
      assert.strictEqual(body.mode, "single")
      assert.strictEqual(body.pid, process.pid)
      assert.deepStrictEqual(
        body.workers.map((w: any) => [w.name, w.state, w.pid, w.serving]),
        [["main", "serving", process.pid, true]]
      )
    }).pipe(quiet)
  )

  it.scopedLive("GET /tasks lists the tasks with their status, never their results or errors", () =>
    Effect.gen(function* () {
      const { call } = yield* inspected
      const response = yield* call("/tasks")
      assert.strictEqual(response.status, 200)
      assert.notInclude(response.body, "secret")
      const tasks = JSON.parse(response.body).tasks as Array<any>
      assert.deepStrictEqual(
        tasks.map((t) => [t.worker, t.name, t.status]),
        [
          ["main", "done", "succeeded"],
          ["main", "failed", "failed"],
          ["main", "running", "running"],
          ["main", "a/b ü?", "running"]
        ]
      )
      assert.isNumber(tasks[0].endedAt)
    }).pipe(quiet)
  )

  it.scopedLive("POST /tasks/<worker>/<name>/cancel cancels; names are URL-decoded; unknown ones are 404", () =>
    Effect.gen(function* () {
      const { app, json } = yield* inspected
      const cancelled = yield* json("/tasks/main/running/cancel", { method: "POST" })
      assert.deepStrictEqual(cancelled, { status: 200, body: { cancelled: { worker: "main", name: "running" } } })
      assert.strictEqual(yield* (yield* app.getTask("running")).status, "cancelled")
      const odd = yield* json(`/tasks/main/${encodeURIComponent("a/b ü?")}/cancel`, { method: "POST" })
      assert.strictEqual(odd.status, 200)
      assert.strictEqual(yield* (yield* app.getTask("a/b ü?")).status, "cancelled")
      const missing = yield* json("/tasks/main/nope/cancel", { method: "POST" })
      assert.strictEqual(missing.status, 404)
      assert.include(missing.body.error, 'Registered task named "nope" not found.')
      assert.strictEqual((yield* json("/tasks/worker-3/done/cancel", { method: "POST" })).status, 404)
      const unknownAction = yield* json("/tasks/main/done/pause", { method: "POST" })
      assert.strictEqual(unknownAction.status, 400)
      assert.strictEqual((yield* json("/tasks/main/done/cancel")).status, 405)
    }).pipe(quiet)
  )

  it.scopedLive("bad JSON, bad bodies and unknown actions get 400, wrong methods 405, unknown paths 404", () =>
    Effect.gen(function* () {
      const { call, json } = yield* inspected
      const badJson = yield* json("/scale", { method: "POST", body: "{replicas: 2" })
      assert.strictEqual(badJson.status, 400)
      assert.include(badJson.body.error, "Invalid JSON body")
      assert.strictEqual((yield* json("/scale", { method: "POST" })).status, 400)
      assert.strictEqual((yield* json("/scale", { method: "POST", body: '{"replicas":0}' })).status, 400)
      assert.strictEqual((yield* json("/scale", { method: "POST", body: '{"replicas":1.5}' })).status, 400)
      assert.strictEqual((yield* json("/scale", { method: "POST", body: '{"replicas":2,"x":1}' })).status, 400)
      assert.strictEqual((yield* json("/restart", { method: "POST", body: '{"workers":5}' })).status, 400)
      assert.strictEqual((yield* json("/restart", { method: "POST", body: "[]" })).status, 400)
      const unknown = yield* json("/frobnicate", { method: "POST" })
      assert.strictEqual(unknown.status, 404)
      assert.include(unknown.body.error, 'Unknown action "frobnicate"')
      assert.include(unknown.body.error, "POST /reload")
      const wrongMethod = yield* call("/restart")
      assert.strictEqual(wrongMethod.status, 405)
      assert.strictEqual(wrongMethod.headers.allow, "POST")
      assert.strictEqual((yield* call("/", { method: "DELETE" })).status, 405)
      assert.strictEqual((yield* call("/tasks", { method: "POST" })).status, 405)
      assert.strictEqual((yield* call("/nothing-here")).status, 404)
      assert.strictEqual((yield* call("/tasks/main")).status, 404)
      assert.strictEqual((yield* call("/%E0%A4%A")).status, 400)
      // Still answering after all that.
      assert.strictEqual((yield* call("/")).status, 200)
    }).pipe(quiet)
  )

  it.scopedLive("restart and scale need workers: 409 with the reason; an unknown worker is 404", () =>
    Effect.gen(function* () {
      const { json } = yield* inspected
      const restart = yield* json("/restart", { method: "POST" })
      assert.strictEqual(restart.status, 409)
      assert.include(restart.body.error, "this process serves alone")
      assert.strictEqual((yield* json("/scale", { method: "POST", body: '{"replicas":2}' })).status, 409)
      assert.strictEqual((yield* json("/restart", { method: "POST", body: '{"workers":["worker-7"]}' })).status, 404)
    }).pipe(quiet)
  )
})

describe("Server.layer with workers: 1", () => {
  it.scopedLive("runs the inspector in the serving process, with this process's tasks; gone with the server", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const scope = yield* Scope.make()
      const app = yield* App.make({ name: "alone", gracefulShutdownTimeout: "2 seconds" })
      yield* app.addTask(Effect.never, { name: "queued" })
      const served = yield* Layer.buildWithScope(
        Server.layer({ port: 0, workers: 1, inspector: { port, apiKey } }).pipe(
          Layer.provide(Layer.succeed(App.App, app))
        ),
        scope
      )
      const headers = { authorization: `Bearer ${apiKey}` }
      const root = JSON.parse((yield* request(port, "/", { headers })).body)
      assert.strictEqual(root.mode, "single")
      assert.deepStrictEqual(
        root.workers.map((w: any) => [w.name, w.state, w.pid]),
        [["main", "serving", process.pid]]
      )
      const tasks = JSON.parse((yield* request(port, "/tasks", { headers })).body).tasks
      assert.deepStrictEqual(
        tasks.map((t: any) => [t.worker, t.name, t.status]),
        [["main", "queued", "running"]]
      )
      assert.strictEqual(Context.get(served, Workers.Supervisor).mode, "single")
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Either.isLeft(yield* Effect.either(request(port, "/", { headers }))))
    }).pipe(quiet)
  )
})

/** A primary's supervisor that does nothing but what a test overrides. */
const stubSupervisor = (overrides: Partial<Workers.SupervisorService>): Workers.SupervisorService => ({
  mode: "primary",
  app: "stub",
  table: Effect.succeed([]),
  tasks: Effect.succeed([]),
  cancelTask: () => Effect.void,
  restart: () => Effect.void,
  scale: () => Effect.void,
  shutdown: Effect.void,
  ...overrides
})

describe("POST /shutdown", () => {
  it.scopedLive("test_run_inspector_shutdown: answers 200 as Sanic does and asks the supervisor to shut down", () =>
    Effect.gen(function* () {
      const asked = yield* Deferred.make<void>()
      const supervisor = stubSupervisor({ shutdown: Deferred.succeed(asked, undefined) })
      const address = yield* Inspector.serve(supervisor, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
      const response = yield* request(address.port, "/shutdown", { method: "POST" })
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(JSON.parse(response.body), { meta: { action: "shutdown" }, result: null })
      assert.isTrue(yield* Deferred.isDone(asked))
      assert.strictEqual((yield* request(address.port, "/shutdown")).status, 405)
    }).pipe(quiet)
  )

  it.scopedLive("without a key, a foreign Origin or a non-loopback Host is refused with 403 and nothing happens", () =>
    Effect.gen(function* () {
      const asked = yield* Deferred.make<void>()
      const scaled = yield* Deferred.make<number>()
      const supervisor = stubSupervisor({
        scale: (replicas) => Deferred.succeed(scaled, replicas),
        shutdown: Deferred.succeed(asked, undefined)
      })
      const address = yield* Inspector.serve(supervisor, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
      const foreign = [
        { origin: "https://evil.example" },
        { host: `attacker.example:${address.port}` },
        { host: `attacker.example:${address.port}`, origin: `http://attacker.example:${address.port}` }
      ]
      for (const headers of foreign) {
        assert.strictEqual((yield* request(address.port, "/shutdown", { method: "POST", headers })).status, 403)
        assert.strictEqual((yield* request(address.port, "/", { headers })).status, 403)
      }
      assert.isFalse(yield* Deferred.isDone(asked))
      const local = { origin: `http://localhost:${address.port}` }
      const tooMany = yield* request(address.port, "/scale", {
        method: "POST",
        body: JSON.stringify({ replicas: 100_000 }),
        headers: local
      })
      assert.strictEqual(tooMany.status, 400)
      assert.isFalse(yield* Deferred.isDone(scaled))
      const fine = yield* request(address.port, "/scale", { method: "POST", body: '{"replicas":3}', headers: local })
      assert.strictEqual(fine.status, 200, fine.body)
      assert.strictEqual(yield* Deferred.await(scaled), 3)
    }).pipe(quiet)
  )

  it.scopedLive("a port in use is a clear InspectorError", () =>
    Effect.gen(function* () {
      const supervisor = Single.make(yield* App.make({ name: "twice" }))
      const first = yield* Inspector.serve(supervisor, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
      const error = yield* Effect.flip(
        Inspector.serve(supervisor, { port: first.port, host: "127.0.0.1", apiKey: Option.none() })
      )
      assert.strictEqual(error._tag, "InspectorError")
      assert.include(error.message, `could not listen on 127.0.0.1:${first.port}`)
    }).pipe(quiet)
  )
})

/** A stub supervisor that records the restarts asked of it, inspected without a key on a random port. */
const recordingRestarts = Effect.gen(function* () {
  const restarts: Array<Workers.RestartOptions | undefined> = []
  const supervisor = stubSupervisor({
    table: Effect.succeed([]),
    restart: (options) =>
      Effect.sync(() => {
        restarts.push(options)
      })
  })
  const address = yield* Inspector.serve(supervisor, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
  const post = (path: string, body?: string) =>
    Effect.map(
      request(address.port, path, { method: "POST", ...(body !== undefined ? { body } : {}) }),
      (response) => ({ status: response.status, body: JSON.parse(response.body) })
    )
  return { restarts, post }
})

describe("POST /reload (Sanic's name for /restart)", () => {
  it.scopedLive("test_run_inspector_reload: without a body, restarts every worker, not zero-downtime, as Sanic", () =>
    Effect.gen(function* () {
      const { post, restarts } = yield* recordingRestarts
      const response = yield* post("/reload")
      assert.deepStrictEqual(response, {
        status: 200,
        body: { meta: { action: "reload" }, result: { restarted: "all", zeroDowntime: false, workers: [] } }
      })
      assert.deepStrictEqual(restarts, [{ zeroDowntime: false }])
      // /restart keeps its own default
      yield* post("/restart")
      assert.deepStrictEqual(restarts[1], {})
    }).pipe(quiet)
  )

  it.scopedLive('test_run_inspector_reload_zero_downtime: {"zero_downtime": true} restarts zero-downtime', () =>
    Effect.gen(function* () {
      const { post, restarts } = yield* recordingRestarts
      const response = yield* post("/reload", JSON.stringify({ zero_downtime: true }))
      assert.strictEqual(response.status, 200)
      assert.isTrue(response.body.result.zeroDowntime)
      assert.deepStrictEqual(restarts, [{ zeroDowntime: true }])
      // our spelling and the `workers` key work there too
      yield* post("/reload", JSON.stringify({ zeroDowntime: true, workers: ["worker-1"] }))
      assert.deepStrictEqual(restarts[1], { workers: ["worker-1"], zeroDowntime: true })
      // both spellings, disagreeing, and bodies of the wrong shape are refused before anything restarts
      for (const body of ['{"zero_downtime":true,"zeroDowntime":false}', '{"zero_downtime":"yes"}', '{"x":1}']) {
        const refused = yield* post("/reload", body)
        assert.strictEqual(refused.status, 400, body)
        assert.isString(refused.body.error)
      }
      assert.strictEqual(restarts.length, 2)
    }).pipe(quiet)
  )

  it.scopedLive("a process serving alone refuses it as it refuses /restart: 409", () =>
    Effect.gen(function* () {
      const { json } = yield* inspected
      const refused = yield* json("/reload", { method: "POST", body: '{"zero_downtime":true}' })
      assert.strictEqual(refused.status, 409)
      assert.include(refused.body.error, "this process serves alone")
    }).pipe(quiet)
  )
})

class Audit extends Context.Tag("test/Audit")<Audit, { readonly said: Array<string> }>() {}

const Reset = Schema.Struct({ task: Schema.String, times: Schema.optional(Schema.Int) })

/** Custom commands: one using the app, one another service, one failing, one answering what is not JSON. */
const customCommands = Inspector.layerCommands([
  Inspector.command("reset", Reset, ({ task, times }) =>
    Effect.gen(function* () {
      const app = yield* App.App
      const audit = yield* Audit
      audit.said.push(`reset ${task}`)
      yield* app.cancelTask(task)
      return { app: app.name, cancelled: task, times: times ?? 1 }
    })
  ),
  Inspector.command("noop", Schema.Struct({}), () => Effect.void),
  Inspector.command("broken", Schema.Struct({}), () => Effect.fail(new Error("the disk is full"))),
  Inspector.command("big", Schema.Struct({}), () => Effect.succeed({ n: 1n }))
])

describe("custom commands", () => {
  const served = Effect.gen(function* () {
    const app = yield* App.make({ name: "commanded", gracefulShutdownTimeout: "2 seconds" })
    yield* app.start
    yield* app.addTask(Effect.never, { name: "mailer" })
    const audit = { said: [] as Array<string> }
    const commands = yield* Layer.build(customCommands).pipe(
      Effect.provideService(App.App, app),
      Effect.provideService(Audit, audit)
    )
    const address = yield* Inspector.serve(Single.make(app), {
      port: 0,
      host: "127.0.0.1",
      apiKey: Option.some(Redacted.make(apiKey))
    }).pipe(Effect.provide(commands))
    const post = (path: string, body?: string, key: string | null = apiKey) =>
      Effect.map(
        request(address.port, path, {
          method: "POST",
          ...(body !== undefined ? { body } : {}),
          headers: key === null ? {} : { authorization: `Bearer ${key}` }
        }),
        (response) => ({ status: response.status, body: JSON.parse(response.body) })
      )
    return { app, audit, post, port: address.port }
  })

  it.scopedLive("test_run_inspector_arbitrary: POST /<name> decodes the body, runs the handler with the app", () =>
    Effect.gen(function* () {
      const { app, audit, post } = yield* served
      const response = yield* post("/reset", JSON.stringify({ task: "mailer", times: 2 }))
      assert.deepStrictEqual(response, {
        status: 200,
        body: { meta: { action: "reset" }, result: { app: "commanded", cancelled: "mailer", times: 2 } }
      })
      assert.strictEqual(yield* (yield* app.getTask("mailer")).status, "cancelled")
      assert.deepStrictEqual(audit.said, ["reset mailer"])
      // no result is null, as in Sanic; an empty body is {}
      assert.deepStrictEqual(yield* post("/noop"), { status: 200, body: { meta: { action: "noop" }, result: null } })
    }).pipe(quiet)
  )

  it.scopedLive("a bad body is 400 with the decode message, and the handler does not run", () =>
    Effect.gen(function* () {
      const { audit, post } = yield* served
      const wrongType = yield* post("/reset", JSON.stringify({ task: 7 }))
      assert.strictEqual(wrongType.status, 400)
      assert.include(wrongType.body.error, "Invalid body")
      assert.include(wrongType.body.error, '["task"]')
      assert.include(wrongType.body.error, "Expected string, actual 7")
      assert.strictEqual((yield* post("/reset")).status, 400)
      assert.strictEqual((yield* post("/reset", JSON.stringify({ task: "x", extra: 1 }))).status, 400)
      const badJson = yield* post("/reset", "{task:")
      assert.strictEqual(badJson.status, 400)
      assert.include(badJson.body.error, "Invalid JSON body")
      assert.deepStrictEqual(audit.said, [])
    }).pipe(quiet)
  )

  it.scopedLive("auth applies to commands; unknown commands stay 404; a wrong method is 405", () =>
    Effect.gen(function* () {
      const { audit, port, post } = yield* served
      for (const key of [null, "wrong"]) {
        const refused = yield* post("/reset", JSON.stringify({ task: "mailer" }), key)
        assert.deepStrictEqual(refused, { status: 401, body: { error: "Bad API key" } })
      }
      assert.deepStrictEqual(audit.said, [])
      const unknown = yield* post("/resett", "{}")
      assert.strictEqual(unknown.status, 404)
      assert.include(unknown.body.error, 'Unknown action "resett"')
      assert.include(unknown.body.error, "POST /reset")
      const get = yield* request(port, "/reset", { headers: { authorization: `Bearer ${apiKey}` } })
      assert.strictEqual(get.status, 405)
      assert.strictEqual(get.headers.allow, "POST")
    }).pipe(quiet)
  )

  it.scopedLive("a failing handler is 500 with its message; a result that is not JSON is 500", () =>
    Effect.gen(function* () {
      const { post } = yield* served
      const broken = yield* post("/broken")
      assert.deepStrictEqual(broken, { status: 500, body: { error: 'Command "broken" failed: the disk is full' } })
      const big = yield* post("/big")
      assert.deepStrictEqual(big, { status: 500, body: { error: 'Command "big" returned a value that is not JSON.' } })
    }).pipe(quiet)
  )

  it.effect(
    "a built-in action's name, a name taken twice or one that is no path segment is InspectorCommandError",
    () =>
      Effect.gen(function* () {
        const noop = (name: string) => Inspector.command(name, Schema.Struct({}), () => Effect.void)
        const refusal = (commands: ReadonlyArray<Inspector.Command>) =>
          Effect.flip(Effect.scoped(Layer.build(Inspector.layerCommands(commands))))
        for (const name of ["reload", "restart", "shutdown", "scale", "tasks"]) {
          const error = yield* refusal([noop(name)])
          assert.deepStrictEqual(
            [error._tag, error.reason, error.name],
            ["InspectorCommandError", "BuiltinAction", name]
          )
          assert.include(error.message, "built-in action")
        }
        const twice = yield* refusal([noop("a"), noop("b"), noop("a")])
        assert.deepStrictEqual([twice.reason, twice.name], ["Duplicate", "a"])
        for (const name of ["", "a/b", "a b", "é"]) {
          assert.strictEqual((yield* refusal([noop(name)])).reason, "InvalidName", name)
        }
      })
  )

  it.scopedLive("Server.layer serves the commands of Inspector.layerCommands, with the app it serves", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const scope = yield* Scope.make()
      const app = yield* App.make({ name: "served", gracefulShutdownTimeout: "2 seconds" })
      const whoami = Inspector.command("whoami", Schema.Struct({}), () =>
        Effect.map(App.App, (app) => ({ app: app.name, state: "asked" }))
      )
      yield* Layer.buildWithScope(
        Server.layer({ port: 0, workers: 1, inspector: { port, apiKey } }).pipe(
          Layer.provide(Inspector.layerCommands([whoami])),
          Layer.provide(Layer.succeed(App.App, app))
        ),
        scope
      )
      const response = yield* request(port, "/whoami", {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}` }
      })
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(JSON.parse(response.body), {
        meta: { action: "whoami" },
        result: { app: "served", state: "asked" }
      })
      yield* Scope.close(scope, Exit.void)
    }).pipe(quiet)
  )
})

layer(clusterLayer({ WORKERS: "2", GRACEFUL_SHUTDOWN_TIMEOUT: "5" }), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("the inspector of a primary with two workers", (it) => {
  const ready = Effect.gen(function* () {
    const cluster = yield* ClusterTag
    yield* waitFor(
      cluster,
      "the primary to serve",
      () => cluster.lines().find((l) => l.role === "main" && l.what === "serving"),
      "40 seconds"
    )
    return cluster
  })

  it.effect(
    "test_run_inspector_arbitrary: a custom command runs in the primary, with the app",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ready
        const response = yield* inspect(cluster, "/whereami", { method: "POST", body: '{"note":"hi"}' })
        assert.strictEqual(response.status, 200, response.body)
        assert.deepStrictEqual(JSON.parse(response.body), {
          meta: { action: "whereami" },
          result: { app: "fixture", pid: cluster.pid, worker: "main", note: "hi" }
        })
        assert.strictEqual((yield* inspect(cluster, "/whereami", { method: "POST", key: null })).status, 401)
      }),
    60_000
  )

  it.effect(
    "test_reload_alias: POST /reload {zero_downtime: true} restarts every worker as /restart does",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ready
        const before = yield* table(cluster)
        assert.strictEqual(before.length, 2)
        const reloaded = yield* inspect(cluster, "/reload", { method: "POST", body: '{"zero_downtime":true}' })
        assert.strictEqual(reloaded.status, 200, reloaded.body)
        const body = JSON.parse(reloaded.body)
        assert.deepStrictEqual(body.meta, { action: "reload" })
        assert.deepStrictEqual([body.result.restarted, body.result.zeroDowntime], ["all", true])
        const after = yield* table(cluster)
        assert.deepStrictEqual(
          after.map((w) => [w.name, w.state, w.restarts]),
          [
            ["worker-0", "serving", 1],
            ["worker-1", "serving", 1]
          ]
        )
        for (const [i, worker] of after.entries()) {
          assert.notStrictEqual(worker.pid, before[i]!.pid)
          assert.isFalse(isAlive(before[i]!.pid), "the old process is gone")
        }
      }),
    60_000
  )
})
