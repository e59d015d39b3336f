/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time by function, and total (inclusive) time of
 * the functions under a path filter.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/cases/tasks-fiberapp.ts
 *   npx tsx bench/profile.ts /tmp/prof/<file>.cpuprofile [top] [path filter, e.g. src/]
 */
import { readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg, filter] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write("usage: tsx bench/profile.ts <file.cpuprofile> [top] [path filter]\n")
  process.exit(1)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

const label = (node: Node): string => {
  const { functionName, url, lineNumber } = node.callFrame
  const short = url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(src|bench)\//, "$1/")
  return `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}`
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0
  total += delta
  const node = byId.get(id)!
  self.set(label(node), (self.get(label(node)) ?? 0) + delta)
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = label(byId.get(at)!)
    if (seen.has(name)) continue
    seen.add(name)
    inclusive.set(name, (inclusive.get(name) ?? 0) + delta)
  }
})

const print = (title: string, entries: Map<string, number>, keep: (name: string) => boolean) => {
  process.stdout.write(`\n${title}\n`)
  const sorted = [...entries].filter(([name]) => keep(name)).sort((a, b) => b[1] - a[1])
  for (const [name, micros] of sorted.slice(0, top)) {
    process.stdout.write(
      `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}\n`
    )
  }
}

process.stdout.write(`total ${(total / 1000).toFixed(0)} ms sampled\n`)
print("self time", self, () => true)
if (filter !== undefined) print(`inclusive time, ${filter}`, inclusive, (name) => name.includes(filter))
