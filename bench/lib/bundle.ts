/**
 * Server processes run from JavaScript built once per run with esbuild (the one tsx brings), not under tsx:
 * tsx's loader adds some 140 MB of RSS to every process, which would swamp the idle-worker figure, and cluster
 * workers re-run the built file as they would in production. Packages stay external, loaded from node_modules.
 * The built files live in the system's temporary directory.
 * `BENCH_SERVERS=tsx` runs the TypeScript sources under tsx instead.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { build } from "esbuild"
import { root } from "./proc.js"

// Outside the repository (fiberapp's workers refuse an entry script inside node_modules, and the sources must
// stay clean for tsc and biome), with a node_modules link so that the external packages resolve.
const outdir = join(tmpdir(), `fiberapp-bench-${createHash("sha1").update(root).digest("hex").slice(0, 8)}`)

const prepare = (): void => {
  mkdirSync(outdir, { recursive: true })
  const modules = join(outdir, "node_modules")
  if (!existsSync(modules)) symlinkSync(join(root, "node_modules"), modules, "dir")
}

export const useTsx = process.env.BENCH_SERVERS === "tsx"

const built = new Map<string, Promise<string>>()

/** The runnable file for a server script (absolute path of a `.ts` file). */
export const runnable = (script: string): Promise<string> => {
  if (useTsx) return Promise.resolve(script)
  let out = built.get(script)
  if (out === undefined) {
    const outfile = join(outdir, `${script.slice(root.length).replace(/[/\\]/g, "_").replace(/\.ts$/, "")}.mjs`)
    prepare()
    out = build({
      entryPoints: [script],
      outfile,
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error"
    }).then(() => outfile)
    built.set(script, out)
  }
  return out
}
