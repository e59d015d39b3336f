/**
 * What the benchmark measures: the cases (one fresh process each per repetition) and the targets
 * (ratios between cases of the same run, or absolute figures).
 */
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { runnable } from "./lib/bundle.js"
import { dispatchCase, eventsCase, failoverCase } from "./lib/fleet-cases.js"
import type { Unit } from "./lib/format.js"
import type { Result } from "./lib/measure.js"
import { childrenOf, cpuMsOf, root, rssOf, runNode, SkipCase, startServer } from "./lib/proc.js"

export type Group = "tasks" | "events" | "http" | "ws" | "workers" | "startup" | "fleet"

export const groups: ReadonlyArray<Group> = ["tasks", "events", "http", "ws", "workers", "startup", "fleet"]

export interface Case {
  readonly id: string
  readonly group: Group
  readonly run: () => Promise<Result>
  /** At most this many repetitions of the case, whatever the group's: for cases that take their own medians. */
  readonly reps?: number
}

export interface Metric {
  readonly case: string
  readonly metric: string
}

export interface Target {
  readonly group: Group
  readonly title: string
  readonly subject: Metric
  /** Absent for absolute targets. */
  readonly baseline?: Metric
  readonly unit: Unit
  /** `higher`: subject / baseline (or the absolute value) must reach `goal`; `lower`: must stay at or under it. */
  readonly better: "higher" | "lower"
  /** Absent for rows printed for reference only. */
  readonly goal?: number
  readonly note?: string
}

export const http = { connections: 50, warmupSeconds: 1, seconds: 5 }
export const wsCounts = { roundTrips: 20_000, pipelined: 100_000 }

const script = (path: string): string => join(root, path)

/** A case whose script is missing is skipped: the fiberapp module it measures has not landed yet. */
const ensureScript = (path: string): string => {
  if (!existsSync(script(path))) throw new SkipCase(`not yet available (${path} not written)`)
  return script(path)
}

const nodeCase = (
  id: string,
  group: Group,
  path: string,
  args: ReadonlyArray<string> = [],
  options: { readonly exposeGc?: boolean } = {}
): Case => ({ id, group, run: () => runNode(ensureScript(path), args, options) })

const probe = async (url: string, status: number, body?: string): Promise<void> => {
  const response = await fetch(url)
  const text = await response.text()
  if (response.status !== status || (body !== undefined && text !== body)) {
    throw new Error(`${url} answered ${response.status} ${JSON.stringify(text.slice(0, 80))}, expected ${status}`)
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

const httpCase = (
  id: string,
  path: string,
  expect: { readonly path: string; readonly status: number; readonly body?: string },
  env: Record<string, string> = {}
): Case => ({
  id,
  group: "http",
  run: async () => {
    const server = await startServer(await runnable(ensureScript(path)), { env })
    try {
      const idleRss = rssOf(server.pid)
      const url = `http://127.0.0.1:${server.port}${expect.path}`
      await probe(url, expect.status, expect.body)
      const cpuBefore = cpuMsOf(server.pid)
      const result = await runNode(
        script("bench/load/http.ts"),
        [url, String(http.connections), String(http.warmupSeconds), String(http.seconds)],
        { timeoutMs: 60_000 }
      )
      const serverCpuMs = cpuMsOf(server.pid) - cpuBefore
      if (result.statuses !== String(expect.status)) throw new Error(`${id}: answered ${String(result.statuses)}`)
      return {
        ...result,
        serverCpuUsPerRequest: (serverCpuMs * 1000) / Number(result.totalRequests),
        idleRss,
        loadedRss: rssOf(server.pid)
      }
    } finally {
      await server.stop()
    }
  }
})

const wsCase = (id: string, path: string): Case => ({
  id,
  group: "ws",
  run: async () => {
    const server = await startServer(await runnable(ensureScript(path)))
    try {
      const cpuBefore = cpuMsOf(server.pid)
      const result = await runNode(
        script("bench/load/ws.ts"),
        [`ws://127.0.0.1:${server.port}/ws`, String(wsCounts.roundTrips), String(wsCounts.pipelined)],
        { timeoutMs: 60_000 }
      )
      const serverCpuMs = cpuMsOf(server.pid) - cpuBefore
      return { ...result, serverCpuUsPerMessage: (serverCpuMs * 1000) / Number(result.totalMessages) }
    } finally {
      await server.stop()
    }
  }
})

const isNode = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node")
  } catch {
    return false
  }
}

/** The server processes: the primary's node children when it forks workers, else the process itself. */
const serverProcesses = async (pid: number, workers: number): Promise<Array<number>> => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const children = childrenOf(pid).filter(isNode)
    if (children.length >= workers) return children
    if (workers === 1 && attempt >= 10) return [pid]
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`expected ${workers} worker processes under ${pid}`)
}

let workersSupport: Promise<string | undefined> | undefined

/** Whether `Server.layer({ workers: 2 })` serves; the reason it does not, if not. Asked once per run. */
const workersUnsupported = (): Promise<string | undefined> =>
  (workersSupport ??= (async () => {
    const port = await freePort()
    try {
      const server = await startServer(await runnable(ensureScript("bench/servers/http-fiberapp.ts")), {
        env: { PORT: String(port), WORKERS: "2" }
      })
      await server.stop()
      return undefined
    } catch (error) {
      if (error instanceof SkipCase) return error.message
      throw error
    }
  })())

/**
 * fiberapp's server with `workers` server processes, hello world; the idle RSS of a worker is read before the
 * load. autocannon runs on the same 2 cores, so 2 workers compete with it for CPU.
 */
const workersCase = (workers: number): Case => ({
  id: `workers.${workers}`,
  group: "workers",
  run: async () => {
    const unsupported = await workersUnsupported()
    if (unsupported !== undefined) throw new SkipCase(unsupported)
    const port = await freePort()
    const server = await startServer(await runnable(ensureScript("bench/servers/http-fiberapp.ts")), {
      env: { PORT: String(port), WORKERS: String(workers) }
    })
    try {
      const url = `http://127.0.0.1:${server.port}/`
      await probe(url, 200, "Hello, World!")
      const pids = await serverProcesses(server.pid, workers)
      const idleWorkerRss = pids.map(rssOf).reduce((a, b) => a + b, 0) / pids.length
      const primaryRss = pids.includes(server.pid) ? 0 : rssOf(server.pid)
      const cpuOf = () => [server.pid, ...pids.filter((p) => p !== server.pid)].map(cpuMsOf).reduce((a, b) => a + b, 0)
      const cpuBefore = cpuOf()
      const result = await runNode(
        script("bench/load/http.ts"),
        [url, String(http.connections), String(http.warmupSeconds), String(http.seconds)],
        { timeoutMs: 60_000 }
      )
      const serverCpuMs = cpuOf() - cpuBefore
      return {
        ...result,
        workers: pids.length,
        idleWorkerRss,
        primaryRss,
        serverCpuUsPerRequest: (serverCpuMs * 1000) / Number(result.totalRequests)
      }
    } finally {
      await server.stop()
    }
  }
})

/** Polls `url` until it answers 200; the wall-clock milliseconds from `since` to that answer. */
const firstOk = async (url: string, since: number, timeoutMs: number): Promise<number> => {
  for (;;) {
    try {
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.status === 200) return performance.now() - since
    } catch {
      // not listening yet
    }
    if (performance.now() - since > timeoutMs) throw new Error(`${url}: no 200 within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Start to first 200: spawns a server (`tsx`: the TypeScript source under `node --import tsx`; `js`: built
 * JavaScript under plain node, as `dist/` runs), polls it every 10 ms, and reads the RSS of all its processes then.
 */
const startupCase = (id: string, path: string, mode: "tsx" | "js", workers: number): Case => ({
  id,
  group: "startup",
  run: async () => {
    const source = ensureScript(path)
    const script = mode === "tsx" ? source : await runnable(source)
    const port = await freePort()
    const since = performance.now()
    const child = spawn(process.execPath, [...(script.endsWith(".ts") ? ["--import", "tsx"] : []), script], {
      cwd: root,
      env: { ...process.env, PORT: String(port), WORKERS: String(workers) },
      stdio: ["ignore", "ignore", "ignore"]
    })
    const exited = new Promise<void>((done) => child.once("close", () => done()))
    try {
      const startMs = await firstOk(`http://127.0.0.1:${port}/`, since, 60_000)
      const pids = [child.pid!, ...childrenOf(child.pid!)]
      return { startMs, rss: pids.map(rssOf).reduce((a, b) => a + b, 0), processes: pids.length }
    } finally {
      child.kill("SIGTERM")
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(killer)
    }
  }
})

export const cases: ReadonlyArray<Case> = [
  nodeCase("tasks.raw", "tasks", "bench/cases/tasks-raw.ts", [], { exposeGc: true }),
  nodeCase("tasks.fiberapp", "tasks", "bench/cases/tasks-fiberapp.ts", [], { exposeGc: true }),
  nodeCase("tasks.fiberapp.metricsOff", "tasks", "bench/cases/tasks-fiberapp.ts", ["metrics-off"], { exposeGc: true }),
  nodeCase("tasks.complete.raw", "tasks", "bench/cases/tasks-complete-raw.ts"),
  nodeCase("tasks.complete.fiberapp", "tasks", "bench/cases/tasks-complete-fiberapp.ts"),
  nodeCase("tasks.complete.fiberapp.metricsOff", "tasks", "bench/cases/tasks-complete-fiberapp.ts", ["metrics-off"]),
  nodeCase("tasks.purge.fiberapp", "tasks", "bench/cases/tasks-purge-fiberapp.ts"),
  nodeCase("tasks.schedule.raw", "tasks", "bench/cases/tasks-schedule.ts", ["raw"], { exposeGc: true }),
  nodeCase("tasks.schedule.fiberapp", "tasks", "bench/cases/tasks-schedule.ts", ["fiberapp"], { exposeGc: true }),

  nodeCase("events.wake.deferred", "events", "bench/cases/events-wake-raw.ts", ["deferred"]),
  nodeCase("events.wake.fiberapp", "events", "bench/cases/events-wake-fiberapp.ts"),
  nodeCase("events.wake.pubsub", "events", "bench/cases/events-wake-raw.ts", ["pubsub"]),
  nodeCase("events.wake.once", "events", "bench/cases/events-wake-raw.ts", ["once"]),
  nodeCase("events.dispatch.raw", "events", "bench/cases/events-dispatch-raw.ts"),
  nodeCase("events.dispatch.fiberapp", "events", "bench/cases/events-dispatch-fiberapp.ts"),
  nodeCase("events.dispatch.fiberapp.metricsOff", "events", "bench/cases/events-dispatch-fiberapp.ts", ["metrics-off"]),

  httpCase("http.node", "bench/servers/http-node.ts", { path: "/", status: 200, body: "Hello, World!" }),
  httpCase("http.fiberapp", "bench/servers/http-fiberapp.ts", { path: "/", status: 200, body: "Hello, World!" }),
  httpCase("http.fastify", "bench/servers/http-fastify.ts", { path: "/", status: 200, body: "Hello, World!" }),
  httpCase("http.platform", "bench/servers/http-platform.ts", { path: "/", status: 200, body: "Hello, World!" }),
  httpCase("http.runfork", "bench/servers/http-runfork.ts", { path: "/", status: 200, body: "Hello, World!" }),
  httpCase(
    "http.fiberappGen",
    "bench/servers/http-fiberapp.ts",
    { path: "/", status: 200, body: "Hello, World!" },
    { HANDLER: "gen" }
  ),
  httpCase(
    "http.fiberappFiber",
    "bench/servers/http-fiberapp.ts",
    { path: "/", status: 200, body: "Hello, World!" },
    { HANDLER: "fiber" }
  ),
  httpCase(
    "http.fiberappFiber.metricsOff",
    "bench/servers/http-fiberapp.ts",
    { path: "/", status: 200, body: "Hello, World!" },
    { HANDLER: "fiber", METRICS: "off" }
  ),
  httpCase("http.fiberapp404", "bench/servers/http-fiberapp.ts", { path: "/nowhere", status: 404 }),
  httpCase(
    "http.nodeAsync",
    "bench/servers/http-node.ts",
    { path: "/", status: 200, body: "Hello, World!" },
    { ASYNC: "1" }
  ),
  httpCase(
    "http.fiberappAsync",
    "bench/servers/http-fiberapp.ts",
    { path: "/", status: 200, body: "Hello, World!" },
    { HANDLER: "async" }
  ),

  wsCase("ws.plain", "bench/servers/ws-plain.ts"),
  wsCase("ws.fiberapp", "bench/servers/ws-fiberapp.ts"),
  wsCase("ws.platform", "bench/servers/ws-platform.ts"),

  workersCase(1),
  workersCase(2),

  startupCase("startup.node", "bench/servers/http-node.ts", "js", 1),
  startupCase("startup.tsx.1", "bench/servers/http-fiberapp.ts", "tsx", 1),
  startupCase("startup.tsx.2", "bench/servers/http-fiberapp.ts", "tsx", 2),
  startupCase("startup.js.1", "bench/servers/http-fiberapp.ts", "js", 1),
  startupCase("startup.js.2", "bench/servers/http-fiberapp.ts", "js", 2),

  { ...eventsCase("raw"), group: "fleet" },
  { ...eventsCase("fiberapp"), group: "fleet" },
  { ...dispatchCase(false), group: "fleet" },
  { ...dispatchCase(true), group: "fleet" },
  { ...failoverCase, group: "fleet", reps: 1 }
]

const m = (caseId: string, metric: string): Metric => ({ case: caseId, metric })

const fleetTargets: ReadonlyArray<Target> = [
  {
    group: "fleet",
    title: "fleet: scope all events machine to machine, throughput",
    subject: m("fleet.events.fiberapp", "throughputPerSec"),
    baseline: m("fleet.events.raw", "throughputPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "5,000 back to back, first send on A to last receipt on B; baseline: pg_notify + LISTEN between two node processes"
  },
  {
    group: "fleet",
    title: "fleet: event latency machine to machine, p50",
    subject: m("fleet.events.fiberapp", "latencyP50Ms"),
    baseline: m("fleet.events.raw", "latencyP50Ms"),
    unit: "ms",
    better: "lower",
    note: "300 dispatches 2 ms apart, send on A to handler on B; baseline: raw pg_notify"
  },
  {
    group: "fleet",
    title: "fleet: event latency machine to machine, p99",
    subject: m("fleet.events.fiberapp", "latencyP99Ms"),
    baseline: m("fleet.events.raw", "latencyP99Ms"),
    unit: "ms",
    better: "lower",
    note: "as p50"
  },
  {
    group: "fleet",
    title: "fleet: CPU per event, both machines",
    subject: m("fleet.events.fiberapp", "cpuUsPerMessage"),
    baseline: m("fleet.events.raw", "cpuUsPerMessage"),
    unit: "us",
    better: "lower",
    note: "sender + receiver process CPU over the 5,000 burst"
  },
  {
    group: "fleet",
    title: "fleet: scope all dispatch, nobody listening elsewhere: fleet on vs off",
    subject: m("fleet.dispatch.on", "quietPerSec"),
    baseline: m("fleet.dispatch.off", "quietPerSec"),
    unit: "/s",
    better: "higher",
    note: "a lone process, CPU time of the dispatch loop; with a fleet each dispatch is a pg_notify"
  },
  {
    group: "fleet",
    title: "fleet: scope all dispatches leaving a lone process (pg_notify sent)",
    subject: m("fleet.dispatch.on", "sentPerSec"),
    unit: "/s",
    better: "higher",
    note: "from the first dispatch to the last notification seen by a LISTEN of the runner's"
  },
  {
    group: "fleet",
    title: "fleet: one-in-fleet task failover on SIGTERM (median of 5)",
    subject: m("fleet.failover", "sigtermMoveMs"),
    unit: "ms",
    better: "lower",
    note: "signal to the task's start on the other machine; default sharding settings"
  },
  {
    group: "fleet",
    title: "fleet: one-in-fleet task failover on SIGKILL (median of 5)",
    subject: m("fleet.failover", "sigkillMoveMs"),
    unit: "ms",
    better: "lower",
    note: "as SIGTERM; nothing releases the task's shard"
  }
]

export const targets: ReadonlyArray<Target> = [
  {
    group: "tasks",
    title: "addTask: 100k never-ending named tasks",
    subject: m("tasks.fiberapp", "spawnPerSec"),
    baseline: m("tasks.raw", "spawnPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: raw FiberMap.run"
  },
  {
    group: "tasks",
    title: "cancelTask, one by one",
    subject: m("tasks.fiberapp", "cancelPerSec"),
    baseline: m("tasks.raw", "cancelPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: FiberMap.remove"
  },
  {
    group: "tasks",
    title: "addTask: the app's metrics on vs off",
    subject: m("tasks.fiberapp", "spawnPerSec"),
    baseline: m("tasks.fiberapp.metricsOff", "spawnPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.95,
    note: "baseline: the same app made with metrics: false"
  },
  {
    group: "tasks",
    title: "cancelTask: the app's metrics on vs off",
    subject: m("tasks.fiberapp", "cancelPerSec"),
    baseline: m("tasks.fiberapp.metricsOff", "cancelPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.95,
    note: "baseline: the same app made with metrics: false"
  },
  {
    group: "tasks",
    title: "heap per idle named task",
    subject: m("tasks.fiberapp", "heapPerTask"),
    baseline: m("tasks.raw", "heapPerTask"),
    unit: "bytes",
    better: "lower",
    goal: 1.2,
    note: "baseline: a raw FiberMap fiber"
  },
  {
    group: "tasks",
    title: "add, complete, purge: 100k",
    subject: m("tasks.complete.fiberapp", "completePerSec"),
    baseline: m("tasks.complete.raw", "completePerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.7,
    note: "baseline: FiberMap.run, then FiberMap.awaitEmpty; median of 5 laps"
  },
  {
    group: "tasks",
    title: "add, complete, purge: the app's metrics on vs off",
    subject: m("tasks.complete.fiberapp", "completePerSec"),
    baseline: m("tasks.complete.fiberapp.metricsOff", "completePerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.95,
    note: "baseline: the same app made with metrics: false"
  },
  {
    group: "tasks",
    title: "getTask",
    subject: m("tasks.fiberapp", "getPerSec"),
    baseline: m("tasks.raw", "getPerSec"),
    unit: "/s",
    better: "higher",
    goal: 1.0,
    note: "baseline: FiberMap.get"
  },
  {
    group: "tasks",
    title: "purgeTasks per record: 100k vs 10k",
    subject: m("tasks.purge.fiberapp", "largeNsPerRecord"),
    baseline: m("tasks.purge.fiberapp", "smallNsPerRecord"),
    unit: "ns",
    better: "lower",
    goal: 1.5,
    note: "linear: same time per record"
  },
  {
    group: "tasks",
    title: "scheduled task: runs on Schedule.spaced(0)",
    subject: m("tasks.schedule.fiberapp", "runPerSec"),
    baseline: m("tasks.schedule.raw", "runPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "vs the same effect under raw Effect.repeat"
  },
  {
    group: "tasks",
    title: "heap per idle scheduled task",
    subject: m("tasks.schedule.fiberapp", "heapPerIdleTask"),
    baseline: m("tasks.schedule.raw", "heapPerIdleTask"),
    unit: "bytes",
    better: "lower",
    goal: 1.2,
    note: "vs a fiber asleep in Effect.repeat, kept by name in a FiberMap"
  },
  {
    group: "events",
    title: "wake 10k waiters on one event",
    subject: m("events.wake.fiberapp", "wakeMs"),
    baseline: m("events.wake.deferred", "wakeMs"),
    unit: "ms",
    better: "lower",
    goal: 1.0,
    note: "dispatch until all resumed; baseline: a Deferred each"
  },
  {
    group: "events",
    title: "10k waiters: register + wake",
    subject: m("events.wake.fiberapp", "totalMs"),
    baseline: m("events.wake.deferred", "totalMs"),
    unit: "ms",
    better: "lower"
  },
  {
    group: "events",
    title: "wake 10k: a PubSub subscription each",
    subject: m("events.wake.pubsub", "wakeMs"),
    baseline: m("events.wake.deferred", "wakeMs"),
    unit: "ms",
    better: "lower"
  },
  {
    group: "events",
    title: "wake 10k: Node events.once",
    subject: m("events.wake.once", "wakeMs"),
    baseline: m("events.wake.deferred", "wakeMs"),
    unit: "ms",
    better: "lower"
  },
  {
    group: "events",
    title: "dispatch, nobody listening",
    subject: m("events.dispatch.fiberapp", "quietPerSec"),
    unit: "/s",
    better: "higher",
    goal: 5e6,
    note: "absolute; an empty Effect loop does the baseline column"
  },
  {
    group: "events",
    title: "loop of Effect.sync (quiet dispatch checked when run)",
    subject: m("events.dispatch.raw", "syncLoopPerSec"),
    baseline: m("events.dispatch.raw", "loopPerSec"),
    unit: "/s",
    better: "higher",
    note: "for scale: baseline is the Effect.void loop"
  },
  {
    group: "events",
    title: "dispatch to one handler",
    subject: m("events.dispatch.fiberapp", "oneHandlerPerSec"),
    baseline: m("events.dispatch.raw", "pubsubPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: PubSub publish + take"
  },
  {
    group: "events",
    title: "dispatch to one handler: the app's metrics on vs off",
    subject: m("events.dispatch.fiberapp", "oneHandlerPerSec"),
    baseline: m("events.dispatch.fiberapp.metricsOff", "oneHandlerPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.95,
    note: "baseline: the same app made with metrics: false"
  },
  {
    group: "http",
    title: "HTTP hello world: fiberapp Server, Effect.sync handler",
    subject: m("http.fiberapp", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: node:http; each request a fiber"
  },
  {
    group: "http",
    title: "HTTP hello world: fiberapp Server, Effect.gen handler",
    subject: m("http.fiberappGen", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: node:http; reads App, its state and the request"
  },
  {
    group: "http",
    title: "HTTP hello world: fiberapp Server, handler that needs a fiber",
    subject: m("http.fiberappFiber", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: node:http; the Effect.gen handler also reads a FiberRef"
  },
  {
    group: "http",
    title: "HTTP one async step (a timer): fiberapp vs node:http with a Promise",
    subject: m("http.fiberappAsync", "requestsPerSec"),
    baseline: m("http.nodeAsync", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    note: "baseline: node:http awaiting setTimeout(0); fiberapp: Effect.sleep(0)"
  },
  {
    group: "http",
    title: "HTTP no route matched (404): fiberapp",
    subject: m("http.fiberapp404", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.9,
    note: "baseline: node:http hello world"
  },
  {
    group: "http",
    title: "HTTP server CPU per request: fiberapp",
    subject: m("http.fiberapp", "serverCpuUsPerRequest"),
    baseline: m("http.node", "serverCpuUsPerRequest"),
    unit: "us",
    better: "lower",
    note: "server process CPU time / requests served"
  },
  {
    group: "http",
    title: "HTTP server CPU per request: fiberapp, Effect.gen handler",
    subject: m("http.fiberappGen", "serverCpuUsPerRequest"),
    baseline: m("http.node", "serverCpuUsPerRequest"),
    unit: "us",
    better: "lower",
    note: "server process CPU time / requests served"
  },
  {
    group: "http",
    title: "HTTP server CPU per request: fiberapp, handler that needs a fiber",
    subject: m("http.fiberappFiber", "serverCpuUsPerRequest"),
    baseline: m("http.node", "serverCpuUsPerRequest"),
    unit: "us",
    better: "lower",
    note: "server process CPU time / requests served"
  },
  {
    group: "http",
    title: "HTTP server CPU per request, handler that needs a fiber: the app's metrics on vs off",
    subject: m("http.fiberappFiber", "serverCpuUsPerRequest"),
    baseline: m("http.fiberappFiber.metricsOff", "serverCpuUsPerRequest"),
    unit: "us",
    better: "lower",
    goal: 1.05,
    note: "baseline: the same server, its app made with metrics: false; instruction counts: bench/instructions.sh"
  },
  {
    group: "http",
    title: "HTTP hello world: Fastify 5",
    subject: m("http.fastify", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher"
  },
  {
    group: "http",
    title: "HTTP hello world: stock @effect/platform",
    subject: m("http.platform", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher"
  },
  {
    group: "http",
    title: "HTTP hello world: node:http + Effect.runFork",
    subject: m("http.runfork", "requestsPerSec"),
    baseline: m("http.node", "requestsPerSec"),
    unit: "/s",
    better: "higher"
  },
  {
    group: "ws",
    title: "websocket echo, ping-pong: fiberapp",
    subject: m("ws.fiberapp", "pingPongPerSec"),
    baseline: m("ws.plain", "pingPongPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: plain ws server"
  },
  {
    group: "ws",
    title: "websocket echo, pipelined: fiberapp",
    subject: m("ws.fiberapp", "pipelinedPerSec"),
    baseline: m("ws.plain", "pipelinedPerSec"),
    unit: "/s",
    better: "higher",
    goal: 0.8,
    note: "baseline: plain ws server"
  },
  {
    group: "ws",
    title: "websocket server CPU per message: fiberapp",
    subject: m("ws.fiberapp", "serverCpuUsPerMessage"),
    baseline: m("ws.plain", "serverCpuUsPerMessage"),
    unit: "us",
    better: "lower",
    note: "server process CPU time / messages echoed"
  },
  {
    group: "ws",
    title: "websocket echo, ping-pong: platform Socket",
    subject: m("ws.platform", "pingPongPerSec"),
    baseline: m("ws.plain", "pingPongPerSec"),
    unit: "/s",
    better: "higher"
  },
  {
    group: "ws",
    title: "websocket echo, pipelined: platform Socket",
    subject: m("ws.platform", "pipelinedPerSec"),
    baseline: m("ws.plain", "pipelinedPerSec"),
    unit: "/s",
    better: "higher"
  },
  {
    group: "workers",
    title: "HTTP hello world: 2 workers vs 1",
    subject: m("workers.2", "requestsPerSec"),
    baseline: m("workers.1", "requestsPerSec"),
    unit: "/s",
    better: "higher",
    note: "autocannon shares the 2 cores: see below"
  },
  {
    group: "workers",
    title: "RSS of an idle worker",
    subject: m("workers.2", "idleWorkerRss"),
    baseline: m("http.platform", "idleRss"),
    unit: "bytes",
    better: "lower",
    note: "baseline: idle stock @effect/platform server"
  },
  {
    group: "workers",
    title: "RSS of the primary process (2 workers)",
    subject: m("workers.2", "primaryRss"),
    unit: "bytes",
    better: "lower"
  },
  {
    group: "startup",
    title: "start to first 200: fiberapp under tsx, 1 process",
    subject: m("startup.tsx.1", "startMs"),
    baseline: m("startup.node", "startMs"),
    unit: "ms",
    better: "lower",
    note: "baseline: plain node:http, built JS"
  },
  {
    group: "startup",
    title: "RSS at first 200, every process: fiberapp under tsx, 1 process",
    subject: m("startup.tsx.1", "rss"),
    baseline: m("startup.node", "rss"),
    unit: "bytes",
    better: "lower"
  },
  {
    group: "startup",
    title: "start to first 200: fiberapp under tsx, 2 workers",
    subject: m("startup.tsx.2", "startMs"),
    baseline: m("startup.node", "startMs"),
    unit: "ms",
    better: "lower",
    note: "baseline: plain node:http, built JS"
  },
  {
    group: "startup",
    title: "RSS at first 200, every process: fiberapp under tsx, 2 workers",
    subject: m("startup.tsx.2", "rss"),
    baseline: m("startup.node", "rss"),
    unit: "bytes",
    better: "lower"
  },
  {
    group: "startup",
    title: "start to first 200: fiberapp as built JS, 1 process",
    subject: m("startup.js.1", "startMs"),
    baseline: m("startup.node", "startMs"),
    unit: "ms",
    better: "lower",
    note: "baseline: plain node:http, built JS"
  },
  {
    group: "startup",
    title: "RSS at first 200, every process: fiberapp as built JS, 1 process",
    subject: m("startup.js.1", "rss"),
    baseline: m("startup.node", "rss"),
    unit: "bytes",
    better: "lower"
  },
  {
    group: "startup",
    title: "start to first 200: fiberapp as built JS, 2 workers",
    subject: m("startup.js.2", "startMs"),
    baseline: m("startup.node", "startMs"),
    unit: "ms",
    better: "lower",
    note: "baseline: plain node:http, built JS"
  },
  {
    group: "startup",
    title: "RSS at first 200, every process: fiberapp as built JS, 2 workers",
    subject: m("startup.js.2", "rss"),
    baseline: m("startup.node", "rss"),
    unit: "bytes",
    better: "lower"
  },
  ...fleetTargets
]

/** The figure shown in the baseline column of an absolute target, for scale. */
export const absoluteContext: Record<string, Metric> = {
  "dispatch, nobody listening": m("events.dispatch.raw", "loopPerSec")
}
