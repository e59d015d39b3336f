/**
 * Type-checks every `@example` of the public modules (src/*.ts) as a program of its own, with "fiberapp" resolving to
 * this repository's sources, under the project's strict settings. Fails naming the module and the example.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const out = join(root, ".examples")
rmSync(out, { recursive: true, force: true })
mkdirSync(out)

const examplesOf = (source: string): Array<string> => {
  const found: Array<string> = []
  for (const comment of source.match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
    const lines = comment.split("\n").map((line) => line.replace(/^\s*\*? ?/, ""))
    let inExample = false
    let block: Array<string> | undefined
    for (const line of lines) {
      if (line.startsWith("@example")) inExample = true
      else if (line.startsWith("@")) inExample = false
      else if (inExample && block === undefined && line.startsWith("```ts")) block = []
      else if (block !== undefined && line.startsWith("```")) {
        found.push(block.join("\n"))
        block = undefined
      } else if (block !== undefined) block.push(line)
    }
  }
  return found
}

const files: Array<string> = []
const missing: Array<string> = []
for (const name of readdirSync(join(root, "src")).filter((file) => /^[A-Z].*\.ts$/.test(file))) {
  const examples = examplesOf(readFileSync(join(root, "src", name), "utf8"))
  if (examples.length === 0) missing.push(name)
  examples.forEach((example, index) => {
    const file = `${name.replace(/\.ts$/, "")}-${index + 1}.ts`
    writeFileSync(join(out, file), `${example}\n\nexport {}\n`)
    files.push(file)
  })
}
if (missing.length > 0) {
  console.error(`Public modules without an @example: ${missing.join(", ")}`)
  process.exit(1)
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../tsconfig.json",
    compilerOptions: {
      noEmit: true,
      noUnusedLocals: false,
      baseUrl: "..",
      paths: { fiberapp: ["./src/index.ts"], "fiberapp/*": ["./src/*.ts"] }
    },
    include: files
  })
)
try {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(out, "tsconfig.json")], {
    stdio: "inherit"
  })
  console.log(`${files.length} examples type-check`)
} catch {
  console.error("An @example does not type-check: see the errors above (.examples/<Module>-<n>.ts).")
  process.exit(1)
}

// examples/tracing.ts is run, not only type-checked (tsc covers examples/): its spans must reach the console exporter.
const tracing = execFileSync(process.execPath, ["--import", "tsx", join(root, "examples/tracing.ts")], {
  encoding: "utf8",
  timeout: 60_000
})
for (const span of ["task report", "event reports.report.done", "handler reports.report.done"]) {
  if (!tracing.includes(`name: '${span}'`)) {
    console.error(`examples/tracing.ts printed no "${span}" span:\n${tracing}`)
    process.exit(1)
  }
}
console.log("examples/tracing.ts exports its spans")
