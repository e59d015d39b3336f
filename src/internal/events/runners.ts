import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { EventContext } from "../../Events.js"
import type { HandlerRecord } from "./table.js"
import { contextFor } from "./table.js"

/** The handlers of one dispatch. */
export interface Job {
  readonly handlers: ReadonlyArray<HandlerRecord>
  readonly context: EventContext
  readonly tail: string
  /** The dispatch was made while a handler failure was being reported: failures are logged, not reported. */
  readonly reporting: boolean
}

/** Runs one handler with the dispatch's context merged with its dynamic part. A throw is a defect. */
export const call = (record: HandlerRecord, job: Job): Effect.Effect<unknown, unknown> => {
  try {
    return record.handler(contextFor(record.name, job.context, job.tail))
  } catch (defect) {
    return Effect.die(defect)
  }
}

export interface Runners {
  readonly enqueue: (job: Job) => void
  /** Jobs waiting for a runner. */
  readonly queued: () => number
}

/** Keeps this many runners waiting for work; more than that end when they run out of it. */
const maxIdleRunners = 8

/**
 * The background fibers that run the handlers of non-inline dispatches: jobs go through a `Queue`, and each job is
 * taken by a runner that is not busy with another, so a handler that suspends never holds up the handlers of later
 * dispatches. A runner runs each handler with the services that were in context where it was registered.
 */
export const make = (
  onFailure: (record: HandlerRecord, cause: Cause.Cause<unknown>, job: Job) => Effect.Effect<void>
): Effect.Effect<Runners, never, Scope.Scope> =>
  Effect.gen(function* () {
    const jobs = yield* Effect.acquireRelease(Queue.unbounded<Job>(), Queue.shutdown)
    const runners = yield* FiberSet.make<void>()
    const fork = yield* FiberSet.runtime(runners)<never>()
    /** Runners waiting for a job that no dispatch has claimed yet. */
    let free = 0
    let queued = 0

    const runJob = (job: Job): Effect.Effect<void> =>
      Effect.forEach(
        job.handlers,
        (record) =>
          record.removed
            ? Effect.void
            : Effect.catchAllCause(
                Effect.locally(call(record, job), FiberRef.currentContext, record.context),
                (cause) => onFailure(record, cause, job)
              ),
        { discard: true }
      )

    const next: Effect.Effect<void> = Effect.suspend(() => {
      if (free >= maxIdleRunners) return Effect.void
      free++
      return Effect.flatMap(Queue.take(jobs), (job) => {
        queued--
        return Effect.zipRight(runJob(job), next)
      })
    })
    const runner = (job: Job): Effect.Effect<void> => Effect.zipRight(runJob(job), next)

    const enqueue = (job: Job): void => {
      if (free > 0) {
        free--
        queued++
        Queue.unsafeOffer(jobs, job)
      } else {
        fork(runner(job), { immediate: false })
      }
    }
    return { enqueue, queued: () => queued }
  })
