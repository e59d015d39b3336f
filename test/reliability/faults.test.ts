import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap, Logger, type Scope } from "effect"
import WsClient from "ws"
import * as App from "../../src/App.js"
import * as Server from "../../src/Server.js"
import { freePort, request } from "../fixtures/workers-harness.js"
import { eventually, serveFixture } from "./harness.js"

interface Stats {
  readonly tasks: number
  readonly running: number
  readonly websockets: number
  readonly hanging: number
  readonly memory: NodeJS.MemoryUsage
}

const stats = (url: string, gc = false) =>
  Effect.map(
    request(Number(new URL(url).port), `/stats${gc ? "?gc=1" : ""}`),
    (response) => JSON.parse(response.body) as Stats
  )

const open = (url: string) =>
  Effect.acquireRelease(
    Effect.async<WsClient, Error>((resume) => {
      const ws = new WsClient(url)
      ws.once("open", () => resume(Effect.succeed(ws)))
      ws.once("error", (error) => resume(Effect.fail(error)))
    }),
    (ws) => Effect.sync(() => ws.terminate())
  )

describe("task faults", () => {
  it.scopedLive(
    "a task that fails, dies, throws or fails in its finalizer is reported once, by name; the rest keeps working",
    () =>
      Effect.gen(function* () {
        const logged: Array<string> = []
        const logger = Logger.make(({ logLevel, message, annotations }) => {
          if (logLevel._tag !== "Error") return
          const task = HashMap.get(annotations, "task")
          logged.push(`${task._tag === "Some" ? task.value : "-"}: ${String(message)}`)
        })
        const app = yield* App.make({ name: "faults", gracefulShutdownTimeout: "2 seconds" }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        const reports: Array<unknown> = []
        yield* app.signal("server.exception.report", (context) => Effect.sync(() => reports.push(context.task)))
        const server = yield* Server.serve({
          port: 0,
          routes: HttpLayerRouter.add("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello")))
        }).pipe(Effect.provideService(App.App, app)) as Effect.Effect<
          Server.ServerService,
          Server.ServeError,
          Scope.Scope
        >
        const port = server.address.port

        const healthy = yield* app.addTask(Effect.never, { name: "healthy" })
        yield* app.addTask(Effect.fail(new Error("boom")), { name: "fails" })
        yield* app.addTask(Effect.die(new Error("defect")), { name: "dies" })
        yield* app.addTask(
          (): Effect.Effect<void> => {
            throw new Error("thrown while building the task")
          },
          { name: "throws" }
        )
        yield* app.addTask(Effect.ensuring(Effect.void, Effect.die(new Error("finalizer broke"))), {
          name: "finalizer-fails"
        })
        const cancelled = yield* app.addTask(
          Effect.ensuring(Effect.never, Effect.die(new Error("finalizer broke on cancel"))),
          { name: "cancel-finalizer-fails" }
        )
        yield* Effect.yieldNow()
        yield* app.cancelTask("cancel-finalizer-fails")
        const faulty = ["fails", "dies", "throws", "finalizer-fails", "cancel-finalizer-fails"]
        yield* eventually(
          Effect.sync(() => reports.length),
          (n) => n >= faulty.length
        )
        // A later failure's report comes after any second report of the earlier ones would have.
        yield* app.addTask(Effect.fail("sentinel"), { name: "sentinel" })
        yield* eventually(
          Effect.sync(() => reports),
          (all) => all.includes("sentinel")
        )

        assert.sameMembers(reports as Array<string>, [...faulty, "sentinel"], "each failure reported exactly once")
        for (const name of [...faulty, "sentinel"]) {
          assert.deepStrictEqual(
            logged.filter((line) => line.startsWith(`${name}:`)),
            [`${name}: Task "${name}" failed`]
          )
        }
        for (const name of faulty) assert.strictEqual(yield* (yield* app.getTask(name)).status, "failed")
        assert.strictEqual(yield* cancelled.status, "failed", "a finalizer's defect is not hidden by the cancel")

        assert.strictEqual(yield* app.state, "serving")
        assert.strictEqual(yield* healthy.status, "running")
        assert.strictEqual((yield* request(port, "/hello")).body, "hello")
        const after = yield* app.addTask(Effect.succeed("still adding tasks"), { name: "after" })
        assert.strictEqual(yield* after.join, "still adding tasks")
      }),
    { timeout: 30_000 }
  )
})

describe("stop faults, in a real process", () => {
  it.live(
    "a hanging shutdown handler, a stubborn task and a hanging request: exit 0 within the graceful timeout",
    () =>
      Effect.gen(function* () {
        const grace = 2_000
        const { child, url, ws } = yield* serveFixture({
          GRACE: String(grace),
          FAULTS: "shutdown-handler,stubborn-task"
        })
        const port = Number(new URL(url).port)
        const hanging = yield* Effect.fork(Effect.either(request(port, "/hang", { timeoutMs: 30_000 })))
        yield* open(`${ws}/hang-ws`)
        yield* eventually(stats(url), (s) => s.hanging === 2)
        const signalledAt = Date.now()
        yield* child.kill("SIGTERM")
        const exit = yield* child.exit.pipe(
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new Error(`no exit; output:\n${child.output()}`)
          })
        )
        const took = exit.at - signalledAt
        const output = child.output()
        console.log(`stop with a hanging shutdown handler: exit ${exit.code} after ${took} ms (grace ${grace} ms)`)
        assert.strictEqual(exit.code, 0, output)
        // The grace period, the second after_server_stop listeners always get, and the process's own exit.
        assert.isBelow(took, grace + 1_000 + 2_500, output)
        assert.include(output, "fault:shutdown-handler")
        assert.include(output, "Graceful shutdown timeout reached during before_server_stop")
        assert.match(output, /tasks still running: "stubborn"/)
        assert.include(output, "stats {")
        // Past the deadline the hanging request is dropped rather than waited on.
        assert.isTrue((yield* hanging.await)._tag === "Success")
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.live(
    "hanging before_server_stop, after_server_stop and main_process_stop listeners: exit 0 within the graceful timeout",
    () =>
      Effect.gen(function* () {
        const grace = 2_000
        const { child } = yield* serveFixture({ GRACE: String(grace), FAULTS: "stop-listeners,stubborn-task" })
        const signalledAt = Date.now()
        yield* child.kill("SIGTERM")
        const exit = yield* child.exit.pipe(
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new Error(`no exit; output:\n${child.output()}`)
          })
        )
        const took = exit.at - signalledAt
        const output = child.output()
        console.log(`stop with hanging stop listeners: exit ${exit.code} after ${took} ms (grace ${grace} ms)`)
        assert.strictEqual(exit.code, 0, output)
        for (const kind of ["before_server_stop", "after_server_stop", "main_process_stop"]) {
          assert.include(output, `fault:${kind}`)
        }
        assert.match(output, /tasks still running: "stubborn"/)
        // The grace period, then at least a second each for after_server_stop and main_process_stop, and the exit.
        assert.isBelow(took, grace + 2_000 + 2_500, output)
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})

describe("websocket faults, in a real process", () => {
  it.live(
    "a client that vanishes without a close frame: its handler ends and its receiver task is cancelled and purged",
    () =>
      Effect.gen(function* () {
        const { url, ws } = yield* serveFixture({})
        const client = yield* open(`${ws}/feed`)
        yield* eventually(stats(url), (s) => s.websockets === 1 && s.running === 1)
        // No close frame, no FIN handshake from a closing client: the socket is just destroyed.
        client.terminate()
        const after = yield* eventually(stats(url), (s) => s.websockets === 0 && s.tasks === 0)
        assert.strictEqual(after.running, 0)
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.live(
    "a client sending faster than the handler reads: the server holds a bounded backlog, then gets every message",
    () =>
      Effect.gen(function* () {
        const { url, ws } = yield* serveFixture({}, ["--expose-gc"])
        const port = Number(new URL(url).port)
        const client = yield* open(`${ws}/sink`)
        yield* eventually(stats(url), (s) => s.websockets === 1)
        const held = (s: Stats) => s.memory.heapUsed + s.memory.arrayBuffers
        const before = held(yield* stats(url, true))

        const count = 2_000
        const size = 32 * 1024
        for (let seq = 0; seq < count; seq++) {
          const message = Buffer.alloc(size, 7)
          message.writeUInt32BE(seq, 0)
          client.send(message)
        }
        // The reader reads nothing yet: wait until the pipe stalls, then see where the 62.5 MiB are.
        let last = -1
        yield* eventually(
          Effect.sync(() => {
            const stalled = client.bufferedAmount === last
            last = client.bufferedAmount
            return stalled
          }),
          (stalled) => stalled
        )
        const during = held(yield* stats(url, true))
        const pending = client.bufferedAmount
        console.log(
          `slow reader: ${(pending / 1024 / 1024).toFixed(1)} MiB still with the client, server heap + buffers ` +
            `${((during - before) / 1024 / 1024).toFixed(1)} MiB above its baseline`
        )
        assert.isAbove(pending, 32 * 1024 * 1024, "the server stopped reading instead of buffering everything")
        assert.isBelow(during - before, 16 * 1024 * 1024)

        assert.strictEqual((yield* request(port, "/release", { method: "POST" })).status, 204)
        const summary = yield* Effect.async<string>((resume) => {
          client.once("message", (data) => resume(Effect.succeed(data.toString())))
          client.send("end")
        }).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(JSON.parse(summary), { count, bytes: count * size, inOrder: true })

        client.terminate()
        yield* eventually(stats(url), (s) => s.websockets === 0 && s.tasks === 0)
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})

describe("worker faults, in a real process", () => {
  it.live(
    "a worker that crashes soon after every start is restarted with backoff, then given up; the other keeps serving",
    () =>
      Effect.gen(function* () {
        const inspectorPort = yield* freePort
        const key = "faults-key"
        const { child, url } = yield* serveFixture({
          WORKERS: "2",
          CRASH_AFTER_START: "worker-0",
          RESTART_RECURS: "2",
          INSPECTOR: "true",
          INSPECTOR_PORT: String(inspectorPort),
          INSPECTOR_API_KEY: key
        })
        yield* child.line("Worker worker-0 failed to start (last: exit code 3); gave up after 3 attempts", "90 seconds")
        const boots = Array.from(child.output().matchAll(/listening \S+ worker-0 (\d+)/g), (m) => Number(m[1]))
        assert.strictEqual(boots.length, 3, "one start and two restarts, then no more")
        const root = yield* request(inspectorPort, "/", { headers: { authorization: `Bearer ${key}` } })
        const workers = JSON.parse(root.body).workers as Array<{ name: string; state: string; restarts: number }>
        assert.deepStrictEqual(
          workers.map((w) => [w.name, w.state, w.restarts]),
          [
            ["worker-0", "failed", 2],
            ["worker-1", "serving", 0]
          ]
        )
        const port = Number(new URL(url).port)
        for (let i = 0; i < 4; i++) assert.strictEqual((yield* request(port, "/work")).status, 200)
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
