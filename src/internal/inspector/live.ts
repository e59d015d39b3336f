import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { SupervisorService, WorkerInfo, WorkerTask } from "../../Workers.js"

/** How often the stream samples the supervisor's table and tasks; only what changed is sent. */
export const sampleEvery = Duration.millis(500)

/** A comment line after this long without an event, so that proxies keep the stream open. */
const keepAliveAfter = 15_000

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

const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * The page's server-sent events: first `snapshot` (the process, every worker, every task), then, sampled every
 * {@link sampleEvery}, a `changes` event only when something changed, with the rows added or changed (`upsert`) and
 * the ids gone (`remove`) of workers and tasks. Each carries `now`, the server's clock, for times on the page.
 */
export const events = (
  supervisor: SupervisorService,
  processInfo: Effect.Effect<Record<string, unknown>>
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
      Stream.fromSchedule(Schedule.spaced(sampleEvery)).pipe(
        Stream.mapEffect(() => changes),
        Stream.filter((text) => text !== "")
      )
    ).pipe(Stream.map((text) => encoder.encode(text)))
  })
