import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { parse } from "../fixtures/prometheus.js"
import { ClusterTag, clusterLayer, inspect, request, waitFor } from "../fixtures/workers-harness.js"

layer(clusterLayer({ WORKERS: "2" }), { excludeTestServices: true, timeout: "60 seconds" })(
  "GET /metrics on a primary with two workers",
  (it) => {
    it.effect(
      "gathers both workers' series, each with its worker label, as Prometheus text",
      () =>
        Effect.gen(function* () {
          const cluster = yield* ClusterTag
          yield* waitFor(
            cluster,
            "the primary to serve",
            () => cluster.lines().find((line) => line.role === "main" && line.what === "serving"),
            "40 seconds"
          )
          // Fresh connections spread over the workers; each worker has served some once a few went through.
          for (let i = 0; i < 20; i++) assert.strictEqual((yield* request(cluster.port, "/pid")).status, 200)
          const response = yield* inspect(cluster, "/metrics")
          assert.strictEqual(response.status, 200, response.body)
          assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/)
          const { samples, types } = parse(response.body)
          assert.strictEqual(types.get("fiberapp_tasks_added_total"), "counter")
          assert.strictEqual(types.get("fiberapp_http_request_duration_seconds"), "histogram")
          for (const worker of ["worker-0", "worker-1"]) {
            const added = samples.find(
              (s) => s.name === "fiberapp_tasks_added_total" && s.labels.worker === worker && s.labels.app === "fixture"
            )
            assert.isDefined(added, `no tasks_added series for ${worker}`)
            assert.isAbove(added!.value, 0)
            const dispatched = samples.find(
              (s) => s.name === "fiberapp_events_dispatched_total" && s.labels.worker === worker
            )
            assert.isDefined(dispatched, `no events series for ${worker}`)
          }
          const served = samples.filter(
            (s) => s.name === "fiberapp_http_requests_total" && s.labels.method === "GET" && s.labels.status === "200"
          )
          assert.strictEqual(
            served.reduce((sum, s) => sum + s.value, 0),
            20,
            "every /pid request counted once, on the worker that answered it"
          )
          assert.isTrue(served.every((s) => s.labels.worker === "worker-0" || s.labels.worker === "worker-1"))
          // Without the key, nothing.
          assert.strictEqual((yield* inspect(cluster, "/metrics", { key: "wrong" })).status, 401)
        }),
      90_000
    )
  }
)
