/**
 * `npm run soak`: the mixed workload of soak.ts for `SOAK_SECONDS` (default 300), then its figures. Exits 1 when
 * something failed outside the kills, a worker did not settle, or the shutdown was not clean.
 */
import { Effect } from "effect"
import { format, soak } from "./soak.js"

const seconds = Number(process.env.SOAK_SECONDS ?? 300)

Effect.runPromise(Effect.scoped(soak({ seconds, log: (line) => console.log(`[soak] ${line}`) }))).then(
  (report) => {
    for (const line of format(report)) console.log(line)
    const clean = report.unexpectedErrors.length === 0 && report.exitCode === 0 && report.processesLeft === 0
    process.exit(clean ? 0 : 1)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
