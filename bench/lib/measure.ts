/**
 * Helpers shared by the benchmark case processes: each case runs in a fresh process and prints one
 * JSON line of results on stdout, which `bench/run.ts` reads.
 */
import { performance } from "node:perf_hooks"

export type Result = Record<string, number | string | boolean>

export const emit = (result: Result): void => {
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

export const skip = (reason: string): void => emit({ skip: reason })

export const now = (): number => performance.now()

/** Wall-clock and CPU time (user + system, all threads of this process) of a stretch of work. */
export interface Lap {
  readonly wallMs: number
  readonly cpuMs: number
}

/**
 * Starts timing; the returned function gives the lap. Cases report CPU-time figures under the metric's name
 * and wall-clock ones under `<name>Wall`: on a shared 2-core machine wall time mostly measures the neighbours.
 */
export const stopwatch = (): (() => Lap) => {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  return () => {
    const used = process.cpuUsage(cpu)
    return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 }
  }
}

/** `{ name: per second of CPU, nameWall: per second of wall clock }` */
export const rates = (name: string, count: number, lap: Lap): Result => ({
  [name]: perSecond(count, lap.cpuMs),
  [`${name}Wall`]: perSecond(count, lap.wallMs)
})

/**
 * Like {@link rates}, over several laps of `count` each: the median lap. For loops of a few hundred nanoseconds a
 * step, one lap mostly measures where the JIT and the collector happened to be.
 */
export const medianRates = (name: string, count: number, laps: ReadonlyArray<Lap>): Result => ({
  [name]: perSecond(count, median(laps.map((lap) => lap.cpuMs))),
  [`${name}Wall`]: perSecond(count, median(laps.map((lap) => lap.wallMs)))
})

/** `{ name: CPU ms, nameWall: wall ms }` */
export const durations = (name: string, lap: Lap): Result => ({ [name]: lap.cpuMs, [`${name}Wall`]: lap.wallMs })

export const arg = (index: number, fallback: string): string => process.argv[2 + index] ?? fallback

export const intEnv = (name: string, fallback: number): number => {
  const value = process.env[name]
  return value === undefined || value === "" ? fallback : Number(value)
}

const gcFunction = (globalThis as { gc?: () => void }).gc

/** Heap after full collections; needs `--expose-gc`, which the runner passes to heap-measuring cases. */
export const heapUsed = (): number => {
  if (gcFunction === undefined) throw new Error("heap measurements need node --expose-gc")
  for (let i = 0; i < 4; i++) gcFunction()
  return process.memoryUsage().heapUsed
}

export const names = (prefix: string, count: number): Array<string> => {
  const out = new Array<string>(count)
  for (let i = 0; i < count; i++) out[i] = `${prefix}-${i}`
  return out
}

export const perSecond = (count: number, ms: number): number => (count * 1000) / ms

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Runs a case's main promise, printing its result, or its error on stderr with a non-zero exit. */
export const main = (run: () => Promise<Result>): void => {
  run().then(
    (result) => {
      emit(result)
      process.exit(0)
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    }
  )
}
