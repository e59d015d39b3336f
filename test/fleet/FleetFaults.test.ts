import * as Net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually, feed, freshDatabase, type Machine, query, spawnMachine } from "../fixtures/fleet-harness.js"
import { request } from "../fixtures/workers-harness.js"
import { freePort } from "../utils.js"

/** A TCP proxy to the database that the test can cut and restore, as a database going away and coming back. */
const proxy = (target: URL) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const sockets = new Set<Net.Socket>()
    let server: Net.Server | undefined
    const open = Effect.async<void>((resume) => {
      server = Net.createServer((client) => {
        const upstream = Net.connect(Number(target.port || 5432), target.hostname)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {})
        }
        client.pipe(upstream).pipe(client)
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(port, "127.0.0.1", () => resume(Effect.void))
    })
    const cut = Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server!.close(() => resume(Effect.void))
    })
    yield* open
    yield* Effect.addFinalizer(() => Effect.sync(() => server?.close()))
    const url = new URL(target.href)
    url.port = String(port)
    return { url: url.href, cut, restore: open }
  })

const status = (machine: Machine, path: string) =>
  Effect.map(
    Effect.orElseSucceed(request(machine.inspectorPort, path), () => ({ status: 0, body: "" })),
    (response) => response
  )

describe("a fleet whose database goes away", () => {
  it.live(
    "a machine keeps serving its own events; fleet features report the error, and resume when the database is back",
    () =>
      Effect.gen(function* () {
        const database = yield* freshDatabase
        const link = yield* proxy(new URL(database))
        const a = yield* spawnMachine(link.url, "machine-a", { WORKERS: "1" })
        const b = yield* spawnMachine(database, "machine-b", { WORKERS: "1" })
        const detail = () => `--- a:\n${a.output().slice(-3000)}\n--- b:\n${b.output().slice(-3000)}`
        yield* eventually(
          "both machines up",
          Effect.map(status(a, "/fleet"), (response) =>
            response.status === 200 &&
            (JSON.parse(response.body).machines as ReadonlyArray<{ state: string }>).filter((m) => m.state === "up")
              .length === 2
              ? true
              : undefined
          ),
          "120 seconds",
          detail
        )
        const onA = yield* feed(a)

        yield* link.cut
        // Local events still flow on machine a, through its own server.
        const before = onA.received()
        yield* eventually(
          "a local dispatch on machine a to reach its websocket",
          Effect.zipRight(
            request(a.port, "/notify", { method: "POST" }),
            Effect.sync(() => (onA.received() > before ? true : undefined))
          ),
          "10 seconds",
          detail
        )
        // The fleet's view says what is wrong instead of hanging.
        const down = yield* eventually(
          "/fleet on machine a to report the database",
          Effect.map(status(a, "/fleet"), (response) => (response.status === 503 ? response : undefined)),
          "20 seconds",
          detail
        )
        expect(JSON.parse(down.body).error).toMatch(/database .* is unavailable/)
        expect(a.child.exitCode).toBe(null)

        yield* link.restore
        // Back: machine b's dispatches reach machine a again, and a's view answers.
        const after = onA.received()
        yield* eventually(
          "machine b's dispatch to reach machine a after the database came back",
          Effect.zipRight(
            request(b.port, "/notify", { method: "POST" }),
            Effect.sync(() => (onA.received() > after ? true : undefined))
          ),
          "30 seconds",
          detail
        )
        yield* eventually(
          "/fleet on machine a to answer again",
          Effect.map(status(a, "/fleet"), (response) => (response.status === 200 ? true : undefined)),
          "20 seconds",
          detail
        )
        expect(a.output()).toContain("Fleet: notifications lost; retrying.")
        expect(a.output()).toContain("Fleet: notifications resumed")

        // Cancel from the other machine: its inspector carries the call to the host, and every copy ends.
        const host = yield* eventually(
          "the probe to run",
          Effect.map(
            query<{ machine: string | null; status: string }>(
              database,
              "SELECT machine, status FROM fiberapp_tasks WHERE name = 'probe'"
            ),
            (rows) => (rows[0]?.status === "running" ? rows[0].machine! : undefined)
          ),
          "30 seconds",
          detail
        )
        const other = host === "machine-a" ? b : a
        const cancelled = yield* request(other.inspectorPort, `/fleet/${host}/tasks/main/probe/cancel`, {
          method: "POST"
        })
        expect(cancelled.status, cancelled.body).toBe(200)
        yield* eventually(
          "the probe to be cancelled everywhere",
          Effect.gen(function* () {
            const [row] = yield* query<{ status: string }>(
              database,
              "SELECT status FROM fiberapp_tasks WHERE name = 'probe'"
            )
            const statuses = yield* Effect.forEach([a, b], (machine) =>
              Effect.map(
                request(machine.inspectorPort, "/tasks"),
                (response) =>
                  (JSON.parse(response.body).tasks as ReadonlyArray<{ name: string; status: string }>).find(
                    (task) => task.name === "probe"
                  )?.status
              )
            )
            return row?.status === "cancelled" && statuses.every((status) => status === "cancelled") ? true : undefined
          }),
          "20 seconds",
          detail
        )
        const unknown = yield* request(other.inspectorPort, "/fleet/no-such-machine/scale", {
          method: "POST",
          body: JSON.stringify({ replicas: 2 })
        })
        expect(unknown.status).toBe(404)
        expect(JSON.parse(unknown.body).error).toBe('No machine "no-such-machine" in the fleet.')
      }).pipe(Effect.scoped),
    300_000
  )
})

/** Starts a lone fleet machine with `env` and gives its exit code and output. */
const failedStart = (database: string, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const machine = yield* spawnMachine(database, "bad", { WORKERS: "1", ...env })
    const exit = yield* machine.exit
    return { code: exit.code, output: machine.output() }
  }).pipe(Effect.scoped)

const oneLine = (output: string) => {
  expect(output).toContain("ServeError: ")
  // The reason in one line, no stack trace.
  expect(output).not.toMatch(/^\s+at /m)
}

describe("bad fleet configuration fails the start with one ServeError line", () => {
  it.live(
    "an unreachable database",
    () =>
      Effect.gen(function* () {
        const closed = yield* freePort
        const { code, output } = yield* failedStart(`postgres://postgres@127.0.0.1:${closed}/test`)
        expect(code).toBe(1)
        oneLine(output)
        expect(output).toContain(
          `The fleet's database at 127.0.0.1:${closed}/test is unavailable: connect ECONNREFUSED`
        )
      }),
    60_000
  )

  it.live(
    "a bad database URL",
    () =>
      Effect.gen(function* () {
        const { code, output } = yield* failedStart("mysql://root@127.0.0.1/test")
        expect(code).toBe(1)
        oneLine(output)
        expect(output).toContain("Invalid fleet database URL: expected postgres://user@host:port/database.")
      }),
    60_000
  )

  it.live(
    "a runner port in use",
    () =>
      Effect.gen(function* () {
        const database = yield* freshDatabase
        const port = yield* freePort
        const holder = Net.createServer()
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void holder.listen(port, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.sync(() => holder.close())
        )
        const { code, output } = yield* failedStart(database, { FLEET_RUNNER_PORT: String(port) })
        expect(code).toBe(1)
        oneLine(output)
        expect(output).toContain(`The fleet's runner port ${port} on 127.0.0.1 is unavailable: listen EADDRINUSE`)
      }).pipe(Effect.scoped),
    60_000
  )
})
