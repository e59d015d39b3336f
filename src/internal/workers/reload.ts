import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/** How long the files must stay quiet after a change before the workers restart: an editor saves in several writes. */
export const debounce = Duration.millis(200)

const ignoredParts: ReadonlySet<string> = new Set(["node_modules", ".git", "dist"])
const sourceFile = /\.(?:[cm]?[jt]s|[jt]sx|json)$/

/** Whether a changed path (relative to a watched folder) is source: not under node_modules, .git or dist. */
export const isSource = (relative: string): boolean =>
  sourceFile.test(relative) && !relative.split(/[\\/]/).some((part) => ignoredParts.has(part))

/** The folders to watch: the entry script's and `src/` under the current folder, without one inside another. */
export const foldersOf = (entry: string, cwd: string): ReadonlyArray<string> => {
  const candidates = [Path.dirname(Path.resolve(cwd, entry)), Path.resolve(cwd, "src")].filter((dir) => {
    try {
      return Fs.statSync(dir).isDirectory()
    } catch {
      return false
    }
  })
  const inside = (dir: string, parent: string) => dir === parent || dir.startsWith(parent + Path.sep)
  return candidates.filter(
    (dir, i) => !candidates.some((other, j) => j !== i && inside(dir, other) && (dir !== other || j < i))
  )
}

/**
 * Watches `folders` recursively while the scope is open; once the changed source files have been quiet for the
 * debounce, `onChange` runs with them, one run at a time (changes made meanwhile make the next run).
 */
export const watch = (
  folders: ReadonlyArray<string>,
  onChange: (files: ReadonlyArray<string>) => Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const lock = yield* Effect.makeSemaphore(1)
    const pending = new Set<string>()
    let timer: ReturnType<typeof setTimeout> | undefined
    const fire = () => {
      timer = undefined
      const files = Array.from(pending)
      pending.clear()
      if (files.length > 0) runFork(lock.withPermits(1)(onChange(files)))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        folders.flatMap((folder) => {
          try {
            const watcher = Fs.watch(folder, { recursive: true }, (_event, name) => {
              if (name === null || !isSource(String(name))) return
              pending.add(Path.join(folder, String(name)))
              if (timer !== undefined) clearTimeout(timer)
              timer = setTimeout(fire, Duration.toMillis(debounce))
            })
            watcher.on("error", (error) => runFork(Effect.logWarning(`Auto-reload: watching ${folder} failed`, error)))
            return [watcher]
          } catch (error) {
            runFork(Effect.logWarning(`Auto-reload: cannot watch ${folder}`, error))
            return []
          }
        })
      ),
      (watchers) =>
        Effect.sync(() => {
          if (timer !== undefined) clearTimeout(timer)
          for (const watcher of watchers) watcher.close()
        })
    )
    yield* Effect.logInfo(`Auto-reload: watching ${folders.join(", ")}`)
  })
