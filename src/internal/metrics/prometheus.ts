/**
 * `/metrics`: Effect's metrics read through `@effect/opentelemetry`'s producer and written by OpenTelemetry's
 * Prometheus serializer. Loaded only when asked (by the inspector, or by the primary asking a worker), so that an app
 * without these optional packages never loads them.
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { MetricData, ResourceMetrics, ScopeMetrics } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"

/** One process's metrics as OpenTelemetry data: what a worker sends the primary over IPC (plain JSON). */
export type Collected = ReadonlyArray<ScopeMetrics>

/** Where a process's metrics came from: `worker` is the label its series get (none for a process serving alone). */
export interface Source {
  readonly worker: string | undefined
  readonly scopeMetrics: Collected
}

/** The `text/plain` version Prometheus scrapes. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const collectResource = (app: string): Effect.Effect<ResourceMetrics> =>
  Effect.flatMap(Effect.provide(OtelMetrics.makeProducer, OtelResource.layer({ serviceName: app })), (producer) =>
    Effect.map(
      Effect.promise(() => producer.collect()),
      (result) => result.resourceMetrics
    )
  )

/** This process's metrics (every Effect metric in it: fiberapp's and the app's own). */
export const collect = (app: string): Effect.Effect<Collected> =>
  Effect.map(collectResource(app), (resource) => resource.scopeMetrics)

/** Every series of `source`, with its `worker` label added unless it has one (a restart counts a worker's). */
const labelled = (metric: MetricData, worker: string | undefined): MetricData =>
  worker === undefined
    ? metric
    : ({
        ...metric,
        dataPoints: metric.dataPoints.map((point) =>
          "worker" in point.attributes ? point : { ...point, attributes: { ...point.attributes, worker } }
        )
      } as MetricData)

/**
 * The Prometheus text of this process and of `sources` (its workers), one family per metric name: the series of
 * every process under one `# HELP` and `# TYPE`, told apart by their `worker` label.
 */
export const render = (app: string, self: string | undefined, sources: ReadonlyArray<Source>): Effect.Effect<string> =>
  Effect.map(collectResource(app), (local) => {
    const families = new Map<string, MetricData>()
    const add = (scopeMetrics: Collected, worker: string | undefined) => {
      for (const scope of scopeMetrics) {
        for (const metric of scope.metrics) {
          const own = labelled(metric, worker)
          const family = families.get(metric.descriptor.name)
          if (family === undefined)
            families.set(metric.descriptor.name, { ...own, dataPoints: [...own.dataPoints] } as MetricData)
          // A name used for two kinds of metric in different processes: the first kind wins, the rest is left out.
          else if (family.dataPointType === own.dataPointType)
            (family.dataPoints as Array<unknown>).push(...own.dataPoints)
        }
      }
    }
    add(local.scopeMetrics, self)
    for (const source of sources) add(source.scopeMetrics, source.worker)
    const merged: ResourceMetrics = {
      resource: local.resource,
      scopeMetrics: [{ scope: { name: "fiberapp" }, metrics: Array.from(families.values()) }]
    }
    return new PrometheusSerializer(undefined, false, undefined, false, true).serialize(merged)
  })
