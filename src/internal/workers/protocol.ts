import { Either, Schema } from "effect"
import type { WorkerTask } from "../../Workers.js"
import { workersErrorReasons } from "./errors.js"

/** The environment variable that names a worker process; the primary sets it when it forks one. */
export const workerEnv = "FIBERAPP_WORKER"

/** The environment variable that names the managed program a process runs (`Workers.manage`). */
export const managedEnv = "FIBERAPP_MANAGED"

/** Every message of ours carries this tag prefix, so that an app's own IPC messages pass through untouched. */
const tag = <T extends string>(name: T) => `fiberapp.${name}` as const

const EventContext = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Condition = Schema.Record({ key: Schema.String, value: Schema.String })

const Outcome = Schema.Literal("succeeded", "failed", "cancelled")

const TaskInfo = Schema.Struct({
  name: Schema.optional(Schema.String),
  status: Schema.Literal("pending", "running", "succeeded", "failed", "cancelled"),
  addedAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  endedAt: Schema.optional(Schema.Number),
  placement: Schema.Literal("every-worker", "one-worker", "one-in-fleet"),
  runs: Schema.Number,
  failures: Schema.Number,
  attempt: Schema.Number,
  lastRun: Schema.optional(Schema.Struct({ startedAt: Schema.Number, endedAt: Schema.Number, outcome: Outcome })),
  nextRunAt: Schema.optional(Schema.Number),
  cancelReason: Schema.optional(Schema.String)
})
export type TaskInfo = typeof TaskInfo.Type

/** A dispatch made with `scope: "all"`, on its way through the primary to the other processes. */
export const Event = Schema.TaggedStruct(tag("event"), {
  app: Schema.String,
  event: Schema.String,
  context: Schema.optional(EventContext),
  condition: Schema.optional(Condition)
})
export type Event = typeof Event.Type

/** Worker to primary, first thing: asks for its name and the shared values. */
export const Hello = Schema.TaggedStruct(tag("hello"), { pid: Schema.Number })

/** Primary to worker, the answer to `Hello`. */
export const Init = Schema.TaggedStruct(tag("init"), {
  worker: Schema.String,
  shared: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/** Worker to primary: the app is serving. */
export const Ready = Schema.TaggedStruct(tag("ready"), {
  pid: Schema.Number,
  /** The one-worker tasks this worker has added, so that the primary can choose among all the first workers. */
  holds: Schema.Array(Schema.Struct({ name: Schema.String, claim: Schema.Number })),
  address: Schema.optional(Schema.Struct({ hostname: Schema.String, port: Schema.Number }))
})

/** Worker to primary: this process has a copy of a one-worker task waiting for its turn, known by `claim`. */
export const Hold = Schema.TaggedStruct(tag("hold"), { name: Schema.String, claim: Schema.Number })

/** Worker to primary: the copy `claim` stopped (or stopped waiting); `ended` when the task is over for good. */
export const Release = Schema.TaggedStruct(tag("release"), {
  name: Schema.String,
  claim: Schema.Number,
  ended: Schema.Boolean
})

/** Primary to worker: run the copy `claim` (`run`), or end it, as the task is over (`!run`). */
export const Grant = Schema.TaggedStruct(tag("grant"), {
  name: Schema.String,
  claim: Schema.Number,
  run: Schema.Boolean
})

/** Worker to primary: a question about every worker (`scope: "all"`), answered with `Answered`. */
export const AskTasks = Schema.TaggedStruct(tag("askTasks"), {})
export const AskCancel = Schema.TaggedStruct(tag("askCancel"), {
  name: Schema.String,
  worker: Schema.optional(Schema.String)
})
/** Worker to primary: the supervisor's controls from inside a worker (Sanic's `app.m`). */
export const AskRestart = Schema.TaggedStruct(tag("askRestart"), {
  workers: Schema.optional(Schema.Array(Schema.String)),
  zeroDowntime: Schema.optional(Schema.Boolean)
})
export const AskScale = Schema.TaggedStruct(tag("askScale"), { replicas: Schema.Number })
export const AskTerminate = Schema.TaggedStruct(tag("askTerminate"), {})
export const AskTable = Schema.TaggedStruct(tag("askTable"), {})
export const AskSetState = Schema.TaggedStruct(tag("askSetState"), {
  values: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** The keys set to `undefined`: removed from the row. */
  remove: Schema.Array(Schema.String)
})
export const Ask = Schema.TaggedStruct(tag("ask"), {
  id: Schema.Number,
  call: Schema.Union(AskTasks, AskCancel, AskRestart, AskScale, AskTerminate, AskTable, AskSetState)
})
export type Ask = typeof Ask.Type

const WorkerTaskInfo = Schema.extend(TaskInfo, Schema.Struct({ worker: Schema.String }))
export type WorkerTaskInfo = typeof WorkerTaskInfo.Type
export const WorkerTasks = Schema.TaggedStruct("WorkerTasks", { tasks: Schema.Array(WorkerTaskInfo) })
export const CancelledOn = Schema.TaggedStruct("CancelledOn", { count: Schema.Number })
export const Refused = Schema.TaggedStruct("Refused", {
  reason: Schema.Literal("WorkerNotFound", "Failed"),
  worker: Schema.optional(Schema.String),
  /** With `Failed`: the `WorkersError` reason the primary met. */
  kind: Schema.optional(Schema.Literal(...workersErrorReasons)),
  message: Schema.String
})
export const Done = Schema.TaggedStruct("Done", {})
/** The worker table, each row as JSON carries it (unset fields left out). */
export const Table = Schema.TaggedStruct("Table", {
  workers: Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export const AskOutcome = Schema.Union(WorkerTasks, CancelledOn, Refused, Done, Table)
export type AskAnswer = typeof AskOutcome.Type

/** Primary to worker: the answer to an `Ask`. */
export const Answered = Schema.TaggedStruct(tag("answered"), { id: Schema.Number, answer: AskOutcome })

/** Primary to worker: stop as on SIGTERM. */
export const Stop = Schema.TaggedStruct(tag("stop"), {})

export const ListTasks = Schema.TaggedStruct(tag("listTasks"), {})
export const CancelTask = Schema.TaggedStruct(tag("cancelTask"), { name: Schema.String })
/** The worker's metrics, for the inspector's `/metrics`: answered with `Metrics`, or `Failed`. */
export const ListMetrics = Schema.TaggedStruct(tag("listMetrics"), {})
export const Call = Schema.Union(ListTasks, CancelTask, ListMetrics)
export type Call = typeof Call.Type

/** Primary to worker: a question, answered with a `Reply` carrying the same id. */
export const Request = Schema.TaggedStruct(tag("request"), { id: Schema.Number, call: Call })
export type Request = typeof Request.Type

export const Tasks = Schema.TaggedStruct("Tasks", { tasks: Schema.Array(TaskInfo) })
export const Cancelled = Schema.TaggedStruct("Cancelled", {})
export const NotFound = Schema.TaggedStruct("NotFound", { name: Schema.String })
export const Failed = Schema.TaggedStruct("Failed", { message: Schema.String })
/** OpenTelemetry's `ScopeMetrics` of the worker, as JSON: the primary hands them to the Prometheus serializer. */
export const Metrics = Schema.TaggedStruct("Metrics", { scopeMetrics: Schema.Array(Schema.Unknown) })
export const Answer = Schema.Union(Tasks, Cancelled, NotFound, Failed, Metrics)
export type Answer = typeof Answer.Type

export const Reply = Schema.TaggedStruct(tag("reply"), { id: Schema.Number, answer: Answer })
export type Reply = typeof Reply.Type

/**
 * The worker has closed its listening socket and asks the primary to confirm. Connections node:cluster handed to
 * it before the primary saw the close come back ahead of the answer, so the worker bounces them to the others
 * instead of exiting with them unanswered.
 */
export const Closed = Schema.TaggedStruct(tag("closed"), { id: Schema.Number })
export const ClosedSeen = Schema.TaggedStruct(tag("closedSeen"), { id: Schema.Number })

export const ToPrimary = Schema.Union(Hello, Ready, Event, Reply, Closed, Hold, Release, Ask)
export type ToPrimary = typeof ToPrimary.Type

export const ToWorker = Schema.Union(Init, Stop, Event, Request, ClosedSeen, Grant, Answered)
export type ToWorker = typeof ToWorker.Type

const decodeToPrimary = Schema.decodeUnknownEither(ToPrimary)
const decodeToWorker = Schema.decodeUnknownEither(ToWorker)
const encodeToPrimary = Schema.encodeSync(ToPrimary)
const encodeToWorker = Schema.encodeSync(ToWorker)

const isOurs = (message: unknown): boolean =>
  typeof message === "object" &&
  message !== null &&
  typeof (message as { _tag?: unknown })._tag === "string" &&
  (message as { _tag: string })._tag.startsWith("fiberapp.")

/** `undefined` for messages that are not ours; a `Left` for ours that do not decode. */
export const readToPrimary = (message: unknown): Either.Either<ToPrimary, string> | undefined =>
  isOurs(message) ? Either.mapLeft(decodeToPrimary(message), (error) => error.message) : undefined

export const readToWorker = (message: unknown): Either.Either<ToWorker, string> | undefined =>
  isOurs(message) ? Either.mapLeft(decodeToWorker(message), (error) => error.message) : undefined

export const writeToPrimary = (message: ToPrimary): unknown => encodeToPrimary(message)
export const writeToWorker = (message: ToWorker): unknown => encodeToWorker(message)

/** A record without its unset fields, as the protocol carries it (JSON drops them anyway; the schema wants them gone). */
export const withoutUndefined = (record: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))

/** A task as the protocol carried it (unset fields left out), back to the shape `Workers.tasks` lists. */
export const workerTaskOf = (worker: string, task: TaskInfo): WorkerTask => ({
  name: undefined,
  startedAt: undefined,
  endedAt: undefined,
  lastRun: undefined,
  nextRunAt: undefined,
  cancelReason: undefined,
  ...task,
  worker
})
