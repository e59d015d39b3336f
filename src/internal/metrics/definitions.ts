import { constVoid } from "effect/Function"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"

/** The metric names, as `/metrics` shows them (counters end in `_total`, as Prometheus wants). */
export const names = {
  tasksAdded: "fiberapp_tasks_added_total",
  tasksStarted: "fiberapp_tasks_started_total",
  tasksSucceeded: "fiberapp_tasks_succeeded_total",
  tasksFailed: "fiberapp_tasks_failed_total",
  tasksCancelled: "fiberapp_tasks_cancelled_total",
  tasksRunning: "fiberapp_tasks_running",
  taskRunDuration: "fiberapp_task_run_duration_seconds",
  eventsDispatched: "fiberapp_events_dispatched_total",
  handlerFailures: "fiberapp_event_handler_failures_total",
  httpRequests: "fiberapp_http_requests_total",
  httpRequestDuration: "fiberapp_http_request_duration_seconds",
  websocketsOpen: "fiberapp_websockets_open",
  workerRestarts: "fiberapp_worker_restarts_total"
} as const

/** Seconds: from a millisecond task run to a day-long one. */
const taskBoundaries = MetricBoundaries.fromIterable([
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 86400
])
/** Seconds: from a fraction of a millisecond (hello world) to a slow request. */
const httpBoundaries = MetricBoundaries.fromIterable([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
])

type Counter = Metric.Metric.Counter<number>
type Gauge = Metric.Metric.Gauge<number>
type Histogram = Metric.Metric.Histogram<number>

/** The metrics of one app: every key carries its `app` label, so updates give no labels (no allocation). */
export interface AppMetrics {
  readonly app: string
  readonly tasksAdded: Counter
  readonly tasksStarted: Counter
  readonly tasksSucceeded: Counter
  readonly tasksFailed: Counter
  readonly tasksCancelled: Counter
  readonly tasksRunning: Gauge
  readonly taskRunDuration: Histogram
  readonly eventsDispatched: Counter
  /** Updated with an `event` label: the name the failing handler was registered on. */
  readonly handlerFailures: Counter
  /** Updated with `method` and `status` labels (see {@link httpLabels}). */
  readonly httpRequests: Counter
  readonly httpRequestDuration: Histogram
  readonly websocketsOpen: Gauge
  /** Updated with a `worker` label. */
  readonly workerRestarts: Counter
}

const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []
/** What a metric that records nothing reads as: never read, as it is not in the registry. */
const empty: unknown = undefined

/** The metrics of `app`; with `enabled` false, metrics that record nothing (and never reach the registry). */
export const make = (app: string, enabled = true): AppMetrics => {
  const labels = [MetricLabel.make("app", app)]
  const registered = <Type extends MetricKeyType.MetricKeyType<number, Out>, Out>(
    key: MetricKey.MetricKey<Type>
  ): Metric.Metric<Type, number, Out> =>
    enabled
      ? (Metric.fromMetricKey(key) as unknown as Metric.Metric<Type, number, Out>)
      : Metric.make(key.keyType, constVoid, () => empty as Out, constVoid)
  const counter = (name: string, description: string): Counter =>
    registered(MetricKey.taggedWithLabels(MetricKey.counter(name, { description, incremental: true }), labels))
  const gauge = (name: string, description: string): Gauge =>
    registered(MetricKey.taggedWithLabels(MetricKey.gauge(name, { description }), labels))
  const histogram = (name: string, description: string, boundaries: MetricBoundaries.MetricBoundaries): Histogram =>
    registered(MetricKey.taggedWithLabels(MetricKey.histogram(name, boundaries, description), labels))
  return {
    app,
    tasksAdded: counter(names.tasksAdded, "Tasks added"),
    tasksStarted: counter(names.tasksStarted, "Tasks started"),
    tasksSucceeded: counter(names.tasksSucceeded, "Tasks that ended with a success"),
    tasksFailed: counter(names.tasksFailed, "Tasks that ended with a failure or a defect"),
    tasksCancelled: counter(names.tasksCancelled, "Tasks that ended interrupted (cancelled, or stopped with the app)"),
    tasksRunning: gauge(names.tasksRunning, "Tasks started and not ended"),
    taskRunDuration: histogram(names.taskRunDuration, "How long each run of a task took, in seconds", taskBoundaries),
    eventsDispatched: counter(names.eventsDispatched, "Events dispatched in this process"),
    handlerFailures: counter(names.handlerFailures, "Event handlers that failed"),
    httpRequests: counter(names.httpRequests, "HTTP requests answered"),
    httpRequestDuration: histogram(
      names.httpRequestDuration,
      "From a request's arrival to its answer, in seconds",
      httpBoundaries
    ),
    websocketsOpen: gauge(names.websocketsOpen, "Websocket connections open"),
    workerRestarts: counter(names.workerRestarts, "Worker processes started again (a crash, a restart)")
  }
}

/** Adds one to a counter. */
export const increment = (counter: Counter, labels: ReadonlyArray<MetricLabel.MetricLabel> = noLabels): void =>
  counter.unsafeUpdate(1, labels)

/** Moves a gauge by `delta`. */
export const add = (gauge: Gauge, delta: number): void => gauge.unsafeModify(delta, noLabels)

/** Records a duration given in milliseconds, in seconds. */
export const observeMillis = (
  histogram: Histogram,
  millis: number,
  labels: ReadonlyArray<MetricLabel.MetricLabel> = noLabels
): void => histogram.unsafeUpdate(millis / 1000, labels)

/**
 * The `method` and `status` labels of HTTP requests, made once per pair and kept by the caller: the metric caches its
 * hooks by the labels' identity, so a request finds its series without building anything.
 */
export const httpLabels = () => {
  const byMethod = new Map<string, Map<number, ReadonlyArray<MetricLabel.MetricLabel>>>()
  return (method: string, status: number): ReadonlyArray<MetricLabel.MetricLabel> => {
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) {
      // A client may send any method: past a few dozen, the rest share one label rather than grow without bound.
      const key = byMethod.size >= 32 ? "OTHER" : method
      byStatus = byMethod.get(key)
      if (byStatus === undefined) {
        byStatus = new Map()
        byMethod.set(key, byStatus)
      }
      method = key
    }
    let labels = byStatus.get(status)
    if (labels === undefined) {
      labels = labelsOf(method, status)
      byStatus.set(status, labels)
    }
    return labels
  }
}

const labelsOf = (method: string, status: number): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("method", method),
  MetricLabel.make("status", String(status))
]
