import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { FleetTask, Machine } from "../../Fleet.js"
import type { SupervisorService, WorkerInfo, WorkerTask } from "../../Workers.js"
import type { Member } from "../fleet/member.js"

/** How often the stream samples the supervisor's table and tasks; only what changed is sent. */
export const sampleEvery = Duration.millis(500)

/** A comment line after this long without an event, so that proxies keep the stream open. */
const keepAliveAfter = 15_000

/** How long a sample of the fleet's tables may take before the page is told that the database does not answer. */
const fleetSampleTimeout = Duration.seconds(5)

/** A task as the page knows it: its row, and `id`, a key stable for as long as the task is listed. */
export type TaskRow = WorkerTask & { readonly id: string }

/** Rows keyed by id, each with its JSON text: a row is sent again only when its text changes. */
interface Known {
  readonly rows: Map<string, string>
}

/**
 * Gives every task an id: its worker and name (a worker registers a name once), or for an unnamed task its worker
 * and the time it was added, with a counter where several share those.
 */
export const withIds = (tasks: ReadonlyArray<WorkerTask>): ReadonlyArray<TaskRow> => {
  const seen = new Map<string, number>()
  return tasks.map((task) => {
    const base = `${task.worker}\u0000${task.name ?? `\u0001${task.addedAt}`}`
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    return { ...task, id: count === 0 ? base : `${base}\u0000${count}` }
  })
}

/** The rows added or changed since `known`, and the ids gone; `known` is updated to the rows given. */
const diff = <A>(
  known: Known,
  rows: ReadonlyArray<A>,
  idOf: (row: A) => string
): { readonly upsert: ReadonlyArray<A>; readonly remove: ReadonlyArray<string> } => {
  const upsert: Array<A> = []
  const present = new Set<string>()
  for (const row of rows) {
    const id = idOf(row)
    present.add(id)
    const text = JSON.stringify(row)
    if (known.rows.get(id) !== text) {
      known.rows.set(id, text)
      upsert.push(row)
    }
  }
  const remove: Array<string> = []
  for (const id of known.rows.keys()) {
    if (!present.has(id)) {
      known.rows.delete(id)
      remove.push(id)
    }
  }
  return { upsert, remove }
}

/**
 * A machine as the page shows it: its row without its workers and tasks (each machine's own inspector has those),
 * their count, and whether it is the machine serving the page.
 */
export interface MachineRow {
  readonly machine: string
  readonly state: Machine["state"]
  readonly pid: number
  readonly url: string
  readonly startedAt: number
  readonly lastSeen: number
  readonly workers: number
  readonly self: boolean
}

const machineRow = (self: string, machine: Machine): MachineRow => ({
  machine: machine.machine,
  state: machine.state,
  pid: machine.pid,
  url: machine.url,
  startedAt: machine.startedAt,
  lastSeen: machine.lastSeen,
  workers: machine.workers.length,
  self: machine.machine === self
})

/**
 * A one-in-fleet task with the worker running it: a machine serving alone records none in the fleet's table (its
 * one process is its runner), but its heartbeat lists the task under its worker's name, which a cancel needs.
 */
const withWorker = (machines: ReadonlyArray<Machine>, task: FleetTask): FleetTask => {
  if (task.worker !== undefined || task.machine === undefined) return task
  const worker = machines
    .find((machine) => machine.machine === task.machine)
    ?.tasks.find((running) => running.name === task.name && running.placement === "one-in-fleet")?.worker
  return worker === undefined ? task : { ...task, worker }
}

const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * The fleet's part of the stream, sampled at the pace of the heartbeat (no faster than {@link sampleEvery}): a
 * `fleet` event with every machine and one-in-fleet task once the tables answer, then `fleet-changes` only when
 * something changed (machines keyed by name, tasks by name). While the database does not answer, a `fleet-status`
 * event says why (once per reason) and the stream goes on; `fleet-status` with `error: null` says it answers again.
 * Without a fleet, nothing.
 */
const fleetEvents = (fleet: Effect.Effect<Member | undefined>, sent: (now: number) => void): Stream.Stream<string> =>
  Stream.unwrap(
    Effect.map(fleet, (member) => {
      if (member === undefined) return Stream.empty
      const machines: Known = { rows: new Map() }
      const tasks: Known = { rows: new Map() }
      let synced = false
      let failure: string | undefined
      const machineId = (row: MachineRow) => row.machine
      const taskId = (task: FleetTask) => task.name
      const sample = Effect.all([member.machines, member.tasks]).pipe(
        Effect.timeoutFail({
          duration: fleetSampleTimeout,
          onTimeout: () =>
            new Error(`The fleet's database did not answer within ${Duration.format(fleetSampleTimeout)}.`)
        }),
        Effect.either
      )
      const step = Effect.map(Effect.zip(sample, Clock.currentTimeMillis), ([result, now]) => {
        if (Either.isLeft(result)) {
          const error = result.left.message
          if (failure === error) return ""
          failure = error
          sent(now)
          return event("fleet-status", { now, machine: member.machine, error })
        }
        const rows = result.right[0].map((machine) => machineRow(member.machine, machine))
        const list = result.right[1].map((task) => withWorker(result.right[0], task))
        const recovered =
          failure === undefined ? "" : event("fleet-status", { now, machine: member.machine, error: null })
        failure = undefined
        if (!synced) {
          synced = true
          diff(machines, rows, machineId)
          diff(tasks, list, taskId)
          sent(now)
          return recovered + event("fleet", { now, machine: member.machine, machines: rows, tasks: list })
        }
        const machineChanges = diff(machines, rows, machineId)
        const taskChanges = diff(tasks, list, taskId)
        const changed =
          machineChanges.upsert.length +
          machineChanges.remove.length +
          taskChanges.upsert.length +
          taskChanges.remove.length
        if (changed === 0 && recovered === "") return ""
        sent(now)
        return changed === 0
          ? recovered
          : recovered + event("fleet-changes", { now, machines: machineChanges, tasks: taskChanges })
      })
      return Stream.repeatEffectWithSchedule(step, Schedule.spaced(Duration.max(member.heartbeat, sampleEvery)))
    })
  )

/**
 * The page's server-sent events: first `snapshot` (the process, every worker, every task), then, sampled every
 * {@link sampleEvery}, a `changes` event only when something changed, with the rows added or changed (`upsert`) and
 * the ids gone (`remove`) of workers and tasks. Each carries `now`, the server's clock, for times on the page.
 * In a fleet, the fleet's events come after the snapshot, between the changes (see {@link fleetEvents}).
 */
export const events = (
  supervisor: SupervisorService,
  processInfo: Effect.Effect<Record<string, unknown>>,
  fleet: Effect.Effect<Member | undefined> = Effect.succeed(undefined)
): Stream.Stream<Uint8Array> =>
  Stream.suspend(() => {
    const encoder = new TextEncoder()
    const workers: Known = { rows: new Map() }
    const tasks: Known = { rows: new Map() }
    let lastSent = 0
    const workerId = (worker: WorkerInfo) => worker.name
    const taskId = (task: TaskRow) => task.id
    const sample = Effect.all([supervisor.table, Effect.map(supervisor.tasks, withIds), Clock.currentTimeMillis])

    const snapshot = Effect.map(Effect.zip(processInfo, sample), ([info, [table, list, now]]) => {
      diff(workers, table, workerId)
      diff(tasks, list, taskId)
      lastSent = now
      return event("snapshot", { now, process: info, workers: table, tasks: list })
    })

    const changes = Effect.map(sample, ([table, list, now]) => {
      const workerChanges = diff(workers, table, workerId)
      const taskChanges = diff(tasks, list, taskId)
      const changed =
        workerChanges.upsert.length +
        workerChanges.remove.length +
        taskChanges.upsert.length +
        taskChanges.remove.length
      if (changed === 0) {
        if (now - lastSent < keepAliveAfter) return ""
        lastSent = now
        return ": keep-alive\n\n"
      }
      lastSent = now
      return event("changes", { now, workers: workerChanges, tasks: taskChanges })
    })

    return Stream.concat(
      Stream.fromEffect(snapshot),
      Stream.merge(
        Stream.fromSchedule(Schedule.spaced(sampleEvery)).pipe(Stream.mapEffect(() => changes)),
        fleetEvents(fleet, (now) => {
          lastSent = now
        })
      ).pipe(Stream.filter((text) => text !== ""))
    ).pipe(Stream.map((text) => encoder.encode(text)))
  })
