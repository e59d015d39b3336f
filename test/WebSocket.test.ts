import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Layer, Logger, LogLevel, Ref, Schedule, Scope, Stream } from "effect"
import WsClient from "ws"
import { routes as feedRoutes } from "../examples/websocket-feed.js"
import * as App from "../src/App.js"
import * as Server from "../src/Server.js"
import * as WebSocket from "../src/WebSocket.js"

const serveIn = (
  scope: Scope.Scope,
  routes: Layer.Layer<never, never, any>,
  options: {
    readonly setup?: (app: App.AppService) => Effect.Effect<void, unknown>
    readonly websocket?: WebSocket.Options
  } = {}
) =>
  Effect.gen(function* () {
    const app = yield* App.make({ name: "test", gracefulShutdownTimeout: "5 seconds" })
    if (options.setup) yield* Effect.orDie(options.setup(app))
    const server = yield* Server.serve({ port: 0, routes, websocket: options.websocket }).pipe(
      Effect.provideService(App.App, app)
    ) as Effect.Effect<Server.ServerService, Server.ServeError, Scope.Scope>
    return { app, url: server.url, ws: server.url.replace("http", "ws") }
  }).pipe(Scope.extend(scope), Logger.withMinimumLogLevel(LogLevel.None))

interface Client {
  readonly ws: WsClient
  /** The next message, as text. */
  readonly next: Effect.Effect<string>
  readonly received: () => ReadonlyArray<string>
  /** Whether each received message was a binary frame. */
  readonly binary: () => ReadonlyArray<boolean>
  readonly closed: Effect.Effect<{ readonly code: number; readonly reason: string }>
}

const connect = (url: string, options?: WsClient.ClientOptions) =>
  Effect.acquireRelease(
    Effect.async<Client, Error>((resume) => {
      const ws = new WsClient(url, options)
      const received: Array<string> = []
      const binary: Array<boolean> = []
      let read = 0
      const wakers = new Set<() => void>()
      let closedWith: { code: number; reason: string } | undefined
      ws.on("message", (data, isBinary) => {
        received.push(data.toString())
        binary.push(isBinary)
        for (const wake of wakers) wake()
      })
      ws.on("close", (code, reason) => {
        closedWith = { code, reason: reason.toString() }
        for (const wake of wakers) wake()
      })
      const waitFor = <A>(ready: () => A | undefined) =>
        Effect.async<A>((resume) => {
          const check = () => {
            const value = ready()
            if (value !== undefined) {
              wakers.delete(check)
              resume(Effect.succeed(value))
            }
          }
          wakers.add(check)
          check()
          return Effect.sync(() => wakers.delete(check))
        })
      const client: Client = {
        ws,
        received: () => received,
        binary: () => binary,
        next: waitFor(() => (read < received.length ? received[read++] : undefined)),
        closed: waitFor(() => closedWith)
      }
      ws.once("open", () => resume(Effect.succeed(client)))
      ws.once("error", (error) => resume(Effect.fail(error)))
      ws.once("unexpected-response", (_request, response) =>
        resume(Effect.fail(new Error(`unexpected response ${response.statusCode}`)))
      )
    }),
    (client) => Effect.sync(() => client.ws.terminate())
  )

const fetchText = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.text() }
  })

const tasksOf = (url: string) =>
  Effect.map(
    fetchText(`${url}/tasks`),
    (response) => JSON.parse(response.body) as Array<{ readonly name: string; readonly status: string }>
  )

/** Polls `effect` every 20 ms until `done` holds, failing after 10 s. */
const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean): Effect.Effect<A> =>
  effect.pipe(
    Effect.filterOrFail(done, () => "not yet"),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("condition never held") }),
    Effect.orDie
  )

describe("websocket-feed example", () => {
  it.scopedLive("three notifications give three frames; closing cancels and purges the receiver", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url, ws } = yield* serveIn(scope, feedRoutes)
      const client = yield* connect(`${ws}/feed`)
      const receivers = yield* eventually(tasksOf(url), (tasks) => tasks.length === 1)
      assert.match(receivers[0]!.name, /^receiver:[0-9a-f-]{36}$/)
      assert.strictEqual(receivers[0]!.status, "running")
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* fetchText(`${url}/notify`, { method: "POST" })).status, 204)
        assert.strictEqual(yield* client.next, "A message")
      }
      assert.deepStrictEqual(client.received(), ["A message", "A message", "A message"])
      assert.deepStrictEqual(yield* tasksOf(url), receivers)
      client.ws.close(1000)
      yield* client.closed
      assert.deepStrictEqual(yield* eventually(tasksOf(url), (tasks) => tasks.length === 0), [])
    })
  )

  it.scopedLive("three back-to-back dispatches give three frames on /feed (app.events)", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url, ws } = yield* serveIn(scope, feedRoutes)
      const client = yield* connect(`${ws}/feed`)
      yield* eventually(tasksOf(url), (tasks) => tasks.length === 1)
      assert.strictEqual((yield* fetchText(`${url}/notify?times=3`, { method: "POST" })).status, 204)
      yield* eventually(
        Effect.sync(() => client.received().length),
        (count) => count === 3
      )
      assert.deepStrictEqual(client.received(), ["A message", "A message", "A message"])
    })
  )

  it.scopedLive(
    "200 clients connected at once all receive one dispatch",
    () =>
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        const { url, ws } = yield* serveIn(scope, feedRoutes)
        const clients = yield* Effect.forEach(Array.from({ length: 200 }), () => connect(`${ws}/feed`), {
          concurrency: 50
        })
        yield* eventually(tasksOf(url), (tasks) => tasks.filter((task) => task.status === "running").length === 200)
        assert.strictEqual((yield* fetchText(`${url}/notify`, { method: "POST" })).status, 204)
        const messages = yield* Effect.forEach(clients, (client) => client.next, { concurrency: "unbounded" }).pipe(
          Effect.timeoutFail({
            duration: "10 seconds",
            onTimeout: () => new Error("not every client got the message")
          }),
          Effect.orDie
        )
        assert.strictEqual(messages.length, 200)
        assert.isTrue(messages.every((message) => message === "A message"))
        assert.isTrue(clients.every((client) => client.received().length === 1))
      }),
    { timeout: 60_000 }
  )
})

describe("connection", () => {
  it.scopedLive("receive fails with WebSocketClosed carrying the peer's code and reason", () =>
    Effect.gen(function* () {
      const result = yield* Deferred.make<Either.Either<WebSocket.Message, WebSocket.WebSocketClosed>>()
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/read", (connection) =>
          Effect.flatMap(Effect.either(connection.receive), (either) => Deferred.succeed(result, either))
        )
      )
      const client = yield* connect(`${ws}/read`)
      client.ws.close(4001, "bye")
      const either = yield* Deferred.await(result)
      assert.isTrue(Either.isLeft(either))
      if (Either.isLeft(either)) {
        assert.instanceOf(either.left, WebSocket.WebSocketClosed)
        assert.strictEqual(either.left._tag, "WebSocketClosed")
        assert.deepStrictEqual([either.left.code, either.left.reason], [4001, "bye"])
        assert.strictEqual(either.left.message, "WebSocket closed with code 4001 (bye).")
      }
    })
  )

  it.scopedLive("a handler blocked elsewhere is interrupted when the peer goes away", () =>
    Effect.gen(function* () {
      const finalized = yield* Deferred.make<void>()
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/idle", () => Effect.never.pipe(Effect.ensuring(Deferred.succeed(finalized, void 0))))
      )
      const client = yield* connect(`${ws}/idle`)
      client.ws.close(1000)
      yield* Deferred.await(finalized)
    })
  )

  it.scopedLive("text and bytes round-trip; messages is a stream until close; the handler can close with a code", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/echo", (connection) =>
          connection.messages.pipe(
            Stream.take(2),
            Stream.runForEach((message) =>
              connection.send(typeof message === "string" ? `text:${message}` : new Uint8Array([...message, 0]))
            ),
            Effect.zipRight(connection.close(4000, "done"))
          )
        )
      )
      const client = yield* connect(`${ws}/echo`)
      client.ws.send(Buffer.from([1, 2, 3]))
      assert.strictEqual(yield* client.next, "\u0001\u0002\u0003\u0000")
      client.ws.send("hi")
      assert.strictEqual(yield* client.next, "text:hi")
      assert.deepStrictEqual(client.binary(), [true, false])
      assert.deepStrictEqual(yield* client.closed, { code: 4000, reason: "done" })
    })
  )

  it.scopedLive("the connection carries the request: id and headers", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/whoami", (connection) =>
          Effect.gen(function* () {
            const id = yield* Server.requestId
            yield* connection.send(
              JSON.stringify({ id: connection.id, same: id === connection.id, header: connection.headers["x-client"] })
            )
            yield* connection.receive
          })
        )
      )
      const client = yield* connect(`${ws}/whoami`, { headers: { "x-client": "probe" } })
      const answer = JSON.parse(yield* client.next)
      assert.match(answer.id, /^[0-9a-f-]{36}$/)
      assert.deepStrictEqual([answer.same, answer.header], [true, "probe"])
    })
  )

  it.scopedLive("closing the server closes websockets with 1001 and runs the handlers' finalizers", () =>
    Effect.gen(function* () {
      const finalized = yield* Ref.make(0)
      const scope = yield* Scope.make()
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/stay", () => Effect.never.pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1))))
      )
      const clients = yield* Effect.all([connect(`${ws}/stay`), connect(`${ws}/stay`)])
      yield* Scope.close(scope, Exit.void)
      const closes = yield* Effect.forEach(clients, (client) => client.closed)
      assert.deepStrictEqual(closes, [
        { code: 1001, reason: "Server shutting down" },
        { code: 1001, reason: "Server shutting down" }
      ])
      assert.strictEqual(yield* Ref.get(finalized), 2)
    })
  )

  it.scopedLive("a plain GET to a websocket route gets 426; an upgrade to an unknown path gets 404", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url, ws } = yield* serveIn(
        scope,
        WebSocket.route("/feed", () => Effect.void)
      )
      assert.strictEqual((yield* fetchText(`${url}/feed`)).status, 426)
      const exit = yield* Effect.exit(connect(`${ws}/nowhere`))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "unexpected response 404")
    })
  )

  it.scopedLive("a message over maxMessageSize closes the connection with 1009", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/small", (connection) => Effect.forever(Effect.flatMap(connection.receive, connection.send))),
        { websocket: { maxMessageSize: 1024 } }
      )
      const client = yield* connect(`${ws}/small`)
      client.ws.send("x".repeat(1024))
      assert.strictEqual((yield* client.next).length, 1024)
      client.ws.send("x".repeat(1025))
      assert.strictEqual((yield* client.closed).code, 1009)
    })
  )

  it.scopedLive("send waits while more than maxBufferedBytes wait to be written", () =>
    Effect.gen(function* () {
      const count = 200
      const chunk = "x".repeat(64 * 1024)
      const allSent = yield* Deferred.make<void>()
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/flood", (connection) =>
          Effect.zipRight(
            Effect.repeatN(connection.send(chunk), count - 1),
            Effect.zipRight(Deferred.succeed(allSent, void 0), Effect.never)
          )
        ),
        { websocket: { maxBufferedBytes: 64 * 1024 } }
      )
      const client = yield* connect(`${ws}/flood`)
      client.ws.pause()
      // 12.5 MiB cannot all fit in the socket buffers: with a bounded buffer the sender must wait for the reader.
      const early = yield* Deferred.await(allSent).pipe(Effect.timeout("1 second"), Effect.option)
      assert.strictEqual(early._tag, "None")
      client.ws.resume()
      yield* Deferred.await(allSent)
      yield* eventually(
        Effect.sync(() => client.received().length),
        (n) => n === count
      )
    })
  )

  it.scopedLive("echoes of a burst leave in a few socket writes, in order, and a close after them comes last", () =>
    Effect.gen(function* () {
      const burst = 200
      let writes = 0
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/burst", (connection) =>
          Effect.gen(function* () {
            const socket = NodeHttpServerRequest.toIncomingMessage(connection.request).socket as unknown as {
              _write: (...args: Array<unknown>) => void
              _writev: (...args: Array<unknown>) => void
            }
            const write = socket._write.bind(socket)
            const writev = socket._writev.bind(socket)
            socket._write = (...args) => {
              writes++
              write(...args)
            }
            socket._writev = (...args) => {
              writes++
              writev(...args)
            }
            yield* connection.send("ready")
            for (let i = 0; i < burst; i++) yield* Effect.flatMap(connection.receive, connection.send)
            yield* connection.send(`writes ${writes}`)
            yield* connection.close(4000, "done")
          })
        )
      )
      const client = yield* connect(`${ws}/burst`)
      assert.strictEqual(yield* client.next, "ready")
      const raw = (client.ws as unknown as { _socket: { cork: () => void; uncork: () => void } })._socket
      raw.cork()
      for (let i = 0; i < burst; i++) client.ws.send(`m${i}`)
      raw.uncork()
      const closed = yield* client.closed
      const received = client.received()
      assert.deepStrictEqual(
        received.slice(1, burst + 1),
        Array.from({ length: burst }, (_, i) => `m${i}`)
      )
      assert.deepStrictEqual(closed, { code: 4000, reason: "done" })
      const counted = Number(received[burst + 1]!.split(" ")[1])
      assert.isBelow(counted, burst / 10, `${counted} writes for ${burst} echoes`)
    })
  )

  it.scopedLive("a peer that stops answering pings is dropped", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/ping", (connection) => connection.receive),
        { websocket: { pingInterval: "50 millis" } }
      )
      const silent = yield* connect(`${ws}/ping`, { autoPong: false })
      assert.strictEqual((yield* silent.closed).code, 1006)
    })
  )

  it.scopedLive("a healthy peer is kept while its messages wait for a handler that is not reading", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        WebSocket.route("/busy", () => Effect.never),
        { websocket: { pingInterval: "50 millis", maxQueuedMessages: 4 } }
      )
      const client = yield* connect(`${ws}/busy`)
      let pings = 0
      client.ws.on("ping", () => pings++)
      for (let i = 0; i < 10; i++) client.ws.send(`message ${i}`)
      // Reading paused on the server: pongs wait unread, and must not count as a dead peer.
      yield* eventually(
        Effect.sync(() => pings >= 5 || client.ws.readyState !== WsClient.OPEN),
        (done) => done
      )
      assert.strictEqual(client.ws.readyState, WsClient.OPEN, "the paused connection was dropped as dead")
    })
  )

  it.scopedLive("HttpServerRequest.upgrade gives the platform Socket, closed with 1001 when the server stops", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { ws } = yield* serveIn(
        scope,
        HttpLayerRouter.add(
          "GET",
          "/platform",
          Effect.gen(function* () {
            const request = yield* HttpServerRequest.HttpServerRequest
            const socket = yield* request.upgrade
            const write = yield* socket.writer
            yield* socket.runRaw((message) => write(`platform:${String(message)}`))
            return HttpServerResponse.empty()
          }).pipe(Effect.orDie)
        )
      )
      const client = yield* connect(`${ws}/platform`)
      client.ws.send("hello")
      assert.strictEqual(yield* client.next, "platform:hello")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* client.closed).code, 1001)
    })
  )
})

describe("events", () => {
  it.scopedLive("websocket.handler.before/after/exception are dispatched around handlers", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const scope = yield* Effect.scope
      const { ws } = yield* serveIn(
        scope,
        Layer.mergeAll(
          WebSocket.route("/ok", (connection) => connection.send("hi")),
          WebSocket.route("/fail", () => Effect.fail("broken"))
        ),
        {
          setup: (app) =>
            Effect.gen(function* () {
              for (const event of ["before", "after", "exception"]) {
                yield* app.signal(`websocket.handler.${event}`, (context) =>
                  Effect.sync(() => seen.push(`${event} ${(context.request as { url: string }).url}`))
                )
              }
            })
        }
      )
      const ok = yield* connect(`${ws}/ok`)
      assert.strictEqual(yield* ok.next, "hi")
      assert.strictEqual((yield* ok.closed).code, 1000)
      const failing = yield* connect(`${ws}/fail`)
      assert.strictEqual((yield* failing.closed).code, 1011)
      yield* eventually(
        Effect.sync(() => seen.length),
        (n) => n === 4
      )
      assert.deepStrictEqual(seen, ["before /ok", "after /ok", "before /fail", "exception /fail"])
    })
  )
})
