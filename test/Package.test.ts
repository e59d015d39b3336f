import { execFile } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { freePort } from "./utils.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const pinned = ["effect@3.22.4", "@effect/platform@0.97.2", "@effect/platform-node@0.108.2"]

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  Effect.async<string, Error>((resume) => {
    const child = execFile(command, args, { cwd, env, timeout: 150_000 }, (error, stdout, stderr) => {
      if (error === null) resume(Effect.succeed(stdout))
      else resume(Effect.fail(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}`)))
    })
    return Effect.sync(() => child.kill())
  })

/** Runs a command that may fail, for its exit code and output. */
const exec = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) =>
  Effect.async<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(command, args, { cwd, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resume(
        Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
      )
    )
    return Effect.sync(() => child.kill())
  })

/** A fresh directory, removed when the test's scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "fiberapp-package-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("the published package", () => {
  it.scopedLive(
    "packed, installed in a fresh project with its peers, and run with plain node: root and subpath imports and the fiberapp bin work",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* run("npm", ["run", "build"], root)
        yield* run("npm", ["pack", "--pack-destination", dir, "--silent"], root)
        const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))
        assert.isDefined(tarball, "npm pack made a tarball")
        const project = join(dir, "project")
        yield* run("mkdir", ["-p", project], dir)
        writeFileSync(
          join(project, "package.json"),
          JSON.stringify({ name: "consumer", private: true, type: "module" })
        )
        yield* run(
          "npm",
          ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball!), ...pinned],
          project
        )
        copyFileSync(join(root, "test/fixtures/package/main.js"), join(project, "main.js"))
        // A clean environment: no PORT, HOST or WORKERS from the caller's shell.
        const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }
        const output = yield* run(process.execPath, ["main.js"], project, env)
        assert.include(output, "200 hello forever")
        assert.include(output, "fiberapp/Cli: not found exits 4")
        // The fleet's packages are optional peers, not installed here: the root import never loads them, and a
        // fleet without them fails its start with one line that says what to install.
        const fleet = yield* exec(process.execPath, ["main.js"], project, { ...env, FIXTURE_FLEET: "1" })
        assert.strictEqual(fleet.code, 1)
        assert.match(
          fleet.stderr,
          /ServeError: A fleet needs packages that are not installed \(.*@effect\/sql-pg.*\): npm install @effect\/cluster@0\.60 /m
        )
        // The bin runs from dist with plain node: its dependencies came with the package.
        const version = yield* exec("npx", ["--no", "--", "fiberapp", "--version"], project, env)
        assert.strictEqual(version.stdout.trim(), JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version)
        const closed = yield* freePort
        const unreachable = yield* exec(
          "npx",
          ["--no", "--", "fiberapp", "inspect", "--port", String(closed)],
          project,
          env
        )
        assert.strictEqual(unreachable.code, 2, unreachable.stderr)
        assert.strictEqual(
          unreachable.stderr,
          `fiberapp: Cannot reach the inspector at http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}.\n`
        )
      }),
    180_000
  )
})
