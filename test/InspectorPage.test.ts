/**
 * The inspector's page: plain HTTP checks of what it serves and refuses, then Debian's Chromium (driven by
 * playwright-core, no downloaded browser) against a real server with two workers and an API key.
 * `UPDATE_SCREENSHOT=1` also saves the page to docs/inspector.png for the README.
 */
import { mkdirSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Option, Redacted, Schedule } from "effect"
import type { Browser, Dialog, Page } from "playwright-core"
import * as App from "../src/App.js"
import * as Inspector from "../src/Inspector.js"
import * as Single from "../src/internal/workers/single.js"
import { launchChromium, openEvents } from "./fixtures/page.js"
import { type Cluster, ClusterTag, clusterLayer, inspect, request, table, waitFor } from "./fixtures/workers-harness.js"

const apiKey = "page-test-key"
const quiet = Logger.withMinimumLogLevel(LogLevel.None)

/** Polls `check` until it gives a value, for at most `timeout`; dies with `what` otherwise. */
const eventually = <A>(what: string, check: () => A | undefined, timeout: Duration.DurationInput = "10 seconds") =>
  Effect.suspend(() => {
    const value = check()
    return value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value)
  }).pipe(
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
    Effect.catchAll(() => Effect.dieMessage(`Timed out after ${Duration.format(timeout)} waiting for ${what}`))
  )

/** An app serving alone with a running task, inspected with an API key on a random port. */
const inspected = (tasks = 1) =>
  Effect.gen(function* () {
    const app = yield* App.make({ name: "paged", gracefulShutdownTimeout: "2 seconds" })
    yield* app.start
    for (let i = 0; i < tasks; i++) yield* app.addTask(Effect.never, { name: `job-${String(i).padStart(5, "0")}` })
    const address = yield* Inspector.serve(Single.make(app), {
      port: 0,
      host: "127.0.0.1",
      apiKey: Option.some(Redacted.make(apiKey))
    })
    return { app, port: address.port }
  })

const auth = { authorization: `Bearer ${apiKey}` }

describe("the page over plain HTTP", () => {
  it.scopedLive("a browser's Accept gets the page without the key; any other Accept gets JSON as before", () =>
    Effect.gen(function* () {
      const { port } = yield* inspected()
      const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
      const page = yield* request(port, "/", { headers: { accept: browserAccept } })
      assert.strictEqual(page.status, 200)
      assert.include(page.headers["content-type"], "text/html")
      assert.include(page.body, '<script src="/page/app.js" defer></script>')
      assert.notInclude(page.body, "<script>", "no inline script")
      for (const accept of [undefined, "*/*", "application/json", "text/plain"]) {
        const headers = accept === undefined ? auth : { ...auth, accept }
        const response = yield* request(port, "/", { headers })
        assert.strictEqual(response.status, 200, String(accept))
        assert.include(response.headers["content-type"], "application/json")
        const body = JSON.parse(response.body)
        assert.strictEqual(body.app, "paged")
        assert.deepStrictEqual(
          body.workers.map((w: any) => w.name),
          ["main"]
        )
        // the JSON still needs the key
        const refused = yield* request(port, "/", accept === undefined ? {} : { headers: { accept } })
        assert.strictEqual(refused.status, 401)
      }
      const script = yield* request(port, "/page/app.js")
      assert.strictEqual(script.status, 200)
      assert.include(script.headers["content-type"], "text/javascript")
      assert.include(script.body, "/page/events")
      const style = yield* request(port, "/page/app.css")
      assert.include(style.headers["content-type"], "text/css")
      assert.strictEqual((yield* request(port, "/page/app.js", { method: "POST" })).status, 401)
    }).pipe(quiet)
  )

  it.scopedLive("every answer carries a CSP of the inspector's own origin, nosniff and no-referrer", () =>
    Effect.gen(function* () {
      const { port } = yield* inspected()
      const answers = [
        yield* request(port, "/", { headers: { accept: "text/html" } }),
        yield* request(port, "/page/app.js"),
        yield* request(port, "/page/app.css"),
        yield* request(port, "/tasks", { headers: auth }),
        yield* request(port, "/tasks")
      ]
      for (const answer of answers) {
        const csp = String(answer.headers["content-security-policy"])
        assert.include(csp, "default-src 'self'")
        assert.include(csp, "script-src 'self'")
        assert.notInclude(csp, "unsafe-inline")
        assert.include(csp, "frame-ancestors 'none'")
        assert.strictEqual(answer.headers["x-content-type-options"], "nosniff")
        assert.strictEqual(answer.headers["referrer-policy"], "no-referrer")
      }
    }).pipe(quiet)
  )

  it.scopedLive("a POST from a foreign Origin is refused with 403 and does nothing, even with the key", () =>
    Effect.gen(function* () {
      const { app, port } = yield* inspected()
      for (const origin of ["https://evil.example", `http://127.0.0.1:${port + 1}`, "null"]) {
        const refused = yield* request(port, "/tasks/main/job-00000/cancel", {
          method: "POST",
          headers: { ...auth, origin }
        })
        assert.strictEqual(refused.status, 403, origin)
        assert.include(JSON.parse(refused.body).error, "not pages of other sites")
      }
      assert.strictEqual(yield* (yield* app.getTask("job-00000")).status, "running")
      const own = yield* request(port, "/tasks/main/job-00000/cancel", {
        method: "POST",
        headers: { ...auth, origin: `http://127.0.0.1:${port}` }
      })
      assert.strictEqual(own.status, 200, own.body)
      assert.strictEqual(yield* (yield* app.getTask("job-00000")).status, "cancelled")
    }).pipe(quiet)
  )

  it.scopedLive("the event stream needs the key; then a snapshot, then only the rows that changed", () =>
    Effect.gen(function* () {
      const { app, port } = yield* inspected(3)
      for (const headers of [{}, { authorization: "Bearer wrong" }]) {
        const refused = yield* request(port, "/page/events", { headers })
        assert.strictEqual(refused.status, 401)
        assert.deepStrictEqual(JSON.parse(refused.body), { error: "Bad API key" })
      }
      const stream = yield* openEvents(port, auth)
      assert.strictEqual(stream.status, 200)
      const snapshot = yield* eventually("the snapshot", () => stream.events[0])
      assert.strictEqual(snapshot.event, "snapshot")
      assert.strictEqual(snapshot.data.process.app, "paged")
      assert.deepStrictEqual(
        snapshot.data.workers.map((w: any) => w.name),
        ["main"]
      )
      assert.deepStrictEqual(
        snapshot.data.tasks.map((t: any) => [t.worker, t.name, t.status]),
        [
          ["main", "job-00000", "running"],
          ["main", "job-00001", "running"],
          ["main", "job-00002", "running"]
        ]
      )
      yield* app.addTask(Effect.never, { name: "late" })
      const added = yield* eventually("the added task", () =>
        stream.events.find((e) => e.event === "changes" && e.data.tasks.upsert.some((t: any) => t.name === "late"))
      )
      assert.deepStrictEqual(
        added.data.tasks.upsert.map((t: any) => [t.name, t.status]),
        [["late", "running"]],
        "only the new row"
      )
      assert.deepStrictEqual(added.data.workers, { upsert: [], remove: [] })
      yield* app.cancelTask("job-00001")
      const cancelled = yield* eventually("the cancelled task", () =>
        stream.events.find((e) => e.event === "changes" && e.data.tasks.upsert.some((t: any) => t.name === "job-00001"))
      )
      assert.deepStrictEqual(
        cancelled.data.tasks.upsert.map((t: any) => [t.name, t.status]),
        [["job-00001", "cancelled"]]
      )
      yield* app.purgeTasks
      const removed = yield* eventually("the purged task", () =>
        stream.events.find((e) => e.event === "changes" && e.data.tasks.remove.length > 0)
      )
      assert.deepStrictEqual(removed.data.tasks.remove, ["main\u0000job-00001"])
      assert.isTrue(stream.events.every((e, i) => (i === 0) === (e.event === "snapshot")))
    }).pipe(quiet)
  )
})

class BrowserTag extends Context.Tag("test/Browser")<BrowserTag, Browser>() {}

const browserLayer = Layer.scoped(BrowserTag, launchChromium)

/** A page in a fresh context (its own sessionStorage); console errors, CSP violations among them, are gathered. */
const openPage = (url: string) =>
  Effect.gen(function* () {
    const browser = yield* BrowserTag
    const context = yield* Effect.acquireRelease(
      Effect.promise(() => browser.newContext({ viewport: { width: 1280, height: 860 } })),
      (context) => Effect.promise(() => context.close())
    )
    const page = yield* Effect.promise(() => context.newPage())
    page.setDefaultTimeout(30_000)
    const problems: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().includes("401")) problems.push(message.text())
    })
    page.on("pageerror", (error) => problems.push(String(error)))
    yield* Effect.promise(() => page.goto(url))
    return { page, problems }
  })

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Clicks, and accepts the confirmation the click brings up (it blocks the click until answered); gives the question. */
const clickConfirming = (page: Page, selector: string) =>
  promise(async () => {
    const asked = new Promise<{ readonly type: string; readonly question: string }>((resolve) =>
      page.once("dialog", (dialog: Dialog) => {
        resolve({ type: dialog.type(), question: dialog.message() })
        void dialog.accept()
      })
    )
    await page.locator(selector).click()
    return await asked
  })

const enterKey = (page: Page, key: string) =>
  promise(async () => {
    await page.locator("#key").fill(key)
    await page.locator("#login button[type=submit]").click()
  })

const taskStatus = (cluster: Cluster, name: string) =>
  Effect.map(inspect(cluster, "/tasks"), (response) => {
    const tasks = JSON.parse(response.body).tasks as ReadonlyArray<{ name: string; status: string; worker: string }>
    return tasks.find((task) => task.name === name)
  })

const screenshotTarget = fileURLToPath(new URL("../docs/inspector.png", import.meta.url))

layer(
  Layer.merge(clusterLayer({ WORKERS: "2", GRACEFUL_SHUTDOWN_TIMEOUT: "5", FIXTURE_ONE_WORKER: "1" }), browserLayer),
  { excludeTestServices: true, timeout: "120 seconds" }
)("the page in Chromium, on a server with two workers", (it) => {
  const ready = Effect.gen(function* () {
    const cluster = yield* ClusterTag
    yield* waitFor(
      cluster,
      "the primary to serve",
      () => cluster.lines().find((l) => l.role === "main" && l.what === "serving"),
      "90 seconds"
    )
    return cluster
  })

  it.scoped(
    "asks for the key, shows a task added, cancels it, restarts a worker; a wrong key changes nothing",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ready
        const url = `http://127.0.0.1:${cluster.inspectorPort}/`
        const { page, problems } = yield* openPage(url)

        // The key is asked for once, kept in sessionStorage, never in the URL or a cookie.
        yield* promise(() => page.locator("#login").waitFor({ state: "visible" }))
        yield* enterKey(page, cluster.apiKey)
        yield* promise(() => page.locator("#connection.live").waitFor())
        assert.strictEqual(
          yield* promise(() => page.evaluate(`sessionStorage.getItem("fiberapp-inspector-key")`)),
          cluster.apiKey
        )
        assert.notInclude(page.url(), cluster.apiKey)
        assert.strictEqual(yield* promise(() => page.evaluate("document.cookie")), "")
        assert.isTrue(yield* promise(() => page.locator("#login").isHidden()))

        // Both workers and the fixture's tasks show.
        yield* promise(() => page.locator('#workers tr[data-worker="worker-1"][data-state="serving"]').waitFor())
        const workers = yield* table(cluster)
        const before = workers.find((w) => w.name === "worker-0")!
        yield* promise(() => page.locator(`#workers tr[data-worker="worker-0"][data-pid="${before.pid}"]`).waitFor())
        yield* promise(() => page.locator('.row[data-name="ticker"][data-worker="worker-1"]').waitFor())

        // A task added in a worker appears, live.
        const added = JSON.parse((yield* request(cluster.port, "/add-task?name=browser-job", { method: "POST" })).body)
        const row = `.row[data-name="browser-job"][data-worker="${added.worker}"]`
        yield* promise(() => page.locator(`${row}[data-status="running"]`).waitFor())

        // Cancelled with a click, once confirmed; its status changes on the page.
        const asked = yield* clickConfirming(page, `${row} button.cancel`)
        assert.deepStrictEqual(asked, {
          type: "confirm",
          question: `Cancel task "browser-job" in ${added.worker}?`
        })
        yield* promise(() => page.locator(`${row}[data-status="cancelled"]`).waitFor())
        assert.strictEqual((yield* taskStatus(cluster, "browser-job"))?.status, "cancelled")

        // Filters: by name (with *) and by status.
        yield* promise(() => page.locator("#filter-name").fill("browser-*"))
        yield* promise(() => page.locator("#task-count", { hasText: /^1 of \d+$/ }).waitFor())
        yield* promise(() => page.locator("#filter-name").fill(""))
        yield* promise(() => page.locator("#filter-status").selectOption("cancelled"))
        yield* promise(() => page.locator(`${row}`).waitFor())
        // The cancelled row was there before the filter: wait for the filtered render, not just for that row.
        yield* promise(() =>
          page.waitForFunction(
            () => (globalThis as any).document.querySelectorAll('.row[data-name="ticker"]').length === 0,
            undefined,
            {
              timeout: 10_000
            }
          )
        )
        assert.strictEqual(yield* promise(() => page.locator('.row[data-name="ticker"]').count()), 0)
        yield* promise(() => page.locator("#filter-status").selectOption(""))

        // Restarting a worker (zero-downtime) gives it a new pid.
        const restart = yield* clickConfirming(page, '#workers tr[data-worker="worker-0"] button.restart')
        assert.include(restart.question, "Restart worker-0?")
        yield* promise(() =>
          page
            .locator(`#workers tr[data-worker="worker-0"][data-state="serving"]:not([data-pid="${before.pid}"])`)
            .waitFor({ timeout: 90_000 })
        )
        const after = (yield* table(cluster)).find((w) => w.name === "worker-0")!
        assert.notStrictEqual(after.pid, before.pid)
        yield* promise(() => page.locator(`#workers tr[data-worker="worker-0"][data-pid="${after.pid}"]`).waitFor())

        // The screenshot of the README, with a few more tasks.
        for (const name of ["mailer", "report-daily", "invoices-sync"]) {
          yield* request(cluster.port, `/add-task?name=${name}`, { method: "POST" })
        }
        yield* promise(() => page.locator('.row[data-name="invoices-sync"]').waitFor())
        yield* promise(() => page.locator("#notice").evaluate((node: any) => (node.hidden = true)))
        const shot = join(tmpdir(), `fiberapp-inspector-${process.pid}.png`)
        const target = process.env.UPDATE_SCREENSHOT === "1" ? screenshotTarget : shot
        mkdirSync(join(target, ".."), { recursive: true })
        yield* promise(() => page.screenshot({ path: target, fullPage: true }))
        assert.isAbove(statSync(target).size, 10_000)

        // A key that the inspector refuses at the time of an action: an error, and nothing is done.
        yield* promise(() => page.evaluate(`sessionStorage.setItem("fiberapp-inspector-key", "wrong-key")`))
        const mailer = (yield* taskStatus(cluster, "mailer"))!
        const mailerRow = `.row[data-name="mailer"][data-worker="${mailer.worker}"]`
        yield* clickConfirming(page, `${mailerRow} button.cancel`)
        yield* promise(() => page.locator("#error", { hasText: "refused the API key: nothing was done" }).waitFor())
        yield* promise(() => page.locator("#login").waitFor({ state: "visible" }))
        assert.strictEqual((yield* taskStatus(cluster, "mailer"))?.status, "running")
        assert.deepStrictEqual(problems, [])

        // A fresh page given a wrong key: an error, no data, and nothing changed on the server.
        const pidsBefore = (yield* table(cluster)).map((w) => w.pid)
        const wrong = yield* openPage(url)
        yield* promise(() => wrong.page.locator("#login").waitFor({ state: "visible" }))
        yield* enterKey(wrong.page, "not-the-key")
        yield* promise(() => wrong.page.locator("#error", { hasText: "refused the API key" }).waitFor())
        assert.isTrue(yield* promise(() => wrong.page.locator("#main").isHidden()))
        assert.isTrue(yield* promise(() => wrong.page.locator("#login").isVisible()))
        assert.strictEqual(yield* promise(() => wrong.page.locator(".row[data-name]").count()), 0)
        assert.deepStrictEqual(
          (yield* table(cluster)).map((w) => w.pid),
          pidsBefore
        )
        assert.strictEqual((yield* taskStatus(cluster, "mailer"))?.status, "running")
      }),
    // Generous: the machine may be busy; every wait inside has its own bound and says what it waited for.
    300_000
  )
})

layer(browserLayer, { excludeTestServices: true, timeout: "60 seconds" })("the page with 10,000 tasks", (it) => {
  it.scoped(
    "renders only the visible rows, scrolls to the last one, and filters by name and status",
    () =>
      Effect.gen(function* () {
        const { app, port } = yield* inspected(10_000)
        const { page, problems } = yield* openPage(`http://127.0.0.1:${port}/`)
        yield* enterKey(page, apiKey)
        yield* promise(() => page.locator("#task-count", { hasText: /^10000$/ }).waitFor())
        const rendered = yield* promise(() => page.locator(".row[data-name]").count())
        assert.isAbove(rendered, 5)
        assert.isBelow(rendered, 100, "only the rows in view (and a few around them) are in the document")
        yield* promise(() => page.locator("#tasks").evaluate((node: any) => node.scrollTo(0, node.scrollHeight)))
        yield* promise(() => page.locator('.row[data-name="job-09999"]').waitFor())
        assert.isBelow(yield* promise(() => page.locator(".row[data-name]").count()), 100)
        yield* promise(() => page.locator("#filter-name").fill("job-0000*"))
        yield* promise(() => page.locator("#task-count", { hasText: /^10 of 10000$/ }).waitFor())
        yield* promise(() => page.locator("#filter-name").fill(""))
        yield* app.cancelTask("job-04242")
        yield* promise(() => page.locator("#filter-status").selectOption("cancelled"))
        yield* promise(() => page.locator("#task-count", { hasText: /^1 of 10000$/ }).waitFor())
        yield* promise(() => page.locator('.row[data-name="job-04242"][data-status="cancelled"]').waitFor())
        assert.deepStrictEqual(problems, [])
      }).pipe(quiet),
    90_000
  )
})
