/**
 * Child processes for the reliability tests: spawned with `node` itself (npm and npx do not pass signals on), read
 * line by line, and killed with everything they printed a pid for when the test's scope closes.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, Schedule } from "effect"
import { isAlive } from "../fixtures/workers-harness.js"

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** When it exited (epoch milliseconds). */
  readonly at: number
}

export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  readonly output: () => string
  /** Waits until the output contains `text`; dies with the output after `timeout`. */
  readonly line: (text: string | RegExp, timeout?: Duration.DurationInput) => Effect.Effect<string>
  readonly exit: Effect.Effect<ChildExit>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/** This process's environment without the settings the server reads, then `env`. */
const childEnv = (env: Record<string, string>): NodeJS.ProcessEnv => {
  const base = { ...process.env }
  for (const name of Object.keys(base)) {
    if (["PORT", "HOST", "WORKERS", "GRACEFUL_SHUTDOWN_TIMEOUT"].includes(name) || name.startsWith("INSPECTOR")) {
      delete base[name]
    }
  }
  return { ...base, ...env }
}

/** `listening <url> <role> <pid>`, as reliability-app.ts prints it. */
const listening = /listening (http:\/\/\S+) (\S+) (\d+)/g

/** Pids the child printed (its workers among them): killed with it. */
const printedPids = (output: string): Array<number> => Array.from(output.matchAll(listening), (m) => Number(m[3]))

export const spawnNode = (
  script: string,
  options: {
    readonly args?: ReadonlyArray<string>
    readonly nodeArgs?: ReadonlyArray<string>
    readonly env?: Record<string, string>
  } = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.gen(function* () {
    const exited = yield* Deferred.make<ChildExit>()
    let output = ""
    const wakers = new Set<() => void>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(
          process.execPath,
          [...(options.nodeArgs ?? []), "--import", "tsx", script, ...(options.args ?? [])],
          {
            cwd: fileURLToPath(new URL("../..", import.meta.url)),
            env: childEnv(options.env ?? {}),
            stdio: ["ignore", "pipe", "pipe"]
          }
        )
        const onData = (data: Buffer) => {
          output += data.toString()
          for (const wake of wakers) wake()
        }
        child.stdout!.on("data", onData)
        child.stderr!.on("data", onData)
        child.on("exit", (code, signal) => {
          Deferred.unsafeDone(exited, Exit.succeed({ code, signal, at: Date.now() }))
          for (const wake of wakers) wake()
        })
        return child
      }),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
          for (const pid of printedPids(output)) if (isAlive(pid)) process.kill(pid, "SIGKILL")
        })
    )
    const line = (text: string | RegExp, timeout: Duration.DurationInput = "30 seconds") =>
      Effect.async<string>((resume) => {
        const check = () => {
          const found = typeof text === "string" ? (output.includes(text) ? text : undefined) : text.exec(output)?.[0]
          if (found !== undefined) {
            wakers.delete(check)
            resume(Effect.succeed(found))
          }
        }
        wakers.add(check)
        check()
        return Effect.sync(() => wakers.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Error(
              `no ${String(text)} within ${Duration.format(Duration.decode(timeout))}; output:\n${output.slice(-6000)}`
            )
        }),
        Effect.orDie
      )
    return {
      process: child,
      pid: child.pid!,
      output: () => output,
      line,
      exit: Deferred.await(exited),
      kill: (signal) => Effect.sync(() => void child.kill(signal))
    }
  })

/** Starts reliability-app.ts and waits until it serves; gives its url. */
export const serveFixture = (env: Record<string, string>, nodeArgs?: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const child = yield* spawnNode(fixture("reliability-app.ts"), { env, ...(nodeArgs ? { nodeArgs } : {}) })
    const role = env.WORKERS !== undefined && Number(env.WORKERS) > 1 ? "main" : "\\S+"
    const found = yield* child.line(new RegExp(`listening http://\\S+ ${role} \\d+`), "60 seconds")
    const url = /http:\/\/\S+/.exec(found)![0]
    return { child, url, ws: url.replace("http", "ws") }
  })

/** The JSON lines `<prefix> {...}` the child printed. */
export const jsonLines = <A>(output: string, prefix: string): Array<A> =>
  output
    .split("\n")
    .filter((line) => line.startsWith(`${prefix} {`))
    .map((line) => JSON.parse(line.slice(prefix.length + 1)) as A)

/** Polls `effect` every 50 ms until `done` holds; dies with the last value (or failure) after `timeout`. */
export const eventually = <A, E>(
  effect: Effect.Effect<A, E>,
  done: (a: A) => boolean,
  timeout: Duration.DurationInput = "20 seconds"
): Effect.Effect<A> =>
  effect.pipe(
    Effect.filterOrFail(done, (a) => a),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeout(timeout),
    Effect.catchAll((last) => Effect.dieMessage(`condition never held; last: ${JSON.stringify(last)}`))
  )
