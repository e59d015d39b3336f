/**
 * Load generator process: autocannon against one URL, a warm-up run then a measured run.
 * Arguments: url, connections, warm-up seconds, measured seconds.
 */
import autocannon from "autocannon"
import { arg, main } from "../lib/measure.js"

const url = arg(0, "http://127.0.0.1:8000/")
const connections = Number(arg(1, "50"))
const warmup = Number(arg(2, "1"))
const duration = Number(arg(3, "5"))

main(async () => {
  const warm = await autocannon({ url, connections, duration: warmup })
  const result = await autocannon({ url, connections, duration })
  const statuses = Object.keys(result.statusCodeStats ?? {}).join(",")
  return {
    requestsPerSec: result.requests.total / duration,
    totalRequests: warm.requests.total + result.requests.total,
    averagePerSec: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statuses
  }
})
