/**
 * `npm run bench [-- <group|case id prefix>...] [--reps N] [--wall] [--list] [--build]`
 *
 * Runs every selected case once per repetition, each in a fresh process, rotating the order of the
 * cases of a group from one repetition to the next; takes medians; prints the targets as ratios against
 * baselines measured in the same run (the median of the ratios within each repetition); writes
 * `bench/results.json` (a subset updates its own entries).
 * In-process cases are compared on CPU time (`--wall`: on wall-clock time); HTTP and websockets on wall clock.
 * `--build` only builds the server processes and the add-then-complete cases (see `lib/bundle.ts`) and prints their
 * paths, for profiling.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { join } from "node:path"
import { runnable } from "./lib/bundle.js"
import { formatRatio, formatValue, markdownTable, textTable } from "./lib/format.js"
import { median, type Result } from "./lib/measure.js"
import { root, SkipCase } from "./lib/proc.js"
import { absoluteContext, type Case, cases, type Group, groups, http, type Target, targets, wsCounts } from "./suite.js"

interface CaseRecord {
  readonly id: string
  readonly group: Group
  samples: Array<Result>
  /** The repetition each sample comes from, so that a ratio can pair samples taken close together. */
  reps: Array<number>
  errors: Array<string>
  skipped?: string
  medians: Record<string, number>
  measuredAt: string
}

interface TargetRecord {
  readonly group: Group
  readonly title: string
  readonly baseline: number | undefined
  readonly subject: number | undefined
  readonly ratio: number | undefined
  readonly goal: string
  readonly status: "PASS" | "MISS" | "INFO" | "SKIP" | "ERROR"
  readonly detail?: string
  readonly unit: string
  readonly note?: string
  readonly measuredAt: string
}

const resultsPath = join(root, "bench/results.json")

/** HTTP cases share the 2 cores with their load generator and swing most from run to run: more repetitions. */
const defaultReps: Record<Group, number> = { tasks: 3, events: 3, http: 5, ws: 3, workers: 3, startup: 3, fleet: 3 }

const parseArgs = (argv: ReadonlyArray<string>) => {
  let reps: number | undefined = process.env.BENCH_REPS === undefined ? undefined : Number(process.env.BENCH_REPS)
  const selectors: Array<string> = []
  let wall = false
  let build = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--reps") reps = Number(argv[++i])
    else if (arg.startsWith("--reps=")) reps = Number(arg.slice("--reps=".length))
    else if (arg === "--wall") wall = true
    else if (arg === "--build") build = true
    else selectors.push(arg)
  }
  if (reps !== undefined && (!Number.isInteger(reps) || reps < 1)) {
    throw new Error(`--reps must be a positive integer, got ${reps}`)
  }
  const repsOf = (group: Group): number => reps ?? defaultReps[group]
  return { repsOf, selectors, wall, build }
}

const isSelected = (selectors: ReadonlyArray<string>, c: Case): boolean =>
  selectors.length === 0 || selectors.some((s) => s === c.group || c.id === s || c.id.startsWith(`${s}.`))

const rotate = <A>(items: ReadonlyArray<A>, by: number): Array<A> =>
  items.length === 0 ? [] : [...items.slice(by % items.length), ...items.slice(0, by % items.length)]

const numericMedians = (samples: ReadonlyArray<Result>): Record<string, number> => {
  const out: Record<string, number> = {}
  const keys = new Set(samples.flatMap((s) => Object.keys(s)))
  for (const key of keys) {
    const values = samples.map((s) => s[key]).filter((v): v is number => typeof v === "number")
    if (values.length > 0) out[key] = median(values)
  }
  return out
}

const log = (line: string) => process.stderr.write(`${line}\n`)

const runCase = async (c: Case, record: CaseRecord, rep: number): Promise<void> => {
  if (record.skipped !== undefined) return
  const started = Date.now()
  try {
    const result = await c.run()
    if (typeof result.skip === "string") {
      record.skipped = result.skip
      log(`  ${c.id}: skipped (${result.skip})`)
      return
    }
    record.samples.push(result)
    record.reps.push(rep)
    log(`  rep ${rep + 1} ${c.id} (${((Date.now() - started) / 1000).toFixed(1)} s): ${summary(result)}`)
  } catch (error) {
    if (error instanceof SkipCase) {
      record.skipped = error.message
      log(`  ${c.id}: skipped (${error.message})`)
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    record.errors.push(message)
    log(`  rep ${rep + 1} ${c.id}: ERROR ${message}`)
  }
}

const summary = (result: Result): string =>
  Object.entries(result)
    .filter(([, v]) => typeof v === "number")
    .slice(0, 5)
    .map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`)
    .join(" ")

/** With `--wall`, a case's wall-clock figure (`<metric>Wall`) stands in for its CPU-time one, where it has one. */
const metricOf = (record: CaseRecord | undefined, metric: string, wall: boolean): number | undefined =>
  record === undefined
    ? undefined
    : wall
      ? (record.medians[`${metric}Wall`] ?? record.medians[metric])
      : record.medians[metric]

const sampleOf = (record: CaseRecord, rep: number, metric: string, wall: boolean): number | undefined => {
  const index = record.reps.indexOf(rep)
  if (index < 0) return undefined
  const sample = record.samples[index]!
  const value = wall ? (sample[`${metric}Wall`] ?? sample[metric]) : sample[metric]
  return typeof value === "number" ? value : undefined
}

/**
 * The median of the ratios of samples from the same repetition: a subject and its baseline measured minutes apart
 * on a shared machine differ by the neighbours' load as much as by their own cost. Falls back to the ratio of the
 * medians when no repetition has both.
 */
const pairedRatio = (
  subject: CaseRecord,
  subjectMetric: string,
  baseline: CaseRecord,
  baselineMetric: string,
  wall: boolean
): number | undefined => {
  const ratios: Array<number> = []
  for (const rep of subject.reps) {
    const s = sampleOf(subject, rep, subjectMetric, wall)
    const b = sampleOf(baseline, rep, baselineMetric, wall)
    if (s !== undefined && b !== undefined && b !== 0) ratios.push(s / b)
  }
  return ratios.length === 0 ? undefined : median(ratios)
}

const evaluate = (
  target: Target,
  records: ReadonlyMap<string, CaseRecord>,
  wall: boolean
): TargetRecord | undefined => {
  const subjectCase = records.get(target.subject.case)
  const baselineCase = target.baseline === undefined ? undefined : records.get(target.baseline.case)
  if (subjectCase === undefined) return undefined
  const contextMetric = absoluteContext[target.title]
  const subject = metricOf(subjectCase, target.subject.metric, wall)
  const baseline =
    target.baseline !== undefined
      ? metricOf(baselineCase, target.baseline.metric, wall)
      : contextMetric !== undefined
        ? metricOf(records.get(contextMetric.case), contextMetric.metric, wall)
        : undefined
  const ratio =
    target.baseline !== undefined && subject !== undefined && baseline
      ? (pairedRatio(subjectCase, target.subject.metric, baselineCase!, target.baseline.metric, wall) ??
        subject / baseline)
      : undefined
  const goal =
    target.goal === undefined
      ? "—"
      : `${target.better === "higher" ? "≥" : "≤"} ${target.baseline === undefined ? formatValue(target.goal, target.unit) : `${target.goal}×`}`
  const base = {
    group: target.group,
    title: target.title,
    baseline,
    subject,
    ratio,
    goal,
    unit: target.unit,
    measuredAt: subjectCase.measuredAt,
    ...(target.note !== undefined ? { note: target.note } : {})
  }
  const skipped = subjectCase.skipped ?? baselineCase?.skipped
  if (skipped !== undefined) return { ...base, status: "SKIP", detail: skipped }
  if (target.baseline !== undefined && baselineCase === undefined) {
    return { ...base, status: "SKIP", detail: `baseline ${target.baseline.case} not selected` }
  }
  const compared = target.baseline === undefined ? subject : ratio
  if (compared === undefined) {
    const errors = [...subjectCase.errors, ...(baselineCase?.errors ?? [])]
    return { ...base, status: "ERROR", detail: errors[0]?.split("\n")[0] ?? "no samples" }
  }
  if (target.goal === undefined) return { ...base, status: "INFO" }
  const pass = target.better === "higher" ? compared >= target.goal : compared <= target.goal
  return { ...base, status: pass ? "PASS" : "MISS" }
}

const header = ["Benchmark", "Baseline", "fiberapp", "Ratio", "Goal", "Result"]

const rowsOf = (records: ReadonlyArray<TargetRecord>): Array<Array<string>> =>
  records.map((r) => [
    r.title,
    formatValue(r.baseline, r.unit as Target["unit"]),
    formatValue(r.subject, r.unit as Target["unit"]),
    formatRatio(r.ratio),
    r.goal,
    r.status === "SKIP" || r.status === "ERROR" ? `${r.status}: ${r.detail ?? ""}` : r.status === "INFO" ? "" : r.status
  ])

const describeReps = (selected: ReadonlyArray<Case>, repsOf: (group: Group) => number): string => {
  const ran = groups.filter((g) => selected.some((c) => c.group === g))
  return ran.map((g) => `${repsOf(g)} (${g})`).join(", ")
}

/** The commit measured, and the source files that differed from it (other engineers' work in progress). */
const revision = () => {
  const git = (args: ReadonlyArray<string>) => {
    try {
      return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trimEnd()
    } catch {
      return ""
    }
  }
  const changed = git(["status", "--porcelain", "--", "src"])
  return {
    commit: git(["rev-parse", "--short", "HEAD"]),
    uncommittedSources: changed === "" ? [] : changed.split("\n").map((line) => line.slice(3))
  }
}

/** How to read the table: printed under the markdown so that the README carries it along. */
const method = (info: ReturnType<typeof machine>, wall: boolean, reps: string): string =>
  [
    `Measured on ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date.slice(0, 10)}. ` +
      `Every figure is a median over runs (${reps}), each in a fresh process, fiberapp and its baselines ` +
      "interleaved in the same run; the ratio is the median of fiberapp / baseline within each run.",
    wall
      ? "- Tasks and events: wall-clock time."
      : "- Tasks and events: CPU time of the benchmark process (user + system), which other load on the machine " +
        "disturbs far less than wall-clock time (`npm run bench -- --wall` compares on wall clock).",
    `- HTTP: autocannon in its own process, ${http.connections} connections, ${http.warmupSeconds} s warm-up, ` +
      `${http.seconds} s measured, on 127.0.0.1; load generator and server share the ${info.cores} cores, so ` +
      "requests/s is partly the load generator's speed. Server CPU per request is the server's own cost.",
    `- Websockets: one \`ws\` client process; ping-pong is ${wsCounts.roundTrips} round trips with one message ` +
      `in flight, pipelined is ${wsCounts.pipelined} messages sent at once, timed until every echo is back.`,
    "- Workers: with the load generator on the same 2 cores, a second worker has no core of its own: the " +
      "2-vs-1 figure shows what the cluster costs here, not how it scales on a machine with spare cores. " +
      "Servers run as esbuild-built JavaScript (not under tsx) so that RSS figures are realistic.",
    "- Fleet: a fresh PostgreSQL database per case on the server at 127.0.0.1 (dropped after), lone server processes " +
      "(workers: 1) as machines; times across processes from `performance.timeOrigin + performance.now()`. The " +
      "failover case runs once (5 SIGTERMs and 5 SIGKILLs, alternating), whatever the repetitions."
  ].join("\n")

const machine = () => ({
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  totalMemory: totalmem(),
  date: new Date().toISOString()
})

interface ResultsFile {
  machine: ReturnType<typeof machine> & { loadAverageBefore: Array<number>; loadAverageAfter: Array<number> }
  revision: ReturnType<typeof revision>
  config: { reps: Record<string, number>; selection: Array<string>; clock: string; http: string; ws: string }
  cases: Record<string, CaseRecord>
  targets: Array<TargetRecord>
  markdown: string
}

const readPrevious = (): ResultsFile | undefined => {
  if (!existsSync(resultsPath)) return undefined
  try {
    return JSON.parse(readFileSync(resultsPath, "utf8")) as ResultsFile
  } catch {
    return undefined
  }
}

const main = async () => {
  const { repsOf, selectors, wall, build } = parseArgs(process.argv.slice(2))
  if (build) {
    // for profiling a server: node --cpu-prof <built file>, PORT=... to fix the port
    for (const file of readdirSync(join(root, "bench/servers"))) log(await runnable(join(root, "bench/servers", file)))
    // and the in-process cases that bench/instructions.sh counts
    const counted = (name: string) => name.startsWith("tasks-complete") || name === "events-dispatch-fiberapp.ts"
    for (const file of readdirSync(join(root, "bench/cases")).filter(counted))
      log(await runnable(join(root, "bench/cases", file)))
    return
  }
  const selected = cases.filter((c) => isSelected(selectors, c))
  const listing = `groups: ${groups.join(", ")}\ncases:\n${cases.map((c) => `  ${c.id}`).join("\n")}`
  if (selectors.includes("--list")) return log(listing)
  if (selected.length === 0) {
    process.exitCode = 1
    return log(`nothing matches ${selectors.join(" ")}\n${listing}`)
  }
  const loadAverageBefore = loadavg()
  const measuredRevision = revision()
  const started = Date.now()
  const records = new Map<string, CaseRecord>()
  const measuredAt = new Date().toISOString()
  for (const c of selected) {
    records.set(c.id, { id: c.id, group: c.group, samples: [], reps: [], errors: [], medians: {}, measuredAt })
  }
  const reps = Math.max(...selected.map((c) => repsOf(c.group)))
  const repsByGroup = Object.fromEntries(groups.map((g) => [g, repsOf(g)]))
  log(`fiberapp bench: ${selected.length} cases, up to ${reps} repetitions, each in a fresh process`)
  for (let rep = 0; rep < reps; rep++) {
    for (const group of groups) {
      if (rep >= repsOf(group)) continue
      for (const c of rotate(
        selected.filter((s) => s.group === group && rep < (s.reps ?? Number.POSITIVE_INFINITY)),
        rep
      )) {
        await runCase(c, records.get(c.id)!, rep)
      }
    }
  }
  for (const record of records.values()) record.medians = numericMedians(record.samples)

  const evaluated = targets.flatMap((t) => evaluate(t, records, wall) ?? [])
  const previous = selectors.length === 0 ? undefined : readPrevious()
  const ranGroups = new Set(selected.map((c) => c.group))
  const keptTargets = (previous?.targets ?? []).filter((t) => !evaluated.some((e) => e.title === t.title))
  const allTargets = [...keptTargets, ...evaluated].sort(
    (a, b) => targets.findIndex((t) => t.title === a.title) - targets.findIndex((t) => t.title === b.title)
  )
  const info = machine()
  const markdown = `${markdownTable(header, rowsOf(allTargets))}\n\n${method(info, wall, describeReps(selected, repsOf))}`
  const seconds = (Date.now() - started) / 1000

  process.stdout.write(`\n${textTable(header, rowsOf(evaluated))}\n\n`)
  process.stdout.write(`Markdown (all targets in bench/results.json):\n\n${markdown}\n\n`)
  process.stdout.write(
    `${info.cpu}, ${info.cores} cores, Node ${info.node}; medians of ${describeReps(selected, repsOf)} runs, ` +
      `a fresh process each; ` +
      `load average before ${loadAverageBefore.map((l) => l.toFixed(2)).join(" ")}, ` +
      `after ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}; ${seconds.toFixed(0)} s\n\n`
  )

  const keptCases = Object.fromEntries(
    Object.entries(previous?.cases ?? {}).filter(
      ([id]) => !records.has(id) && !ranGroups.has(id.split(".")[0] as Group)
    )
  )
  const file: ResultsFile = {
    machine: { ...info, loadAverageBefore, loadAverageAfter: loadavg() },
    revision: measuredRevision,
    config: {
      reps: repsByGroup,
      selection: selectors.length === 0 ? ["all"] : selectors,
      clock: wall
        ? "wall clock"
        : "in-process cases: CPU time of the case process (user + system); HTTP and websockets: wall clock",
      http:
        `autocannon in its own process, ${http.connections} connections, ${http.warmupSeconds} s warm-up then ` +
        `${http.seconds} s measured; each server in a fresh process on 127.0.0.1`,
      ws: `ws client in its own process: ${wsCounts.roundTrips} ping-pong round trips, ${wsCounts.pipelined} pipelined messages`
    },
    cases: { ...keptCases, ...Object.fromEntries(records) },
    targets: allTargets,
    markdown
  }
  writeFileSync(resultsPath, `${JSON.stringify(file, null, 2)}\n`)
  log(`wrote ${resultsPath}`)
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
