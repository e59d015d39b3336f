/**
 * Plumbing of the fleet group: a fresh PostgreSQL database per case (created on the server at 127.0.0.1, dropped
 * `WITH (FORCE)` after), machines as process groups of their own (signalled whole, SIGKILLed when the runner exits
 * with some still alive), and the HTTP calls the cases make to them.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import Pg from "pg"
import { runnable } from "./bundle.js"
import { CaseError, root, SkipCase } from "./proc.js"

/** The PostgreSQL server the group uses: `BENCH_DATABASE_URL`, or this machine's at 127.0.0.1:5432. */
const serverUrl = (): URL => {
  const url = new URL(process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres")
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") {
    throw new CaseError(`BENCH_DATABASE_URL must point at 127.0.0.1, not ${url.hostname}`)
  }
  return url
}

const withClient = async <A>(url: string, f: (client: Pg.Client) => Promise<A>): Promise<A> => {
  const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => {})
  }
}

export const query = <A>(url: string, text: string, values: ReadonlyArray<unknown> = []): Promise<Array<A>> =>
  withClient(url, async (client) => (await client.query(text, values as Array<unknown>)).rows as Array<A>)

let databases = 0

export interface Database {
  readonly url: string
  readonly drop: () => Promise<void>
}

/** A database of its own, `fiberapp_bench_<pid>_<n>`; skips the case when no server answers. */
export const freshDatabase = async (): Promise<Database> => {
  const admin = serverUrl()
  admin.pathname = "/postgres"
  const name = `fiberapp_bench_${process.pid}_${databases++}`
  try {
    await withClient(admin.href, (client) => client.query(`CREATE DATABASE ${name}`))
  } catch (error) {
    throw new SkipCase(`no PostgreSQL at ${admin.host} (${error instanceof Error ? error.message : String(error)})`)
  }
  const url = new URL(admin.href)
  url.pathname = `/${name}`
  return {
    url: url.href,
    drop: () =>
      withClient(admin.href, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {})
  }
}

/** Every process group started and not yet seen to exit: killed if the runner goes away first. */
const alive = new Set<ChildProcess>()

const killGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    // gone already
  }
}

let guarded = false
const guard = (): void => {
  if (guarded) return
  guarded = true
  process.once("exit", () => {
    for (const child of alive) killGroup(child, "SIGKILL")
  })
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const child of alive) killGroup(child, "SIGKILL")
      process.exit(130)
    })
  }
}

export interface Machine {
  readonly name: string
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly exited: Promise<void>
  /** The last lines it wrote. */
  readonly output: () => string
  /** Signals the machine's whole process group. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the primary has exited. */
  readonly stop: (graceMs?: number) => Promise<void>
}

const tail = (text: string): string => text.trim().split("\n").slice(-6).join("\n")

/** Starts a bench server script (built by `bundle.ts`) in a process group of its own; waits for its ready line. */
export const startMachine = async (
  script: string,
  name: string,
  env: Record<string, string>,
  timeoutMs = 60_000
): Promise<Machine> => {
  guard()
  const file = await runnable(`${root}${script}`)
  const child = spawn(process.execPath, [file], {
    cwd: root,
    env: { ...process.env, PORT: "0", FLEET_MACHINE: name, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  alive.add(child)
  // Effect's logger writes to stdout: both streams tell why a machine did not start
  let output = ""
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-4000)))
  const exited = new Promise<void>((done) =>
    child.once("exit", () => {
      alive.delete(child)
      done()
    })
  )
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (!alive.has(child)) return
    killGroup(child, "SIGTERM")
    const killer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs)
    await exited
    clearTimeout(killer)
    // workers of the group that outlived their primary
    killGroup(child, "SIGKILL")
  }
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CaseError(`${name}: not ready after ${timeoutMs} ms\n${tail(output)}`)),
      timeoutMs
    )
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) {
        output = `${output}${line}\n`.slice(-4000)
        return
      }
      try {
        const message = JSON.parse(line) as { ready?: boolean; port?: number }
        if (message.ready === true && typeof message.port === "number") {
          clearTimeout(timer)
          resolve(message.port)
        }
      } catch {
        // a log line
      }
    })
    exited.then(() => {
      clearTimeout(timer)
      reject(new CaseError(`${name}: exited before it was ready\n${tail(output)}`))
    })
  }).catch(async (error: unknown) => {
    await stop(1_000)
    throw error
  })
  return {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    exited,
    output: () => tail(output),
    signal: (signal) => killGroup(child, signal),
    stop
  }
}

/** Stops every machine given, at once. */
export const stopAll = (machines: ReadonlyArray<Machine | undefined>): Promise<unknown> =>
  Promise.allSettled(machines.map((machine) => machine?.stop()))

export const call = async <A>(method: "GET" | "POST", url: string): Promise<A> => {
  const response = await fetch(url, { method })
  const text = await response.text()
  if (response.status !== 200) throw new CaseError(`${method} ${url}: ${response.status} ${text.slice(0, 200)}`)
  return JSON.parse(text) as A
}

/** Polls `check` every `everyMs` until it gives a value; fails with `what` after `timeoutMs`. */
export const eventually = async <A>(
  what: string,
  check: () => Promise<A | undefined>,
  timeoutMs: number,
  everyMs = 50
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new CaseError(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Counts the notifications of a channel whose payload mentions `needle`, on a connection of the runner's own. */
export const countNotifications = async (url: string, channel: string, needle: string) => {
  const client = new Pg.Client({ connectionString: url })
  await client.connect()
  let count = 0
  let last = 0
  client.on("notification", (notification) => {
    if (notification.channel === channel && notification.payload?.includes(needle) === true) {
      count++
      last = performance.timeOrigin + performance.now()
    }
  })
  await client.query(`LISTEN ${Pg.escapeIdentifier(channel)}`)
  return { count: () => count, last: () => last, close: () => client.end().catch(() => {}) }
}
