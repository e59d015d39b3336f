import * as Schema from "effect/Schema"

const optionalNumber = Schema.optional(Schema.NullOr(Schema.Number))

/** The fields of a worker row that the table shows (`GET /`). */
export const WorkerRow = Schema.Struct({
  name: Schema.String,
  state: Schema.String,
  pid: optionalNumber,
  startedAt: optionalNumber,
  starts: Schema.Number,
  restarts: Schema.Number,
  serving: Schema.Boolean,
  lastExit: Schema.optional(
    Schema.NullOr(Schema.Struct({ code: Schema.NullOr(Schema.Number), signal: Schema.NullOr(Schema.String) }))
  )
})

/** The fields of `GET /` that the table shows. */
export const ProcessInfo = Schema.Struct({
  app: Schema.String,
  mode: Schema.String,
  pid: Schema.Number,
  node: Schema.String,
  uptime: Schema.Number,
  memory: Schema.Number,
  workers: Schema.Array(WorkerRow)
})

/** A task of `GET /tasks`, with the fields the table shows and filters on. */
export const TaskRow = Schema.Struct({
  worker: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.String,
  addedAt: Schema.Number,
  startedAt: optionalNumber,
  endedAt: optionalNumber,
  runs: Schema.optional(Schema.Number),
  failures: Schema.optional(Schema.Number),
  nextRunAt: optionalNumber
})

export const TaskList = Schema.Struct({ tasks: Schema.Array(TaskRow) })

/** `3s`, `1m 3s`, `2h 5m`, `3d 4h`: the two largest units. */
export const duration = (millis: number): string => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  const units: Array<readonly [string, number]> = [
    ["d", Math.floor(seconds / 86_400)],
    ["h", Math.floor(seconds / 3_600) % 24],
    ["m", Math.floor(seconds / 60) % 60],
    ["s", seconds % 60]
  ]
  const first = units.findIndex(([, value]) => value > 0)
  if (first === -1) return "0s"
  return units
    .slice(first, first + 2)
    .filter(([, value]) => value > 0)
    .map(([unit, value]) => `${value}${unit}`)
    .join(" ")
}

const ago = (now: number, at: number | null | undefined): string =>
  at === undefined || at === null ? "-" : `${duration(now - at)} ago`

const within = (now: number, at: number | null | undefined): string =>
  at === undefined || at === null ? "-" : at <= now ? "now" : `in ${duration(at - now)}`

const megabytes = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MB`

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

const exitOf = (exit: (typeof WorkerRow.Type)["lastExit"]): string => {
  if (exit === undefined || exit === null) return "-"
  return exit.signal !== null ? exit.signal : `code ${exit.code}`
}

/** The worker table. */
export const workerTable = (workers: ReadonlyArray<typeof WorkerRow.Type>, now: number): string =>
  table(
    ["WORKER", "STATE", "PID", "UP", "STARTS", "RESTARTS", "SERVING", "LAST EXIT"],
    workers.map((worker) => [
      worker.name,
      worker.state,
      worker.pid === undefined || worker.pid === null ? "-" : String(worker.pid),
      worker.startedAt === undefined || worker.startedAt === null ? "-" : duration(now - worker.startedAt),
      String(worker.starts),
      String(worker.restarts),
      worker.serving ? "yes" : "no",
      exitOf(worker.lastExit)
    ])
  )

/** The process in a line, then its workers as a table. */
export const processTable = (info: typeof ProcessInfo.Type, now: number): string =>
  `app ${info.app}  mode ${info.mode}  pid ${info.pid}  node ${info.node}  ` +
  `up ${duration(info.uptime * 1000)}  rss ${megabytes(info.memory)}\n\n${workerTable(info.workers, now)}`
/** The tasks as a table, or a line saying there are none. */
export const taskTable = (tasks: ReadonlyArray<typeof TaskRow.Type>, now: number): string =>
  tasks.length === 0
    ? "No tasks."
    : table(
        ["WORKER", "NAME", "STATUS", "ADDED", "STARTED", "ENDED", "RUNS", "FAILURES", "NEXT RUN"],
        tasks.map((task) => [
          task.worker,
          task.name ?? "-",
          task.status,
          ago(now, task.addedAt),
          ago(now, task.startedAt),
          ago(now, task.endedAt),
          String(task.runs ?? "-"),
          String(task.failures ?? "-"),
          within(now, task.nextRunAt)
        ])
      )
