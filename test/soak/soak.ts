/**
 * The soak: a mixed workload against test/fixtures/reliability-app.ts served by 2 workers, for `seconds`.
 *
 * - HTTP: 4 clients on kept-alive connections and 2 opening one per request, back to back (`GET /work`).
 * - Tasks: a named task every 20 ms (`POST /task`, 50 ms each); the app's `purger` purges every second.
 * - Events: a `scope: "all"` dispatch every 100 ms (`POST /notify`), which every feed connection receives.
 * - Websockets: 20 feed clients, each connected for 1 to 3 s, then closing (every other one without a close frame)
 *   and connecting again.
 * - Faults: one worker killed with SIGKILL in the middle of every `killEvery` (a minute in the full run), in turn.
 *
 * A failure of a request or connection that was in flight at a kill, or started in the two seconds after it, is the
 * kill's (it was on the killed worker, or handed to it as it died: Node's cluster then leaves the connection open
 * until the client gives up); any other is unexpected. At the end the load stops, every worker must be back to its `purger` task and
 * no websocket, and SIGTERM must stop everything with exit code 0.
 */
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import type { Scope } from "effect"
import { Duration, Effect, Fiber, Schedule } from "effect"
import WsClient from "ws"
import { freePort, isAlive } from "../fixtures/workers-harness.js"
import { serveFixture } from "../reliability/harness.js"

export interface SoakOptions {
  readonly seconds: number
  /** Defaults to a minute, or half the run when that is shorter. */
  readonly killEvery?: Duration.DurationInput | undefined
  readonly log?: ((line: string) => void) | undefined
}

export interface SoakReport {
  readonly seconds: number
  readonly requests: number
  readonly requestsPerSecond: number
  readonly errors: number
  readonly errorsDuringKills: number
  readonly unexpectedErrors: ReadonlyArray<string>
  readonly tasksAdded: number
  readonly dispatches: number
  readonly websocketConnections: number
  readonly websocketMessages: number
  readonly websocketsDroppedByKills: number
  readonly kills: number
  readonly restarts: number
  /** Per kill: from the SIGKILL until the worker table shows the replacement serving. */
  readonly recoveryMillis: ReadonlyArray<number>
  /** Primary and workers together, in bytes. */
  readonly peakRss: number
  readonly finalRss: number
  /** The primary's own RSS when the load starts and after it ends: the one process that lives through every kill. */
  readonly primaryRss: readonly [number, number]
  /** Each worker's heap after a full GC: when the load starts (first seen) and after it ends. */
  readonly workerHeapStart: number
  readonly workerHeapEnd: ReadonlyArray<{ readonly pid: number; readonly heapUsed: number; readonly tasks: number }>
  readonly shutdownMillis: number
  readonly exitCode: number | null
  readonly processesLeft: number
}

interface WorkerRow {
  readonly name: string
  readonly pid: number
  readonly state: string
  readonly restarts: number
}

interface Stats {
  readonly pid: number
  readonly tasks: number
  readonly websockets: number
  readonly memory: NodeJS.MemoryUsage
}

const apiKey = "soak-inspector-key"

/** One HTTP request; its status and body, or an error. Never fails. */
const call = (port: number, method: string, path: string, agent: Http.Agent | false, headers = {}) =>
  Effect.async<{ readonly status: number; readonly body: string } | { readonly error: string }>((resume) => {
    const request = Http.request({ host: "127.0.0.1", port, method, path, agent, headers }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => (body += chunk))
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode!, body })))
      response.on("error", (error) => resume(Effect.succeed({ error: error.message })))
    })
    request.on("error", (error) => resume(Effect.succeed({ error: error.message })))
    request.setTimeout(15_000, () => request.destroy(new Error("timed out after 15 s")))
    request.end()
    return Effect.sync(() => request.destroy())
  })

const rssOf = (pid: number): number => {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

export const soak = (options: SoakOptions): Effect.Effect<SoakReport, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? (() => {})
    const runMillis = options.seconds * 1000
    const killEvery = Duration.toMillis(options.killEvery ?? Math.min(60_000, runMillis / 2))
    const inspectorPort = yield* freePort
    const { child, url, ws } = yield* serveFixture(
      {
        WORKERS: "2",
        GRACE: "5000",
        BODY_BYTES: "1024",
        PURGE_MS: "1000",
        INSPECTOR: "true",
        INSPECTOR_PORT: String(inspectorPort),
        INSPECTOR_API_KEY: apiKey
      },
      ["--expose-gc"]
    )
    const port = Number(new URL(url).port)
    const started = Date.now()
    const deadline = started + runMillis
    const running = () => Date.now() < deadline

    const counts = {
      requests: 0,
      errors: 0,
      tasksAdded: 0,
      dispatches: 0,
      websocketConnections: 0,
      websocketMessages: 0,
      websocketsDroppedByKills: 0
    }
    const kills: Array<number> = []
    const failures: Array<{ readonly since: number; readonly at: number; readonly what: string }> = []
    /** Whether something that ran from `since` until now was in flight at a kill, or started just after one. */
    const byKill = (since: number, at: number) => kills.some((kill) => since <= kill + 2_000 && at >= kill - 100)
    const fail = (since: number, what: string) => {
      counts.errors++
      failures.push({ since, at: Date.now(), what })
    }

    const inspector = (path: string) =>
      Effect.flatMap(
        call(inspectorPort, "GET", path, false, { authorization: `Bearer ${apiKey}` }),
        (answer): Effect.Effect<any, Error> =>
          "error" in answer || answer.status !== 200
            ? Effect.fail(new Error(`inspector ${path}: ${JSON.stringify(answer)}`))
            : Effect.succeed(JSON.parse(answer.body))
      )
    const table = Effect.map(inspector("/"), (root) => ({
      rss: root.memory as number,
      workers: root.workers as ReadonlyArray<WorkerRow>
    }))

    /** Stats of every worker, by asking on fresh connections until each has answered. */
    const everyWorker = (gc: boolean) =>
      Effect.gen(function* () {
        const pids = new Set((yield* table).workers.map((w) => w.pid))
        const seen = new Map<number, Stats>()
        for (let attempt = 0; attempt < 50 && seen.size < pids.size; attempt++) {
          const answer = yield* call(port, "GET", `/stats${gc ? "?gc=1" : ""}`, false)
          if ("error" in answer || answer.status !== 200) continue
          const stats = JSON.parse(answer.body) as Stats
          if (pids.has(stats.pid)) seen.set(stats.pid, stats)
        }
        return Array.from(seen.values())
      })

    const workerHeapStart = Math.max(...(yield* everyWorker(true)).map((s) => s.memory.heapUsed))
    const primaryRssStart = (yield* table).rss
    log(`serving on ${url} with 2 workers; load for ${options.seconds} s, a worker killed every ${killEvery} ms`)

    const keepAlive = new Http.Agent({ keepAlive: true, maxSockets: 4 })
    yield* Effect.addFinalizer(() => Effect.sync(() => keepAlive.destroy()))
    const httpClient = (agent: Http.Agent | false) =>
      Effect.gen(function* () {
        for (let i = 0; running(); i++) {
          const since = Date.now()
          const answer = yield* call(port, "GET", `/work?ms=${i % 6}`, agent)
          if ("error" in answer) fail(since, `GET /work: ${answer.error}`)
          else if (answer.status !== 200 || answer.body.length !== 1024) fail(since, `GET /work: ${answer.status}`)
          else counts.requests++
        }
      })
    const every = (millis: number, effect: Effect.Effect<void>) =>
      Effect.gen(function* () {
        while (running()) {
          yield* effect
          yield* Effect.sleep(millis)
        }
      })
    const post = (path: string, expected: number, counted: keyof typeof counts) =>
      Effect.suspend(() => {
        const since = Date.now()
        return Effect.map(call(port, "POST", path, keepAlive), (answer) => {
          if ("error" in answer) fail(since, `POST ${path}: ${answer.error}`)
          else if (answer.status !== expected) fail(since, `POST ${path}: status ${answer.status}`)
          else counts[counted]++
        })
      })

    const websocketClient = (index: number) =>
      Effect.gen(function* () {
        for (let round = 0; running(); round++) {
          const since = Date.now()
          const outcome = yield* Effect.async<string | undefined>((resume) => {
            const socket = new WsClient(`${ws}/feed`)
            let opened = false
            let closing = false
            const hold = 1_000 + ((index * 379 + round * 997) % 2_000)
            // A connection node:cluster handed to a worker as it was killed is never answered: give up on it.
            const unanswered = setTimeout(() => socket.terminate(), 10_000)
            socket.on("open", () => {
              clearTimeout(unanswered)
              opened = true
              counts.websocketConnections++
              setTimeout(() => {
                closing = true
                if (round % 2 === 0) socket.close(1000)
                else socket.terminate()
              }, hold)
            })
            socket.on("message", () => counts.websocketMessages++)
            socket.on("error", () => {})
            socket.on("close", (code) => {
              clearTimeout(unanswered)
              if (closing) resume(Effect.succeed(undefined))
              else resume(Effect.succeed(opened ? `websocket dropped with ${code}` : "websocket did not open"))
            })
            return Effect.sync(() => {
              clearTimeout(unanswered)
              socket.terminate()
            })
          })
          if (outcome !== undefined) {
            if (byKill(since, Date.now())) counts.websocketsDroppedByKills++
            else fail(since, outcome)
          }
        }
      })

    let peakRss = 0
    const sampleMemory = Effect.gen(function* () {
      const { rss, workers } = yield* table
      const total = rss + workers.reduce((sum, w) => sum + (w.pid === undefined ? 0 : rssOf(w.pid)), 0)
      peakRss = Math.max(peakRss, total)
      return total
    }).pipe(Effect.catchAll(() => Effect.succeed(0)))

    const recoveryMillis: Array<number> = []
    const killer = Effect.gen(function* () {
      for (let n = 0; ; n++) {
        yield* Effect.sleep(n === 0 ? killEvery / 2 : killEvery)
        if (Date.now() + 3_000 > deadline) return
        const name = `worker-${n % 2}`
        const victim = (yield* table).workers.find((w) => w.name === name)!
        const at = Date.now()
        kills.push(at)
        process.kill(victim.pid, "SIGKILL")
        const replacement = yield* table.pipe(
          Effect.map((t) => t.workers.find((w) => w.name === name)),
          Effect.filterOrFail(
            (w) => w !== undefined && w.pid !== victim.pid && w.state === "serving",
            () => new Error(`${name} not serving again`)
          ),
          Effect.retry(Schedule.spaced("50 millis")),
          Effect.timeout("30 seconds")
        )
        recoveryMillis.push(Date.now() - at)
        log(`killed ${name} (pid ${victim.pid}); pid ${replacement!.pid} serving after ${Date.now() - at} ms`)
      }
    }).pipe(Effect.catchAll((error) => Effect.sync(() => fail(Date.now(), `killer: ${error.message}`))))

    const reporter = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep("1 second")
        const rss = yield* sampleMemory
        const elapsed = Math.round((Date.now() - started) / 1000)
        if (elapsed % 10 === 0) {
          log(
            `${elapsed} s: ${counts.requests} requests, ${counts.errors} errors, ` +
              `${counts.websocketMessages} websocket messages, rss ${(rss / 1024 / 1024).toFixed(0)} MB`
          )
        }
      }
    })

    const load = [
      ...Array.from({ length: 4 }, () => httpClient(keepAlive)),
      ...Array.from({ length: 2 }, () => httpClient(false)),
      every(20, post("/task?ms=50", 201, "tasksAdded")),
      every(100, post("/notify", 204, "dispatches")),
      ...Array.from({ length: 20 }, (_, i) => websocketClient(i))
    ]
    const background = yield* Effect.forkScoped(Effect.all([killer, reporter], { concurrency: "unbounded" }))
    yield* Effect.all(load, { concurrency: "unbounded", discard: true })
    yield* Fiber.interrupt(background)
    const elapsed = (Date.now() - started) / 1000

    // The load has stopped: every worker must be back to its purger task and no websocket.
    const settled = yield* everyWorker(true).pipe(
      Effect.filterOrFail(
        (all) => all.length === 2 && all.every((s) => s.tasks === 1 && s.websockets === 0),
        (all) => new Error(`workers did not settle: ${JSON.stringify(all.map(({ memory: _, ...s }) => s))}`)
      ),
      Effect.retry(Schedule.spaced("200 millis")),
      Effect.timeout("30 seconds")
    )
    const finalRss = yield* sampleMemory
    const { rss: primaryRssEnd, workers } = yield* table
    const restarts = workers.reduce((sum, w) => sum + w.restarts, 0)
    const pids = [child.pid, ...Array.from(child.output().matchAll(/listening \S+ \S+ (\d+)/g), (m) => Number(m[1]))]

    const signalledAt = Date.now()
    yield* child.kill("SIGTERM")
    const exit = yield* child.exit.pipe(Effect.timeout("60 seconds"))
    const unexpected = failures.filter((f) => !byKill(f.since, f.at))

    return {
      seconds: Math.round(elapsed),
      requests: counts.requests,
      requestsPerSecond: Math.round(counts.requests / elapsed),
      errors: counts.errors,
      errorsDuringKills: counts.errors - unexpected.length,
      unexpectedErrors: unexpected.map((f) => `${new Date(f.at).toISOString()} ${f.what}`),
      tasksAdded: counts.tasksAdded,
      dispatches: counts.dispatches,
      websocketConnections: counts.websocketConnections,
      websocketMessages: counts.websocketMessages,
      websocketsDroppedByKills: counts.websocketsDroppedByKills,
      kills: kills.length,
      restarts,
      recoveryMillis,
      peakRss,
      finalRss,
      primaryRss: [primaryRssStart, primaryRssEnd],
      workerHeapStart,
      workerHeapEnd: settled.map((s) => ({ pid: s.pid, heapUsed: s.memory.heapUsed, tasks: s.tasks })),
      shutdownMillis: exit.at - signalledAt,
      exitCode: exit.code,
      processesLeft: pids.filter(isAlive).length
    }
  })

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/** The report as the lines `npm run soak` prints. */
export const format = (report: SoakReport): ReadonlyArray<string> => [
  `duration: ${report.seconds} s, 2 workers, ${report.kills} killed with SIGKILL`,
  `requests served: ${report.requests} (${report.requestsPerSecond}/s)`,
  `errors: ${report.errors} (${report.errorsDuringKills} in flight at a kill, ${report.unexpectedErrors.length} otherwise)`,
  `restarts: ${report.restarts}; back to serving after ${report.recoveryMillis.map((ms) => `${ms} ms`).join(", ") || "-"}`,
  `tasks added: ${report.tasksAdded}; dispatches: ${report.dispatches}`,
  `websockets: ${report.websocketConnections} connections, ${report.websocketMessages} messages received, ` +
    `${report.websocketsDroppedByKills} dropped by kills`,
  `memory (primary + workers, RSS): peak ${mb(report.peakRss)}, final ${mb(report.finalRss)}; ` +
    `primary alone ${mb(report.primaryRss[0])} at the start, ${mb(report.primaryRss[1])} at the end`,
  `worker heap after GC: ${mb(report.workerHeapStart)} at the start, ` +
    `${report.workerHeapEnd.map((w) => `${mb(w.heapUsed)} (pid ${w.pid}, ${w.tasks} task)`).join(", ")} at the end`,
  `shutdown: exit code ${report.exitCode} ${report.shutdownMillis} ms after SIGTERM; processes left: ${report.processesLeft}`,
  ...report.unexpectedErrors.slice(0, 20).map((line) => `unexpected: ${line}`)
]
