/**
 * The cases of the fleet group (`npm run bench -- fleet`), each on a fresh database:
 *
 * - `fleet.events.{raw,fiberapp}`: two machines, A sends and B receives. Latency: 300 messages 2 ms apart, each timed
 *   from its send on A to its receipt on B (`performance.timeOrigin + performance.now()` in both processes). Throughput:
 *   5,000 back to back, from the first send on A to the last receipt on B. `raw` is two plain node processes with
 *   `pg` (`LISTEN` and `pg_notify`); `fiberapp` two lone fiberapp processes with `fleet` on, a `scope: "all"`
 *   dispatch on A reaching a `signal` handler on B.
 * - `fleet.dispatch.{on,off}`: a lone process dispatching `scope: "all"` an event nobody listens to, with a fleet
 *   configured and without; with one, the runner counts the notifications that leave (its own `LISTEN`, not a
 *   machine's), to wait until each lap has gone out and to give the rate at which they do.
 * - `fleet.failover`: two machines with a one-in-fleet task; its machine is sent SIGTERM, then SIGKILL, five times
 *   each, alternating; each time, the time from the signal to the task's start elsewhere (the `started_at` of its row
 *   in its own beat table, by the database's clock), then the stopped machine is started again. Runs once, not in
 *   every repetition.
 */

import {
  call,
  countNotifications,
  type Database,
  eventually,
  freshDatabase,
  type Machine,
  query,
  startMachine,
  stopAll
} from "./fleet.js"
import type { Result } from "./measure.js"
import { median } from "./measure.js"
import { cpuMsOf } from "./proc.js"

const fiberappServer = "bench/servers/fleet-fiberapp.ts"
const rawServer = "bench/servers/fleet-raw.ts"

export const fleetCounts = { latencyMessages: 300, latencyGapMs: 2, throughputMessages: 5_000, failovers: 5 }

interface Received {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly firstSent: number
  readonly lastReceived: number
}

/** Runs `f` on a fresh database with the machines it starts; stops them all and drops the database after. */
const withDatabase = async (f: (database: Database, started: Array<Machine>) => Promise<Result>): Promise<Result> => {
  const database = await freshDatabase()
  const started: Array<Machine> = []
  try {
    return await f(database, started)
  } finally {
    await stopAll(started)
    await database.drop()
  }
}

const sendAndReceive = async (a: Machine, b: Machine, run: string, count: number, gap: number, timeout: number) => {
  await call("POST", `${a.url}/send?run=${run}&count=${count}&gap=${gap}`)
  const received = await call<Received>("GET", `${b.url}/received?run=${run}&count=${count}&timeout=${timeout}`)
  if (received.count !== count) {
    throw new Error(
      `${run}: ${received.count} of ${count} messages reached ${b.name}\n${a.name}: ${a.output()}\n${b.name}: ${b.output()}`
    )
  }
  return received
}

export const eventsCase = (kind: "raw" | "fiberapp") => ({
  id: `fleet.events.${kind}`,
  run: () =>
    withDatabase(async (database, started) => {
      const env = { DATABASE_URL: database.url, BENCH_FLEET: "1" }
      const script = kind === "raw" ? rawServer : fiberappServer
      const track = (machine: Machine) => {
        started.push(machine)
        return machine
      }
      const [a, b] = await Promise.all([
        startMachine(script, "bench-a", env).then(track),
        startMachine(script, "bench-b", env).then(track)
      ])
      // B listens once one of A's messages reaches it; then a burst to warm both up.
      let warm = 0
      await eventually(
        "a first message from A to reach B",
        async () => {
          await call("POST", `${a.url}/send?run=warm&count=1`)
          warm++
          const received = await call<Received>("GET", `${b.url}/received?run=warm&count=1&timeout=500`)
          return received.count > 0 ? true : undefined
        },
        30_000
      )
      await sendAndReceive(a, b, "warm-burst", 1_000, 0, 30_000)
      const latency = await sendAndReceive(
        a,
        b,
        "latency",
        fleetCounts.latencyMessages,
        fleetCounts.latencyGapMs,
        30_000
      )
      const cpuBefore = cpuMsOf(a.pid) + cpuMsOf(b.pid)
      const burst = await sendAndReceive(a, b, "throughput", fleetCounts.throughputMessages, 0, 60_000)
      const cpuMs = cpuMsOf(a.pid) + cpuMsOf(b.pid) - cpuBefore
      return {
        latencyP50Ms: latency.p50,
        latencyP99Ms: latency.p99,
        throughputPerSec: (fleetCounts.throughputMessages * 1000) / (burst.lastReceived - burst.firstSent),
        burstP50Ms: burst.p50,
        cpuUsPerMessage: (cpuMs * 1000) / fleetCounts.throughputMessages,
        warmupMessages: warm
      }
    })
})

const quietLaps = 5

export const dispatchCase = (fleet: boolean) => ({
  id: `fleet.dispatch.${fleet ? "on" : "off"}`,
  run: () =>
    withDatabase(async (database, started) => {
      // Enough for a lap to last a few ms without a fleet; with one, each dispatch leaves as a notification.
      const count = fleet ? 5_000 : 200_000
      const machine = await startMachine(fiberappServer, "bench-alone", {
        BENCH_FLEET: fleet ? "1" : "0",
        ...(fleet ? { DATABASE_URL: database.url } : {})
      })
      started.push(machine)
      const sent = fleet ? await countNotifications(database.url, "fiberapp_fleet", "bench.fleet.quiet") : undefined
      try {
        if (sent !== undefined) {
          await eventually(
            "the machine's first notification",
            async () => {
              await call("POST", `${machine.url}/quiet?count=1`)
              return sent.count() > 0 ? true : undefined
            },
            30_000,
            200
          )
        }
        const laps: Array<{ cpuMs: number; wallMs: number; sentMs?: number }> = []
        for (let lap = 0; lap <= quietLaps; lap++) {
          const before = sent?.count() ?? 0
          const startedAt = performance.timeOrigin + performance.now()
          const timing = await call<{ cpuMs: number; wallMs: number }>("POST", `${machine.url}/quiet?count=${count}`)
          let sentMs: number | undefined
          if (sent !== undefined) {
            await eventually(
              `${count} notifications`,
              async () => (sent.count() >= before + count ? true : undefined),
              60_000,
              10
            )
            sentMs = sent.last() - startedAt
          }
          // the first lap warms up
          if (lap > 0) laps.push({ ...timing, ...(sentMs !== undefined ? { sentMs } : {}) })
        }
        return {
          quietPerSec: (count * 1000) / median(laps.map((lap) => lap.cpuMs)),
          quietPerSecWall: (count * 1000) / median(laps.map((lap) => lap.wallMs)),
          ...(fleet ? { sentPerSec: (count * 1000) / median(laps.map((lap) => lap.sentMs!)) } : {}),
          dispatchesPerLap: count
        }
      } finally {
        await sent?.close()
      }
    })
})

interface Beat {
  readonly id: number
  readonly machine: string
  readonly startedAt: Date
  readonly fresh: boolean
}

const latestBeat = async (url: string): Promise<Beat | undefined> => {
  const [row] = await query<Beat>(
    url,
    `SELECT id, machine, started_at AS "startedAt", beat_at > clock_timestamp() - interval '1 second' AS fresh
     FROM fleet_beat ORDER BY id DESC LIMIT 1`
  )
  return row
}

/**
 * Shard locks (PostgreSQL advisory locks) held by each machine's runner: the cluster has settled once every machine
 * holds some and they add up to every shard.
 */
const settled = async (url: string, names: ReadonlyArray<string>, shards: number): Promise<boolean> => {
  const rows = await query<{ application: string; locks: string }>(
    url,
    `SELECT a.application_name AS application, count(*) AS locks FROM pg_locks l
     JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     GROUP BY a.application_name`
  )
  const held = (name: string) =>
    rows
      .filter((row) => row.application.startsWith(`fiberapp ${name} `))
      .reduce((sum, row) => sum + Number(row.locks), 0)
  const total = rows.reduce((sum, row) => sum + Number(row.locks), 0)
  return total === shards && names.every((name) => held(name) > 0)
}

export const failoverCase = {
  id: "fleet.failover",
  run: () =>
    withDatabase(async (database, started) => {
      await query(
        database.url,
        "CREATE TABLE fleet_beat (id serial PRIMARY KEY, machine text, pid integer, started_at timestamptz, beat_at timestamptz)"
      )
      const env = { DATABASE_URL: database.url, BENCH_FLEET: "1", TASK: "1" }
      const names = ["bench-1", "bench-2"]
      const machines = new Map<string, Machine>()
      const start = async (name: string) => {
        const machine = await startMachine(fiberappServer, name, env)
        started.push(machine)
        machines.set(name, machine)
      }
      await Promise.all(names.map(start))
      const moves: Record<"SIGTERM" | "SIGKILL", Array<number>> = { SIGTERM: [], SIGKILL: [] }
      // A machine that joins takes its share of the shards, and may take the task's with it: a signal sent then
      // times that move, not the failover. So the task must have stayed on one machine, with every runner holding
      // shards, for a few of cluster's refresh rounds; a move that began before the signal is measured again.
      const stableMs = 3_000
      let invalid = 0
      for (let i = 0; i < fleetCounts.failovers * 2; ) {
        const signal = i % 2 === 0 ? "SIGTERM" : "SIGKILL"
        let since: { id: number; at: number } | undefined
        const beat = await eventually(
          "the task to stay on one machine, and every machine's runner to hold its shards",
          async () => {
            const latest = await latestBeat(database.url)
            if (latest?.fresh !== true || !(await settled(database.url, names, 60))) {
              since = undefined
              return undefined
            }
            if (since?.id !== latest.id) since = { id: latest.id, at: Date.now() }
            return Date.now() - since.at >= stableMs ? latest : undefined
          },
          90_000,
          100
        )
        const host = machines.get(beat.machine)!
        const signalledAt = Date.now()
        host.signal(signal)
        const moved = await eventually(
          `the task to start elsewhere after ${signal}`,
          async () => {
            const latest = await latestBeat(database.url)
            return latest !== undefined && latest.id > beat.id && latest.machine !== beat.machine ? latest : undefined
          },
          60_000,
          50
        )
        const ms = moved.startedAt.getTime() - signalledAt
        if (ms >= 0) {
          moves[signal].push(ms)
          i++
        } else if (++invalid > 5) {
          throw new Error(`the task kept moving before the signal (${invalid} times)`)
        }
        await host.stop()
        await start(host.name)
      }
      const result: Result = {
        sigtermMoveMs: median(moves.SIGTERM),
        sigkillMoveMs: median(moves.SIGKILL),
        sigtermMoves: moves.SIGTERM.map((ms) => ms.toFixed(0)).join(" "),
        sigkillMoves: moves.SIGKILL.map((ms) => ms.toFixed(0)).join(" "),
        movedBeforeSignal: invalid
      }
      return result
    })
}
