import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Cluster, isAlive, type Line, request, spawnCluster, table, waitFor } from "./fixtures/workers-harness.js"

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))

/** A copy of the worker fixture in a folder of its own inside the repository (so its imports resolve), to edit. */
const copyFixture = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = join(fixtures, `.reload-${process.pid}-${Date.now()}`)
    mkdirSync(dir)
    const source = readFileSync(join(fixtures, "workers-app.ts"), "utf8").replaceAll('"../../src/', '"../../../src/')
    const script = join(dir, "workers-app.ts")
    writeFileSync(script, source)
    return { dir, script, source }
  }),
  ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const named = (lines: ReadonlyArray<Line>, what: string) => lines.filter((l) => l.what === what)
const first = (lines: ReadonlyArray<Line>, what: string, after = 0) =>
  lines.find((l) => l.what === what && l.at >= after)

const pidOf = (cluster: Cluster) =>
  Effect.map(request(cluster.port, "/pid"), (response) => (JSON.parse(response.body) as { pid: number }).pid)

describe("auto-reload", () => {
  it.scopedLive(
    "a source change restarts the workers with zero downtime, the reload listeners in Sanic's order; a syntax error leaves the old worker serving",
    () =>
      Effect.gen(function* () {
        const copy = yield* copyFixture
        // One worker: auto-reload still runs a primary, which is what restarts it.
        const cluster = yield* spawnCluster(
          { AUTO_RELOAD: "true", WORKERS: "1", GRACEFUL_SHUTDOWN_TIMEOUT: "5" },
          copy.script
        )
        yield* waitFor(
          cluster,
          "the primary to serve",
          () => cluster.lines().find((l) => l.role === "main" && l.what === "serving"),
          "90 seconds"
        )
        const rows = yield* table(cluster)
        assert.deepStrictEqual(
          rows.map((w) => w.name),
          ["worker-0"]
        )
        const old = rows[0]!.pid
        assert.strictEqual(yield* pidOf(cluster), old)
        let lines = cluster.lines()
        const reloadStart = first(lines, "reload_process_start")!
        assert.isAtLeast(reloadStart.at, first(lines, "main_process_start end")!.at)
        assert.isAtMost(reloadStart.at, first(lines, "main_process_ready")!.at)
        assert.strictEqual(reloadStart.pid, cluster.pid)

        // A change: the workers restart.
        appendFileSync(copy.script, "\n// touched\n")
        const after = yield* waitFor(
          cluster,
          "the reload to end",
          () => first(cluster.lines(), "after_reload_trigger"),
          "90 seconds"
        )
        lines = cluster.lines()
        const before = first(lines, "before_reload_trigger")!
        const fresh = lines.find(
          (l) => l.role === "worker:worker-0" && l.what === "after_server_start" && l.pid !== old
        )!
        assert.isDefined(fresh)
        assert.isTrue(before.at <= fresh.at && fresh.at <= after.at, "not before_reload_trigger < new worker < after")
        assert.deepStrictEqual([before.pid, after.pid], [cluster.pid, cluster.pid])
        assert.strictEqual((yield* table(cluster))[0]!.pid, fresh.pid)
        assert.strictEqual(yield* pidOf(cluster), fresh.pid)
        yield* waitFor(cluster, "the old worker to stop", () => (!isAlive(old) ? true : undefined), "30 seconds")

        // A syntax error: the new worker cannot start, the one serving goes on, the failure is logged once.
        writeFileSync(copy.script, `${copy.source}\nconst = ;\n`)
        yield* waitFor(
          cluster,
          "the failed reload to end",
          () => (named(cluster.lines(), "after_reload_trigger").length === 2 ? true : undefined),
          "90 seconds"
        )
        const failures = cluster.output().split("Auto-reload: the workers were not restarted").length - 1
        assert.strictEqual(failures, 1, cluster.output().slice(-3000))
        assert.strictEqual(yield* pidOf(cluster), fresh.pid)
        assert.strictEqual((yield* table(cluster))[0]!.state, "serving")

        // Fixed: the next change restarts it.
        writeFileSync(copy.script, copy.source)
        yield* waitFor(
          cluster,
          "the third reload to end",
          () => (named(cluster.lines(), "after_reload_trigger").length === 3 ? true : undefined),
          "90 seconds"
        )
        const third = (yield* table(cluster))[0]!
        assert.notStrictEqual(third.pid, fresh.pid)
        assert.strictEqual(yield* pidOf(cluster), third.pid)

        cluster.child.kill("SIGTERM")
        const exit = yield* cluster.exit.pipe(Effect.timeout("60 seconds"))
        assert.deepStrictEqual(exit, { code: 0, signal: null })
        lines = cluster.lines()
        const stop = first(lines, "reload_process_stop")!
        assert.isAtMost(stop.at, first(lines, "main_process_stop")!.at)
        assert.strictEqual(named(lines, "reload_process_start").length, 1)
      }),
    300_000
  )

  it.scopedLive(
    "never on by default: a server with one worker serves alone, without a watcher",
    () =>
      Effect.gen(function* () {
        const cluster = yield* spawnCluster({ WORKERS: "1" })
        yield* waitFor(
          cluster,
          "the server to serve",
          () => cluster.lines().find((l) => l.what === "serving"),
          "90 seconds"
        )
        const rows = yield* table(cluster)
        assert.deepStrictEqual(
          rows.map((w) => w.name),
          ["main"]
        )
        assert.strictEqual(named(cluster.lines(), "reload_process_start").length, 0)
      }),
    120_000
  )
})
