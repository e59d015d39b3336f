/**
 * The baseline of the fleet's events: a plain node process with `pg` and nothing else, which `LISTEN`s on a channel
 * (one connection) and sends with `SELECT pg_notify(...)` (a pool of 4 connections, as fiberapp's), with the same
 * HTTP interface as `fleet-fiberapp.ts` (`POST /send`, `GET /received`; see there) and a message of the same shape
 * as a fleet's. Its own messages come back to it and are skipped, as a fleet machine skips its own.
 *
 * Env: `DATABASE_URL`, `FLEET_MACHINE` (its name), `PORT`.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import Pg from "pg"
import { percentile } from "../lib/fleet-stats.js"
import { announce, host, port } from "../lib/server.js"

const database = process.env.DATABASE_URL!
const machine = process.env.FLEET_MACHINE ?? `raw-${process.pid}`
const channel = "bench_raw"

const clock = (): number => performance.timeOrigin + performance.now()

interface Run {
  readonly latencies: Array<number>
  firstSent: number
  lastReceived: number
  waiter: { readonly count: number; readonly done: () => void } | undefined
}

const runs = new Map<string, Run>()
const runOf = (name: string): Run => {
  let run = runs.get(name)
  if (run === undefined) {
    run = { latencies: [], firstSent: Number.POSITIVE_INFINITY, lastReceived: 0, waiter: undefined }
    runs.set(name, run)
  }
  return run
}

const pool = new Pg.Pool({ connectionString: database, max: 4 })
const listener = new Pg.Client({ connectionString: database })
listener.on("notification", (notification) => {
  if (notification.channel !== channel || notification.payload === undefined) return
  const received = clock()
  const message = JSON.parse(notification.payload) as { from: string; context: { run: string; t: number } }
  if (message.from === machine) return
  const run = runOf(message.context.run)
  run.latencies.push(received - message.context.t)
  run.firstSent = Math.min(run.firstSent, message.context.t)
  run.lastReceived = Math.max(run.lastReceived, received)
  if (run.waiter !== undefined && run.latencies.length >= run.waiter.count) run.waiter.done()
})
await listener.connect()
await listener.query(`LISTEN ${channel}`)

const notify = (run: string, i: number) =>
  pool.query("SELECT pg_notify($1, $2)", [
    channel,
    JSON.stringify({
      _tag: "event",
      from: machine,
      app: "bench-fleet",
      event: "bench.fleet.event",
      context: { run, i, t: clock() }
    })
  ])

const send = async (run: string, count: number, gap: number): Promise<void> => {
  const sent: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    if (gap > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, gap))
    sent.push(notify(run, i))
  }
  await Promise.all(sent)
}

const received = async (name: string, count: number, timeout: number) => {
  const run = runOf(name)
  if (run.latencies.length < count) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeout)
      run.waiter = {
        count,
        done: () => {
          clearTimeout(timer)
          resolve()
        }
      }
    })
    run.waiter = undefined
  }
  return {
    count: run.latencies.length,
    p50: percentile(run.latencies, 0.5),
    p99: percentile(run.latencies, 0.99),
    firstSent: run.firstSent,
    lastReceived: run.lastReceived
  }
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost")
  const search = url.searchParams
  const answer = (body: unknown) => {
    response.writeHead(200, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  }
  const run = search.get("run") ?? "run"
  const count = Number(search.get("count") ?? 1)
  const work =
    request.method === "POST" && url.pathname === "/send"
      ? send(run, count, Number(search.get("gap") ?? 0)).then(() => ({ sent: count }))
      : request.method === "GET" && url.pathname === "/received"
        ? received(run, count, Number(search.get("timeout") ?? 10_000))
        : undefined
  if (work === undefined) {
    response.writeHead(404)
    response.end()
    return
  }
  work.then(answer, (error: unknown) => {
    response.writeHead(500)
    response.end(String(error))
  })
})

const stop = () => {
  server.close()
  Promise.allSettled([listener.end(), pool.end()]).then(() => process.exit(0))
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
server.listen(port(), host, () => announce((server.address() as AddressInfo).port))
