import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import { eventually } from "../fixtures/fleet-harness.js"
import { request } from "../fixtures/workers-harness.js"
import { freePort } from "../utils.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** Whether a process (`pid`) or a process group (`-pid`) has anyone left. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Processes whose command line mentions `text`, from /proc. */
const processesMentioning = (text: string): Array<number> =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)
      } catch {
        return false
      }
    })
    .map(Number)

describe("npm run fleet", () => {
  it.live(
    "starts an embedded PostgreSQL and three machines, and Ctrl-C stops them all, database included",
    () =>
      Effect.gen(function* () {
        // base + 1 was free a moment ago; base + 2 and + 3 most likely are too
        const base = (yield* freePort) - 1
        const inspectorBase = (yield* freePort) - 1
        const { DATABASE_URL: _, ...env } = process.env
        const exited = yield* Deferred.make<{ code: number | null; signal: NodeJS.Signals | null }>()
        let output = ""
        const child = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const child = spawn(process.execPath, ["--import", "tsx", "scripts/fleet.ts"], {
              cwd: root,
              env: {
                ...env,
                FLEET_DEMO_BASE_PORT: String(base),
                FLEET_DEMO_INSPECTOR_BASE_PORT: String(inspectorBase),
                // one process per machine keeps three machines light on a 2-core computer
                WORKERS: "1"
              },
              stdio: ["ignore", "pipe", "pipe"],
              detached: true
            })
            child.stdout!.on("data", (chunk) => (output += chunk))
            child.stderr!.on("data", (chunk) => (output += chunk))
            child.on("exit", (code, signal) => Deferred.unsafeDone(exited, Exit.succeed({ code, signal })))
            return child
          }),
          (child) =>
            Effect.sync(() => {
              // only when the test failed before the script stopped: nothing of it may outlive the test
              for (const pid of [child.pid!, ...machinePids()]) {
                try {
                  process.kill(-pid, "SIGKILL")
                } catch {}
              }
            })
        )
        const machinePids = () =>
          [...output.matchAll(/\[fleet\] machine-\d: pid (\d+)/g)].map((match) => Number(match[1]))
        const detail = () => output.slice(-4000)

        yield* eventually(
          "three machines up in /fleet",
          request(inspectorBase + 1, "/fleet").pipe(
            Effect.map((response) => {
              if (response.status !== 200) return undefined
              const fleet = JSON.parse(response.body) as { machines: ReadonlyArray<{ state: string }> }
              return fleet.machines.filter((machine) => machine.state === "up").length === 3 ? true : undefined
            }),
            Effect.orElseSucceed(() => undefined)
          ),
          "70 seconds",
          detail
        )
        const pids = machinePids()
        expect(pids).toHaveLength(3)
        const dataDir = /data in (\S+)/.exec(output)?.[1]
        expect(dataDir).toBeDefined()
        expect(processesMentioning(dataDir!).length).toBeGreaterThan(0)

        child.kill("SIGINT")
        const exit = yield* Deferred.await(exited).pipe(
          Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => new Error(`no exit\n${detail()}`) })
        )
        expect(exit).toEqual({ code: 0, signal: null })
        // each machine's group: its primary and its workers
        for (const pid of pids) expect(alive(-pid), `process group of machine pid ${pid}`).toBe(false)
        // the embedded database: its processes gone, its directory removed
        expect(processesMentioning(dataDir!)).toEqual([])
        expect(existsSync(dataDir!)).toBe(false)
        expect(output).toContain("[fleet] stopped")
        expect(output).toMatch(/\[machine-1\] /)
      }).pipe(Effect.scoped),
    100_000
  )
})
