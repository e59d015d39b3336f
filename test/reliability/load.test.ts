import * as Http from "node:http"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, type Layer, Logger, LogLevel, Scope, Stream } from "effect"
import WsClient from "ws"
import * as App from "../../src/App.js"
import { hooksOf } from "../../src/internal/hooks.js"
import * as Server from "../../src/Server.js"
import * as WebSocket from "../../src/WebSocket.js"
import { eventually, fixture, jsonLines, serveFixture, spawnNode } from "./harness.js"

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`

/** Runs reliability-heap.ts in a child with `gc()` and gives the JSON it prints. */
const heapRun = <A>(mode: string) =>
  Effect.gen(function* () {
    const child = yield* spawnNode(fixture("reliability-heap.ts"), { nodeArgs: ["--expose-gc"], args: [mode] })
    const exit = yield* child.exit
    assert.strictEqual(exit.code, 0, child.output())
    return JSON.parse(child.output().trim().split("\n").at(-1)!) as A
  })

describe("heap", () => {
  it.live(
    "1,000,000 named tasks added, ended and purged in batches: heap after the last purge within 10% of the first",
    () =>
      Effect.gen(function* () {
        const result = yield* heapRun<{
          added: number
          purged: number
          heapAfterFirstBatch: number
          heapAfterLastPurge: number
          millis: number
        }>("tasks")
        console.log(
          `1M tasks: heap after the first batch ${mb(result.heapAfterFirstBatch)}, after the last purge ` +
            `${mb(result.heapAfterLastPurge)}, ${result.millis} ms`
        )
        assert.strictEqual(result.added, 1_000_000)
        assert.strictEqual(result.purged, 1_000_000)
        assert.isBelow(result.heapAfterLastPurge, result.heapAfterFirstBatch * 1.1)
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )

  it.live(
    "100,000 event waiters started and interrupted leave no heap behind (within 10%)",
    () =>
      Effect.gen(function* () {
        const result = yield* heapRun<{ waiters: number; heapBefore: number; heapAfter: number; millis: number }>(
          "waiters"
        )
        console.log(
          `100k waiters: heap before ${mb(result.heapBefore)}, after ${mb(result.heapAfter)}, ${result.millis} ms`
        )
        assert.strictEqual(result.waiters, 100_000)
        assert.isBelow(result.heapAfter, result.heapBefore * 1.1)
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})

const tcpSockets = () => process.getActiveResourcesInfo().filter((resource) => resource === "TCPSocketWrap").length

interface FeedClient {
  readonly ws: WsClient
  readonly received: Array<string>
  readonly ready: Promise<void>
  readonly closed: Promise<void>
}

const feedClient = (url: string): FeedClient => {
  const ws = new WsClient(url)
  const received: Array<string> = []
  let onReady!: () => void
  let onClosed!: () => void
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const closed = new Promise<void>((resolve) => (onClosed = resolve))
  ws.on("message", (data) => {
    const text = data.toString()
    if (text === "ready") onReady()
    else received.push(text)
  })
  ws.on("error", () => {})
  ws.on("close", () => onClosed())
  return { ws, received, ready, closed }
}

describe("websockets", () => {
  it.live(
    "1,000 websockets, each with its receiver task, 10 dispatches each: after they close no task and no socket is left",
    () =>
      Effect.gen(function* () {
        const connections = 1_000
        const dispatches = 10
        let open = 0
        let receivedByServer = 0
        const feed = WebSocket.route("/feed", (ws) =>
          Effect.gen(function* () {
            const app = yield* App.App
            const name = `receiver:${ws.id}`
            open++
            yield* Effect.addFinalizer(() =>
              Effect.zipRight(Effect.ignore(app.cancelTask(name)), app.purgeTasks).pipe(
                Effect.ensuring(Effect.sync(() => open--))
              )
            )
            yield* app.addTask(
              Stream.runForEach(ws.messages, () => Effect.sync(() => receivedByServer++)),
              { name }
            )
            // A handler per connection: unlike a waiter, it misses no dispatch while a message is being sent.
            yield* Effect.acquireRelease(
              app.signal("load.feed.message", (context) => Effect.ignore(ws.send(`message ${context.n}`))),
              (remove) => remove
            )
            yield* ws.send("ready")
            yield* ws.closed
          }).pipe(Effect.scoped)
        )
        const socketsBefore = tcpSockets()
        const scope = yield* Scope.make()
        const app = yield* Scope.extend(App.make({ name: "load", gracefulShutdownTimeout: "5 seconds" }), scope)
        const server = yield* Server.serve({ port: 0, routes: feed as Layer.Layer<never, never, any> }).pipe(
          Effect.provideService(App.App, app),
          Scope.extend(scope),
          Logger.withMinimumLogLevel(LogLevel.None)
        ) as Effect.Effect<Server.ServerService, Server.ServeError>
        const url = `${server.url.replace("http", "ws")}/feed`
        const started = Date.now()

        const clients: Array<FeedClient> = []
        for (let i = 0; i < connections; i += 100) {
          const batch = Array.from({ length: 100 }, () => feedClient(url))
          clients.push(...batch)
          yield* Effect.promise(() => Promise.all(batch.map((client) => client.ready)))
        }
        assert.strictEqual(open, connections)
        assert.strictEqual(hooksOf(app).unsafeTasks().length, connections)
        for (const client of clients) for (let i = 0; i < dispatches; i++) client.ws.send(`hello ${i}`)
        for (let n = 0; n < dispatches; n++) yield* app.dispatch("load.feed.message", { context: { n } })
        yield* eventually(
          Effect.sync(() => clients.filter((client) => client.received.length === dispatches).length),
          (done) => done === connections
        )
        const expected = Array.from({ length: dispatches }, (_, n) => `message ${n}`)
        // Each message exactly once; non-inline dispatches promise no order between them (as in Sanic).
        for (const client of clients) assert.deepStrictEqual([...client.received].sort(), expected)
        yield* eventually(
          Effect.sync(() => receivedByServer),
          (n) => n === connections * dispatches
        )
        assert.strictEqual(
          hooksOf(app)
            .unsafeTasks()
            .filter((task) => task.unsafeStatus() === "running").length,
          connections,
          "every receiver task is running"
        )

        // Half close properly, half vanish without a close frame.
        for (const [i, client] of clients.entries()) {
          if (i % 2 === 0) client.ws.close(1000)
          else client.ws.terminate()
        }
        yield* Effect.promise(() => Promise.all(clients.map((client) => client.closed)))
        yield* eventually(
          Effect.sync(() => ({
            open,
            tasks: hooksOf(app).unsafeTasks().length,
            sockets: tcpSockets() - socketsBefore
          })),
          (left) => left.open === 0 && left.tasks === 0 && left.sockets === 0
        )
        assert.isFalse(hooksOf(app).hasListeners("load.feed.message"), "every connection's handler was removed")
        console.log(
          `1,000 websockets: ${connections * dispatches} messages out, ${receivedByServer} in, ` +
            `${Date.now() - started} ms; tasks and sockets left: 0`
        )
        yield* Scope.close(scope, Exit.void)
      }),
    { timeout: 120_000 }
  )
})

interface Outcome {
  readonly at: number
  /** A full 200 response with the whole body. */
  readonly ok: boolean
  /** The response started (status line received) but did not arrive whole. */
  readonly cut: boolean
  readonly error?: string
}

const bodyBytes = 64 * 1024

/** One GET /work; what came back, classified. */
const work = (port: number, agent: Http.Agent | false, ms: number) =>
  Effect.async<Outcome>((resume) => {
    let headers = false
    let done = false
    const finish = (ok: boolean, error?: string) => {
      if (done) return
      done = true
      resume(Effect.succeed({ at: Date.now(), ok, cut: headers && !ok, ...(error !== undefined ? { error } : {}) }))
    }
    const request = Http.get({ host: "127.0.0.1", port, path: `/work?ms=${ms}`, agent }, (response) => {
      headers = true
      let length = 0
      let clean = true
      response.on("data", (chunk: Buffer) => {
        length += chunk.length
        if (chunk.some((byte) => byte !== 120)) clean = false
      })
      response.on("end", () => {
        const ok = response.statusCode === 200 && length === bodyBytes && clean
        finish(ok, ok ? undefined : `status ${response.statusCode}, ${length} bytes`)
      })
      response.on("error", (error) => finish(false, error.message))
      response.on("close", () => finish(false, `closed after ${length} bytes`))
    })
    request.on("error", (error) => finish(false, error.message))
    request.setTimeout(20_000, () => request.destroy(new Error("timed out")))
    return Effect.sync(() => request.destroy())
  })

describe("shutdown under load", () => {
  it.live(
    "SIGTERM during a steady HTTP load: every request accepted before the stop gets its full response",
    () =>
      Effect.gen(function* () {
        const { child, url } = yield* serveFixture({ GRACE: "10000", BODY_BYTES: String(bodyBytes) })
        const port = Number(new URL(url).port)
        const outcomes: Array<Outcome> = []
        const warmedUp = yield* Deferred.make<void>()
        let signalledAt = Number.POSITIVE_INFINITY
        // Half the clients keep their connections alive, half open one per request.
        const keepAlive = new Http.Agent({ keepAlive: true, maxSockets: 6 })
        yield* Effect.addFinalizer(() => Effect.sync(() => keepAlive.destroy()))
        const client = (agent: Http.Agent | false, seed: number) =>
          Effect.gen(function* () {
            for (let i = 0; ; i++) {
              const outcome = yield* work(port, agent, i % 10 === 0 ? 300 : (seed * 7 + i * 13) % 40)
              outcomes.push(outcome)
              if (outcomes.length >= 300) yield* Deferred.succeed(warmedUp, undefined)
              if (outcome.ok) continue
              // After the signal, a refused or reset connection is how the stop shows; before it, nothing may fail.
              if (outcome.at >= signalledAt) return
              return yield* Effect.dieMessage(`a request failed before the signal: ${outcome.error}`)
            }
          })
        const clients = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => Effect.fork(client(i % 2 === 0 ? keepAlive : false, i))
        )
        yield* Deferred.await(warmedUp)
        signalledAt = Date.now()
        yield* child.kill("SIGTERM")
        const exit = yield* child.exit.pipe(Effect.timeout("30 seconds"))
        yield* Fiber.joinAll(clients).pipe(Effect.timeout("30 seconds"))

        assert.strictEqual(exit.code, 0, child.output())
        const [stats] = jsonLines<{ accepted: number; completed: number }>(child.output(), "stats")
        const full = outcomes.filter((outcome) => outcome.ok)
        const cut = outcomes.filter((outcome) => outcome.cut)
        const afterSignal = full.filter((outcome) => outcome.at >= signalledAt)
        console.log(
          `SIGTERM under load: ${full.length} full responses (${afterSignal.length} finished after the signal), ` +
            `${cut.length} cut, server accepted ${stats!.accepted} and completed ${stats!.completed}; ` +
            `exit ${exit.at - signalledAt} ms after the signal`
        )
        assert.deepStrictEqual(cut, [])
        assert.strictEqual(stats!.accepted, stats!.completed)
        assert.strictEqual(full.length, stats!.accepted, "every accepted request was answered in full")
        assert.isAbove(afterSignal.length, 0, "requests were in flight when the signal came")
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})
