/**
 * `fiberapp inspect` as a user runs it: a real child process against a real inspector on a loopback port. The source
 * entry (src/bin.ts) is bundled once with esbuild and run with plain node, which starts in a fraction of tsx's time;
 * test/Package.test.ts runs the built bin from an installed package.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Logger, LogLevel, Option, Redacted, Ref } from "effect"
import { build } from "esbuild"
import * as App from "../src/App.js"
import * as Cli from "../src/Cli.js"
import * as Inspector from "../src/Inspector.js"
import * as Single from "../src/internal/workers/single.js"
import type * as Workers from "../src/Workers.js"
import { freePort } from "./utils.js"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The CLI's source entry as one file for node; removed with the layer. */
class Bin extends Context.Tag("test/CliBin")<Bin, string>() {}

const BinLive = Layer.scoped(
  Bin,
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = mkdtempSync(join(tmpdir(), "fiberapp-cli-"))
      const outfile = join(dir, "fiberapp.mjs")
      await build({
        entryPoints: [join(root, "src/bin.ts")],
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        outfile,
        logLevel: "warning"
      })
      return outfile
    }),
    (outfile) => Effect.sync(() => rmSync(join(outfile, ".."), { recursive: true, force: true }))
  )
)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `fiberapp <args>` with only PATH, HOME and `env` in its environment; killed if the test is interrupted. */
const fiberapp = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Run, never, Bin> =>
  Effect.flatMap(Bin, (bin) =>
    Effect.async<Run>((resume) => {
      const child = spawn(process.execPath, [bin, ...args], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
      return Effect.sync(() => child.kill("SIGKILL"))
    }).pipe(
      Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => `fiberapp ${args.join(" ")} timed out` }),
      Effect.orDie
    )
  )

/** A failure as the CLI must print it: one line on stderr, no stack, nothing on stdout. */
const assertOneLine = (run: Run, code: number, includes: string) => {
  assert.strictEqual(run.code, code, `exit code; stderr: ${run.stderr}`)
  assert.strictEqual(run.stdout, "")
  const lines = run.stderr.trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, `one line, got: ${run.stderr}`)
  assert.match(lines[0]!, /^fiberapp: /)
  assert.include(lines[0], includes)
  assert.notMatch(run.stderr, /\n\s+at /)
}

const apiKey = "cli-test-key"

/**
 * A process serving alone with a succeeded task and three running ones, inspected on a random loopback port. Its
 * supervisor is the real one for the table, tasks and cancel, and records restart, scale and shutdown.
 */
const served = Effect.gen(function* () {
  const app = yield* App.make({ name: "cli-test", gracefulShutdownTimeout: "2 seconds" })
  yield* app.start
  const done = yield* app.addTask(Effect.succeed("result"), { name: "done" })
  yield* done.await
  for (const name of ["report-daily", "report-weekly", "a/b ü?"]) yield* app.addTask(Effect.never, { name })
  const restarts = yield* Ref.make<ReadonlyArray<Workers.RestartOptions | undefined>>([])
  const scales = yield* Ref.make<ReadonlyArray<number>>([])
  const shutdown = yield* Deferred.make<void>()
  const single = Single.make(app)
  const supervisor: Workers.SupervisorService = {
    ...single,
    restart: (options) => Ref.update(restarts, (all) => [...all, options]),
    scale: (replicas) => Ref.update(scales, (all) => [...all, replicas]),
    shutdown: Deferred.succeed(shutdown, undefined)
  }
  const keyed = yield* Inspector.serve(supervisor, {
    port: 0,
    host: "127.0.0.1",
    apiKey: Option.some(Redacted.make(apiKey))
  })
  const alone = yield* Inspector.serve(single, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
  const port = String(keyed.port)
  return { app, port, alonePort: String(alone.port), restarts, scales, shutdown, key: ["--api-key", apiKey] }
}).pipe(Logger.withMinimumLogLevel(LogLevel.None))

const names = (run: Run): ReadonlyArray<string> => JSON.parse(run.stdout).tasks.map((task: any) => task.name)

layer(BinLive, { timeout: 60_000, excludeTestServices: true })("fiberapp inspect", (it) => {
  it.effect("--help prints the usage of fiberapp and of inspect, uncoloured when piped; --version the package's", () =>
    Effect.gen(function* () {
      const [top, inspect, tasks, version] = yield* Effect.all(
        [
          fiberapp(["--help"]),
          fiberapp(["inspect", "--help"]),
          fiberapp(["inspect", "tasks", "--help"]),
          fiberapp(["--version"])
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(top.code, 0, top.stderr)
      // Not a terminal: no colour escapes.
      assert.notInclude(top.stdout, "\u001b[")
      assert.include(top.stdout, "USAGE")
      assert.include(top.stdout, "- inspect [--host text] [--port integer] [--api-key redacted]")
      assert.strictEqual(inspect.code, 0, inspect.stderr)
      for (const sub of ["tasks", "cancel", "restart", "scale", "shutdown"]) assert.include(inspect.stdout, `- ${sub}`)
      assert.include(inspect.stdout, "INSPECTOR_API_KEY")
      assert.strictEqual(tasks.code, 0, tasks.stderr)
      assert.include(tasks.stdout, "--status pending | running | succeeded | failed | cancelled")
      const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
      assert.strictEqual(version.stdout.trim(), pkg.version)
    })
  )

  it.scoped("inspect shows the process and its worker as a table, or the inspector's JSON", () =>
    Effect.gen(function* () {
      const { key, port } = yield* served
      const [table, json] = yield* Effect.all(
        [fiberapp(["inspect", "--port", port, ...key]), fiberapp(["inspect", "--port", port, ...key, "--json"])],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(table.code, 0, table.stderr)
      const lines = table.stdout.trimEnd().split("\n")
      assert.match(lines[0]!, new RegExp(`^app cli-test {2}mode single {2}pid ${process.pid} {2}node v\\d+`))
      assert.match(lines[2]!, /^WORKER +STATE +PID +UP +STARTS +RESTARTS +SERVING +LAST EXIT$/)
      assert.match(lines[3]!, new RegExp(`^main +serving +${process.pid} +\\S+ +1 +0 +yes +-$`))
      assert.strictEqual(json.code, 0, json.stderr)
      const body = JSON.parse(json.stdout)
      assert.strictEqual(body.app, "cli-test")
      assert.deepStrictEqual(
        body.workers.map((w: any) => [w.name, w.pid]),
        [["main", process.pid]]
      )
    })
  )

  it.scoped("tasks lists every task; --json parses and filters by --status (repeatable) and --name (with *)", () =>
    Effect.gen(function* () {
      const { key, port } = yield* served
      const tasks = (...args: Array<string>) => fiberapp(["inspect", "tasks", "--port", port, ...key, ...args])
      const [table, all, running, reports, doneOnly, either, none] = yield* Effect.all(
        [
          tasks(),
          tasks("--json"),
          tasks("--json", "--status", "running"),
          tasks("--json", "--name", "report-*"),
          tasks("--json", "--status", "succeeded", "--name", "done"),
          tasks("--json", "--status", "succeeded", "--status", "running", "--name", "*ly"),
          tasks("--status", "failed")
        ],
        { concurrency: 4 }
      )
      assert.strictEqual(table.code, 0, table.stderr)
      const rows = table.stdout.trimEnd().split("\n")
      assert.match(rows[0]!, /^WORKER +NAME +STATUS +ADDED +STARTED +ENDED +RUNS +FAILURES +NEXT RUN$/)
      assert.match(rows[1]!, /^main +done +succeeded +\d+s ago +\d+s ago +\d+s ago +1 +0 +-$/)
      assert.match(rows[2]!, /^main +report-daily +running +\d+s ago +\d+s ago +- +1 +0 +-$/)
      assert.strictEqual(rows.length, 5)
      assert.deepStrictEqual(names(all), ["done", "report-daily", "report-weekly", "a/b ü?"])
      const first = JSON.parse(all.stdout).tasks[0]
      assert.strictEqual(first.worker, "main")
      assert.strictEqual(first.status, "succeeded")
      assert.isNumber(first.endedAt)
      assert.deepStrictEqual(names(running), ["report-daily", "report-weekly", "a/b ü?"])
      assert.deepStrictEqual(names(reports), ["report-daily", "report-weekly"])
      assert.deepStrictEqual(names(doneOnly), ["done"])
      assert.deepStrictEqual(names(either), ["report-daily", "report-weekly"])
      assert.strictEqual(none.code, 0, none.stderr)
      assert.strictEqual(none.stdout, "No tasks.\n")
    })
  )

  it.scoped("cancel cancels the task in that worker, names with any characters included", () =>
    Effect.gen(function* () {
      const { app, key, port } = yield* served
      const cancelled = yield* fiberapp(["inspect", "cancel", "main", "report-daily", "--port", port, ...key])
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      assert.strictEqual(cancelled.stdout, 'Cancelled task "report-daily" in main.\n')
      assert.strictEqual(yield* (yield* app.getTask("report-daily")).status, "cancelled")
      assert.strictEqual(yield* (yield* app.getTask("report-weekly")).status, "running")
      const odd = yield* fiberapp(["inspect", "cancel", "main", "a/b ü?", "--port", port, ...key, "--json"])
      assert.strictEqual(odd.code, 0, odd.stderr)
      assert.deepStrictEqual(JSON.parse(odd.stdout), { cancelled: { worker: "main", name: "a/b ü?" } })
      assert.strictEqual(yield* (yield* app.getTask("a/b ü?")).status, "cancelled")
    })
  )

  it.scoped("an unknown task or worker exits 4 with one line", () =>
    Effect.gen(function* () {
      const { app, key, port } = yield* served
      const [task, worker] = yield* Effect.all(
        [
          fiberapp(["inspect", "cancel", "main", "nope", "--port", port, ...key]),
          fiberapp(["inspect", "cancel", "worker-9", "report-daily", "--port", port, ...key])
        ],
        { concurrency: "unbounded" }
      )
      assertOneLine(task, Cli.exitCodes.NotFound, 'Registered task named "nope" not found.')
      assertOneLine(worker, Cli.exitCodes.NotFound, "worker-9")
      assert.strictEqual(yield* (yield* app.getTask("report-daily")).status, "running")
    })
  )

  it.scoped("a missing or wrong API key exits 3; --api-key wins over INSPECTOR_API_KEY, which is read", () =>
    Effect.gen(function* () {
      const { app, port } = yield* served
      const [missing, wrong, wrongOverEnv, fromEnv] = yield* Effect.all(
        [
          fiberapp(["inspect", "--port", port]),
          fiberapp(["inspect", "cancel", "main", "report-daily", "--port", port, "--api-key", "wrong"]),
          fiberapp(["inspect", "--port", port, "--api-key", "wrong"], { INSPECTOR_API_KEY: apiKey }),
          fiberapp(["inspect", "tasks", "--json"], { INSPECTOR_API_KEY: apiKey, INSPECTOR_PORT: port })
        ],
        { concurrency: "unbounded" }
      )
      assertOneLine(missing, Cli.exitCodes.Refused, "needs an API key: give --api-key or set INSPECTOR_API_KEY")
      assertOneLine(wrong, Cli.exitCodes.Refused, `The inspector at http://127.0.0.1:${port} refused the API key.`)
      assertOneLine(wrongOverEnv, Cli.exitCodes.Refused, "refused the API key")
      assert.strictEqual(fromEnv.code, 0, fromEnv.stderr)
      assert.lengthOf(names(fromEnv), 4)
      assert.strictEqual(yield* (yield* app.getTask("report-daily")).status, "running")
    })
  )

  it.scoped("an unreachable inspector exits 2 with one line", () =>
    Effect.gen(function* () {
      const closed = String(yield* freePort)
      const [byOption, byEnv] = yield* Effect.all(
        [fiberapp(["inspect", "tasks", "--port", closed]), fiberapp(["inspect"], { INSPECTOR_PORT: closed })],
        { concurrency: "unbounded" }
      )
      assertOneLine(byOption, Cli.exitCodes.Unreachable, `Cannot reach the inspector at http://127.0.0.1:${closed}`)
      assertOneLine(byEnv, Cli.exitCodes.Unreachable, `http://127.0.0.1:${closed}`)
    })
  )

  it.scoped("options given to inspect reach its subcommands; a subcommand's own win", () =>
    Effect.gen(function* () {
      const { key, port } = yield* served
      const closed = String(yield* freePort)
      const [before, after] = yield* Effect.all(
        [
          fiberapp(["inspect", "--port", port, ...key, "--json", "tasks", "--status", "succeeded"]),
          fiberapp(["inspect", "--port", closed, "tasks", "--port", port, ...key, "--json"])
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(before.code, 0, before.stderr)
      assert.deepStrictEqual(names(before), ["done"])
      assert.strictEqual(after.code, 0, after.stderr)
      assert.lengthOf(names(after), 4)
    })
  )

  it.scoped("restart, scale and shutdown ask the supervisor with what was given", () =>
    Effect.gen(function* () {
      const { key, port, restarts, scales, shutdown } = yield* served
      const [all, some, scaled] = yield* Effect.all(
        [
          fiberapp(["inspect", "restart", "--port", port, ...key]),
          fiberapp(["inspect", "restart", "worker-1", "worker-2", "--no-zero-downtime", "--port", port, ...key]),
          fiberapp(["inspect", "scale", "3", "--port", port, ...key, "--json"])
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(all.code, 0, all.stderr)
      assert.match(all.stdout, /^Restarted all workers \(zero-downtime\)\.\n\nWORKER +STATE/)
      assert.strictEqual(some.code, 0, some.stderr)
      assert.include(some.stdout, "Restarted worker-1, worker-2.")
      const asked = (yield* Ref.get(restarts)).map((options) => JSON.stringify(options)).sort()
      assert.deepStrictEqual(asked, [
        '{"workers":["worker-1","worker-2"],"zeroDowntime":false}',
        '{"zeroDowntime":true}'
      ])
      assert.strictEqual(scaled.code, 0, scaled.stderr)
      assert.strictEqual(JSON.parse(scaled.stdout).replicas, 3)
      assert.deepStrictEqual(yield* Ref.get(scales), [3])
      assert.isFalse(yield* Deferred.isDone(shutdown))
      const stopped = yield* fiberapp(["inspect", "shutdown", "--port", port, ...key])
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.strictEqual(stopped.stdout, "The server is shutting down.\n")
      assert.isTrue(yield* Deferred.isDone(shutdown))
    })
  )

  it.scoped("bad input exits 1 and asks nothing; what the inspector cannot do exits 5", () =>
    Effect.gen(function* () {
      const { alonePort, key, port, scales } = yield* served
      const [zero, status, badPort, badEnvPort, alone] = yield* Effect.all(
        [
          fiberapp(["inspect", "scale", "0", "--port", port, ...key]),
          fiberapp(["inspect", "tasks", "--status", "bogus", "--port", port, ...key]),
          fiberapp(["inspect", "--port", "70000"]),
          fiberapp(["inspect"], { INSPECTOR_PORT: "abc" }),
          fiberapp(["inspect", "restart", "--port", alonePort])
        ],
        { concurrency: 3 }
      )
      assert.strictEqual(zero.code, Cli.exitCodes.BadInput)
      assert.include(zero.stderr, "Invalid number of workers 0: use 1 to 256.")
      assert.deepStrictEqual(yield* Ref.get(scales), [])
      assert.strictEqual(status.code, Cli.exitCodes.BadInput)
      assert.include(status.stderr, "Expected one of the following cases: pending, running")
      assert.strictEqual(badPort.code, Cli.exitCodes.BadInput)
      assert.include(badPort.stderr, "Invalid port 70000: use 1 to 65535.")
      assert.strictEqual(badEnvPort.code, Cli.exitCodes.BadInput)
      assert.include(badEnvPort.stderr, 'Invalid data at INSPECTOR_PORT: "expected a port from 1 to 65535, got abc"')
      for (const run of [zero, status, badPort, badEnvPort]) assert.notMatch(run.stderr, /\n\s+at /)
      assertOneLine(alone, Cli.exitCodes.Failed, "The inspector answered 409: Cannot restart workers")
    })
  )
})
