/**
 * The fleet on the inspector's page: the event stream's fleet part against a stub member (changes only, a status
 * while the database does not answer), then one lone machine of `fleet-app.ts` on a real database, in Debian's
 * Chromium (playwright-core): its Machines row, the `probe` one-in-fleet task, cancelled from the page.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Logger, LogLevel, Option, Ref, Schedule } from "effect"
import type { Browser, Dialog, Page } from "playwright-core"
import type { Machine as FleetMachine, FleetTask } from "../../src/Fleet.js"
import type { Call } from "../../src/internal/fleet/bus.js"
import { FleetError } from "../../src/internal/fleet/errors.js"
import type { Member } from "../../src/internal/fleet/member.js"
import { serve } from "../../src/internal/inspector/http.js"
import type * as Workers from "../../src/Workers.js"
import { eventually, freshDatabase, type Machine, spawnMachine } from "../fixtures/fleet-harness.js"
import { launchChromium, openEvents } from "../fixtures/page.js"
import { request } from "../fixtures/workers-harness.js"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

/** Polls `check` until it gives a value, for at most `timeout`; dies with `what` otherwise. */
const until = <A>(what: string, check: () => A | undefined, timeout: Duration.DurationInput = "10 seconds") =>
  Effect.suspend(() => {
    const value = check()
    return value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value)
  }).pipe(
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
    Effect.catchAll(() => Effect.dieMessage(`Timed out after ${Duration.format(timeout)} waiting for ${what}`))
  )

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const launch = launchChromium

/**
 * A page of the inspector at `port`, closed with the scope (before the server: its stream would hold the server's
 * close); failed loads (the browser's own /favicon.ico aside) and errors gathered.
 */
const openPage = (browser: Browser, port: number) =>
  Effect.gen(function* () {
    const page = yield* Effect.acquireRelease(
      promise(() => browser.newPage({ viewport: { width: 1280, height: 860 } })),
      (page) => promise(() => page.close())
    )
    page.setDefaultTimeout(20_000)
    const problems: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        problems.push(message.text())
      }
    })
    page.on("response", (response) => {
      if (response.status() >= 400 && new URL(response.url()).pathname !== "/favicon.ico") {
        problems.push(`${response.status()} ${response.url()}`)
      }
    })
    page.on("pageerror", (error) => problems.push(String(error)))
    yield* promise(() => page.goto(`http://127.0.0.1:${port}/`))
    return { page, problems }
  })

/** Clicks, and accepts the confirmation the click brings up; gives the question. */
const clickConfirming = (page: Page, selector: string) =>
  promise(async () => {
    const asked = new Promise<string>((resolve) =>
      page.once("dialog", (dialog: Dialog) => {
        resolve(`${dialog.type()}: ${dialog.message()}`)
        void dialog.accept()
      })
    )
    await page.locator(selector).click()
    return await asked
  })

const supervisor: Workers.SupervisorService = {
  mode: "single",
  app: "fleet-page",
  table: Effect.succeed([]),
  tasks: Effect.succeed([]),
  cancelTask: () => Effect.void,
  restart: () => Effect.void,
  scale: () => Effect.void,
  shutdown: Effect.void
}

const machineOf = (machine: string, lastSeen: number): FleetMachine => ({
  machine,
  state: "up",
  pid: 1,
  url: `http://127.0.0.1/${machine}`,
  startedAt: 0,
  lastSeen,
  workers: [],
  tasks: []
})

const taskOf = (name: string, status: FleetTask["status"]): FleetTask => ({
  name,
  status,
  machine: "b",
  worker: "worker-0",
  runs: 1,
  failures: 0,
  updatedAt: 0
})

const unavailable = new FleetError({ reason: "Unavailable", detail: "The fleet's database is unavailable: down" })

/** An inspector of machine "a" of a stub fleet (machines a and b), whose tables and calls the test steers and sees. */
const stubFleet = Effect.gen(function* () {
  const machines = yield* Ref.make<ReadonlyArray<FleetMachine>>([machineOf("a", 1), machineOf("b", 1)])
  const tasks = yield* Ref.make<ReadonlyArray<FleetTask>>([taskOf("probe", "running"), taskOf("report", "running")])
  const down = yield* Ref.make(false)
  const asked = yield* Ref.make<ReadonlyArray<readonly [string, Call]>>([])
  const whenUp = <A>(ref: Ref.Ref<A>) =>
    Effect.flatMap(Ref.get(down), (isDown) => (isDown ? Effect.fail(unavailable) : Ref.get(ref)))
  const member: Member = {
    machine: "a",
    heartbeat: Duration.millis(100),
    publish: () => Effect.void,
    machines: whenUp(machines),
    tasks: whenUp(tasks),
    ask: (machine, call) =>
      Effect.as(
        Ref.update(asked, (calls) => [...calls, [machine, call] as const]),
        { status: 200 }
      )
  }
  const address = yield* serve(
    supervisor,
    { port: 0, host: "127.0.0.1", apiKey: Option.none() },
    undefined,
    Effect.succeed(member)
  )
  return { port: address.port, machines, tasks, down, asked }
})

describe("the fleet's part of the page's event stream", () => {
  it.scopedLive("a fleet snapshot, then only the rows that changed, and a status while the database is away", () =>
    Effect.gen(function* () {
      const { down, machines, port, tasks } = yield* stubFleet
      const stream = yield* openEvents(port)
      assert.strictEqual(stream.status, 200)
      const fleet = yield* until("the fleet snapshot", () => stream.events.find((e) => e.event === "fleet"))
      assert.strictEqual(stream.events[0]!.event, "snapshot", "the process's snapshot comes first")
      assert.strictEqual(fleet.data.machine, "a")
      assert.deepStrictEqual(
        fleet.data.machines.map((m: any) => [m.machine, m.state, m.workers, m.self]),
        [
          ["a", "up", 0, true],
          ["b", "up", 0, false]
        ]
      )
      assert.deepStrictEqual(
        fleet.data.tasks.map((t: any) => [t.name, t.status, t.machine, t.worker]),
        [
          ["probe", "running", "b", "worker-0"],
          ["report", "running", "b", "worker-0"]
        ]
      )

      // One task ends, one machine beats: only those rows.
      yield* Ref.set(tasks, [taskOf("probe", "cancelled"), taskOf("report", "running")])
      yield* Ref.set(machines, [machineOf("a", 1), machineOf("b", 2)])
      const changed = yield* until("the fleet's changes", () =>
        stream.events.find(
          (e) => e.event === "fleet-changes" && e.data.tasks.upsert.some((t: any) => t.status === "cancelled")
        )
      )
      assert.deepStrictEqual(
        changed.data.tasks.upsert.map((t: any) => [t.name, t.status]),
        [["probe", "cancelled"]]
      )
      assert.deepStrictEqual(
        changed.data.machines.upsert.map((m: any) => [m.machine, m.lastSeen]),
        [["b", 2]]
      )
      assert.deepStrictEqual([changed.data.machines.remove, changed.data.tasks.remove], [[], []])

      // The database goes away: one status line, the stream goes on; back, the status clears.
      yield* Ref.set(down, true)
      const status = yield* until("the fleet's status", () => stream.events.find((e) => e.event === "fleet-status"))
      assert.deepStrictEqual(status.data, { now: status.data.now, machine: "a", error: unavailable.message })
      yield* Ref.set(machines, [machineOf("a", 3)])
      yield* Ref.set(down, false)
      const back = yield* until("the fleet's status cleared", () =>
        stream.events.find((e) => e.event === "fleet-status" && e.data.error === null)
      )
      const removed = yield* until("machine b removed", () =>
        stream.events.find((e) => e.event === "fleet-changes" && e.data.machines.remove.includes("b"))
      )
      assert.isAtMost(stream.events.indexOf(back), stream.events.indexOf(removed), "the status clears first")
      assert.strictEqual(
        stream.events.filter((e) => e.event === "fleet-status" && e.data.error !== null).length,
        1,
        "the same failure is said once"
      )
      assert.strictEqual(stream.events.filter((e) => e.event === "fleet").length, 1)
    }).pipe(quiet)
  )

  it.scopedLive(
    "in Chromium: another machine's workers restarted, its task cancelled there, the status line; no fleet, no section",
    () =>
      Effect.gen(function* () {
        const { asked, down, port } = yield* stubFleet
        const browser = yield* launch
        const { page, problems } = yield* openPage(browser, port)
        yield* promise(() => page.locator('#machines tr[data-machine="a"][data-self="true"]').waitFor())
        assert.strictEqual(yield* promise(() => page.locator('#machines tr[data-machine="a"] button').count()), 0)

        const restart = yield* clickConfirming(page, '#machines tr[data-machine="b"] button.restart-machine')
        assert.strictEqual(
          restart,
          "confirm: Restart every worker of b? Each new process serves before the old one stops."
        )
        yield* promise(() => page.locator("#notice", { hasText: "Restarted the workers of b." }).waitFor())
        const cancel = yield* clickConfirming(page, '#fleet-tasks tr[data-name="report"] button.cancel-fleet-task')
        assert.strictEqual(cancel, 'confirm: Cancel one-in-fleet task "report" on b (worker-0)?')
        yield* promise(() =>
          page.locator("#notice", { hasText: 'Cancelled one-in-fleet task "report" on b.' }).waitFor()
        )
        assert.deepStrictEqual(yield* Ref.get(asked), [
          ["b", { _tag: "restart", zeroDowntime: true }],
          ["b", { _tag: "cancel", worker: "worker-0", name: "report" }]
        ])

        // The database away: the status line, the rows as last seen; back, the line goes.
        yield* Ref.set(down, true)
        yield* promise(() => page.locator("#fleet-status", { hasText: unavailable.message }).waitFor())
        assert.strictEqual(yield* promise(() => page.locator("#connection").textContent()), "live")
        assert.strictEqual(yield* promise(() => page.locator("#machines tr[data-machine]").count()), 2)
        yield* Ref.set(down, false)
        yield* promise(() => page.locator("#fleet-status").waitFor({ state: "hidden" }))
        assert.deepStrictEqual(problems, [])

        // Without a fleet the section stays hidden.
        const alone = yield* serve(supervisor, { port: 0, host: "127.0.0.1", apiKey: Option.none() })
        const lone = yield* openPage(browser, alone.port)
        yield* promise(() => lone.page.locator("#connection.live").waitFor())
        assert.isTrue(yield* promise(() => lone.page.locator("#fleet").isHidden()))
        assert.deepStrictEqual(lone.problems, [])
      }).pipe(quiet),
    60_000
  )
})

interface FleetView {
  readonly machines: ReadonlyArray<{ readonly machine: string; readonly state: string }>
  readonly tasks: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly machine?: string
    readonly runs: number
  }>
}

const fleetOf = (machine: Machine): Effect.Effect<FleetView | undefined> =>
  request(machine.inspectorPort, "/fleet").pipe(
    Effect.map((response) => (response.status === 200 ? (JSON.parse(response.body) as FleetView) : undefined)),
    Effect.orElseSucceed(() => undefined)
  )

describe("the page of a fleet's machine, in Chromium", () => {
  it.scopedLive(
    "shows the machine up and the probe running; cancels the probe from the page",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase
        const a = yield* spawnMachine(url, "machine-a", { WORKERS: "1" })
        const detail = () => a.output().slice(-3000)
        yield* eventually(
          // Its runs come from the machine's heartbeat, though a machine serving alone records no worker in the table.
          "machine-a up with the probe running (its run counted) in /fleet",
          Effect.map(fleetOf(a), (fleet) =>
            fleet?.machines.some((m) => m.machine === "machine-a" && m.state === "up") &&
            fleet.tasks.some(
              (t) => t.name === "probe" && t.status === "running" && t.machine === "machine-a" && t.runs === 1
            )
              ? fleet
              : undefined
          ),
          "60 seconds",
          detail
        )

        // The stream carries the fleet's snapshot, with the worker running the probe (from the heartbeat).
        const stream = yield* openEvents(a.inspectorPort)
        assert.strictEqual(stream.status, 200)
        const fleet = yield* until("the fleet snapshot", () => stream.events.find((e) => e.event === "fleet"))
        assert.strictEqual(fleet.data.machine, "machine-a")
        assert.deepStrictEqual(
          fleet.data.machines.map((m: any) => [m.machine, m.state, m.workers, m.self]),
          [["machine-a", "up", 1, true]]
        )
        assert.deepStrictEqual(
          fleet.data.tasks.map((t: any) => [t.name, t.status, t.machine, t.worker]),
          [["probe", "running", "machine-a", "main"]]
        )

        const browser = yield* launch
        const { page, problems } = yield* openPage(browser, a.inspectorPort)

        yield* promise(() => page.locator("#fleet").waitFor({ state: "visible" }))
        const self = '#machines tr[data-machine="machine-a"][data-state="up"][data-self="true"]'
        yield* promise(() => page.locator(self).waitFor())
        assert.include(yield* promise(() => page.locator(self).innerText()), "this machine")
        assert.strictEqual(yield* promise(() => page.locator(`${self} button`).count()), 0, "no action on itself")
        assert.isTrue(yield* promise(() => page.locator("#fleet-status").isHidden()))
        const probe = '#fleet-tasks tr[data-name="probe"][data-machine="machine-a"]'
        yield* promise(() => page.locator(`${probe}[data-status="running"]`).waitFor())

        // Cancelled through its machine, once confirmed.
        const asked = yield* clickConfirming(page, `${probe} button.cancel-fleet-task`)
        assert.match(asked, /^confirm: Cancel one-in-fleet task "probe" on machine-a \(.+\)\?$/)
        yield* promise(() => page.locator(`${probe}[data-status="cancelled"]`).waitFor())
        yield* promise(() => page.locator("#notice", { hasText: 'Cancelled one-in-fleet task "probe"' }).waitFor())
        assert.strictEqual((yield* fleetOf(a))?.tasks.find((t) => t.name === "probe")?.status, "cancelled")
        assert.strictEqual(yield* promise(() => page.locator(`${probe} button`).count()), 0)
        assert.deepStrictEqual(problems, [])
      }),
    90_000
  )
})
