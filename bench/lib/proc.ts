/**
 * Process plumbing for the runner: every measurement runs in a fresh process, `node --import tsx` for
 * TypeScript, plain `node` for the servers built by `bundle.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import type { Result } from "./measure.js"

export const root = new URL("../..", import.meta.url).pathname

export interface NodeOptions {
  readonly exposeGc?: boolean
  readonly env?: Record<string, string>
  readonly timeoutMs?: number
}

export class CaseError extends Error {}

const nodeArgs = (script: string, args: ReadonlyArray<string>, options: NodeOptions): Array<string> => [
  ...(options.exposeGc === true ? ["--expose-gc"] : []),
  ...(process.env.BENCH_NODE_OPTIONS ?? "").split(" ").filter((option) => option !== ""),
  ...(script.endsWith(".ts") ? ["--import", "tsx"] : []),
  script,
  ...args
]

const tail = (text: string): string => text.trim().split("\n").slice(-6).join("\n")

const lastJsonLine = (stdout: string): Result | undefined => {
  const lines = stdout.trim().split("\n").reverse()
  for (const line of lines) {
    if (line.startsWith("{")) {
      try {
        return JSON.parse(line) as Result
      } catch {
        // not ours: keep looking
      }
    }
  }
  return undefined
}

/** Runs `node --import tsx script args` to its end and gives the last JSON line it printed. */
export const runNode = (script: string, args: ReadonlyArray<string> = [], options: NodeOptions = {}): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(script, args, options), {
      cwd: root,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timeoutMs = options.timeoutMs ?? 180_000
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const result = lastJsonLine(stdout)
      if (code === 0 && result !== undefined) return resolve(result)
      const why = signal === "SIGKILL" ? `timed out after ${timeoutMs} ms` : `exit ${code ?? signal}`
      reject(new CaseError(`${script} ${args.join(" ")}: ${why}\n${tail(stderr)}`))
    })
  })

export interface Server {
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
  readonly stop: () => Promise<void>
}

/** Starts a server script and waits for its `{"ready":true,"port":N}` line. */
export const startServer = (script: string, options: NodeOptions = {}): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(script, [], options), {
      cwd: root,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    let ready = false
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk.slice(-4000)))
    const exited = new Promise<void>((done) => child.once("close", () => done()))
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGTERM")
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited
      clearTimeout(killer)
    }
    const timeoutMs = options.timeoutMs ?? 30_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new CaseError(`${script}: not ready after ${timeoutMs} ms\n${tail(stderr)}`))
    }, timeoutMs)
    // keeps reading stdout to the end, so that a chatty server never blocks on a full pipe
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (ready || !line.startsWith("{")) return
      try {
        const message = JSON.parse(line) as { ready?: boolean; port?: number; skip?: string }
        if (typeof message.skip === "string") {
          clearTimeout(timer)
          ready = true
          reject(new SkipCase(message.skip))
        } else if (message.ready === true && typeof message.port === "number") {
          clearTimeout(timer)
          ready = true
          resolve({ port: message.port, pid: child.pid!, child, stop })
        }
      } catch {
        // a log line that happens to start with "{"
      }
    })
    child.on("close", (code, signal) => {
      if (ready) return
      clearTimeout(timer)
      reject(new CaseError(`${script}: exited (${code ?? signal}) before it was ready\n${tail(stderr)}`))
    })
  })

export class SkipCase extends Error {}

/** Resident set size of a process, in bytes, from /proc. */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) * 1024
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc (USER_HZ is 100 on Linux). */
export const cpuMsOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Direct children of a process, from /proc. */
export const childrenOf = (pid: number): Array<number> => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((id) => id !== "")
      .map(Number)
  } catch {
    return []
  }
}
