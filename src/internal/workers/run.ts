import type { Scope } from "effect"
import { Config, ConfigError, Duration, Effect, Option } from "effect"
import { App, StartError } from "../../App.js"
import type { Options as InspectorOptions } from "../../Inspector.js"
import type { Address, ServerService } from "../../Server.js"
import { ServeError } from "../../Server.js"
import type { Options as WorkersOptions } from "../../Workers.js"
import { WorkersError } from "../../Workers.js"
import * as InspectorConfig from "./inspectorConfig.js"
import * as Primary from "./primary.js"
import * as Single from "./single.js"
import { state, workerName } from "./state.js"
import * as Worker from "./worker.js"

export interface RunOptions<E, R> {
  /** From the options; `WORKERS` overrides. */
  readonly workers: number
  readonly host: string
  readonly port: number
  /** The server's drain timeout: the primary waits for a stopping worker as long as this or the app's, the longer. */
  readonly gracefulShutdownTimeout: Duration.Duration | undefined
  readonly inspector: boolean | InspectorOptions | undefined
  readonly workerOptions: WorkersOptions | undefined
  /** The whole sequence of a process serving alone, `main_process_*` listeners included. */
  readonly single: Effect.Effect<ServerService, E, R | Scope.Scope>
  /** One worker's sequence: bind, start the app. */
  readonly worker: Effect.Effect<ServerService, E, R | Scope.Scope>
  readonly formatUrl: (address: Address) => string
}

const toServeError = (error: { readonly message: string }, cause: unknown): ServeError =>
  new ServeError({
    reason: error.message,
    ...(cause instanceof StartError && cause.listener !== undefined ? { listener: cause.listener } : {}),
    cause
  })

/** A blank `WORKERS` counts as unset, as a blank `PORT` does. */
const workersSetting = (fallback: number): Effect.Effect<number, ServeError> =>
  Config.option(Config.string("WORKERS")).pipe(
    Effect.flatMap((raw) =>
      Option.isNone(raw) || raw.value.trim() === "" ? Effect.succeedNone : Config.option(Config.integer("WORKERS"))
    ),
    Effect.mapError(
      (error) =>
        new ServeError({
          reason: `Invalid WORKERS setting: ${ConfigError.isConfigError(error) ? String(error) : "unreadable"}.`,
          cause: error
        })
    ),
    Effect.flatMap((value) => {
      const workers = Option.getOrElse(value, () => fallback)
      return Number.isInteger(workers) && workers >= 1
        ? Effect.succeed(workers)
        : Effect.fail(
            new ServeError({ reason: `Invalid workers ${workers}: use a whole number of processes, 1 or more.` })
          )
    })
  )

/**
 * Where the server decides what this process is: a worker forked by a primary (serve, acknowledge), the primary of
 * several workers (supervise, never serve), or a process serving alone. The inspector runs in the latter two.
 */
export const run = <E, R>(
  options: RunOptions<E, R>
): Effect.Effect<ServerService, ServeError | E, R | App | Scope.Scope> =>
  Effect.gen(function* () {
    const app = yield* App
    if (workerName() !== undefined) {
      return yield* Worker.run(app, options.worker).pipe(
        Effect.catchIf(
          (error): error is WorkersError => error instanceof WorkersError,
          (error) => Effect.fail(toServeError(error, error))
        )
      )
    }
    const workers = yield* workersSetting(options.workers)
    const inspector = yield* InspectorConfig.resolve(options.inspector).pipe(
      Effect.mapError((error) => toServeError(error, error))
    )

    let served: ServerService
    if (workers > 1) {
      const primary = yield* Primary.make({
        ...options.workerOptions,
        app,
        workers,
        gracefulShutdownTimeout:
          options.gracefulShutdownTimeout === undefined
            ? app.gracefulShutdownTimeout
            : Duration.max(app.gracefulShutdownTimeout, options.gracefulShutdownTimeout)
      }).pipe(
        Effect.mapError((error) =>
          error._tag === "StartError"
            ? toServeError({ message: `A ${error.listener ?? "main process"} listener failed: ${error.reason}` }, error)
            : toServeError(error, error)
        )
      )
      const address = primary.address ?? { hostname: options.host, port: options.port }
      served = { address, url: options.formatUrl(address) }
    } else {
      served = yield* options.single
      const supervisor = Single.make(app)
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          state.supervisor = supervisor
        }),
        () =>
          Effect.sync(() => {
            if (state.supervisor === supervisor) state.supervisor = undefined
          })
      )
    }
    if (Option.isSome(inspector) && state.supervisor !== undefined) {
      // Loaded only when on: workers and most servers never pay for the inspector's HTTP stack.
      const Inspector = yield* Effect.promise(() => import("./inspector.js"))
      yield* Inspector.serve(state.supervisor, inspector.value).pipe(
        Effect.mapError((error) => toServeError(error, error))
      )
    }
    return served
  })
