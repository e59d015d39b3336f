import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as MutableQueue from "effect/MutableQueue"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type { EventContext } from "../../Events.js"
import { withAnnotations } from "../annotations.js"
import { linksTo } from "../tracing.js"
import type { HandlerRecord } from "./table.js"
import { contextFor } from "./table.js"

/** The handlers of one dispatch. */
export interface Job {
  readonly handlers: ReadonlyArray<HandlerRecord>
  readonly context: EventContext
  readonly tail: string
  /** The dispatch was made while a handler failure was being reported: failures are logged, not reported. */
  readonly reporting: boolean
  /** The dispatch's span, with a tracer of the app's own: each handler's span links to it. */
  span: Tracer.AnySpan | undefined
  /** Inline, with a tracer of the app's own: each handler is a span in the dispatch's. */
  traced: boolean
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
 * The background fibers that run the handlers of non-inline dispatches. Jobs wait in a `MutableQueue` (a `Queue`'s
 * take per job measured 0.65x of the PubSub baseline on this path; the synchronous one keeps it at parity), and each
 * job is taken by a runner that is not busy with another. Idle runners park until a dispatch wakes one.
 */
export const make = (
  onFailure: (record: HandlerRecord, cause: Cause.Cause<unknown>, job: Job) => Effect.Effect<void>,
  /** Log annotations for the runners started from now on (a worker's name, once its server has bound it). */
  annotations: () => Readonly<Record<string, string>> | undefined = () => undefined,
  /** The app's name, for the handlers' spans. */
  app = ""
): Effect.Effect<Runners, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runners = yield* FiberSet.make<void>()
    const fork = yield* FiberSet.runtime(runners)<never>()
    const jobs = MutableQueue.unbounded<Job>()
    const parked: Array<(resume: Effect.Effect<void>) => void> = []
    /** Runners forked or woken that have not taken a job yet. */
    let starting = 0
    yield* Effect.addFinalizer(() => Effect.sync(() => MutableQueue.pollUpTo(jobs, Number.POSITIVE_INFINITY)))

    const startRunner = (): void => {
      starting++
      const resume = parked.pop()
      if (resume !== undefined) resume(Effect.void)
      else fork(withAnnotations(makeRunner(), annotations()), { immediate: false })
    }

    const park: Effect.Effect<void> = Effect.async<void>((resume) => {
      parked.push(resume)
      return Effect.sync(() => {
        const index = parked.indexOf(resume)
        if (index >= 0) parked.splice(index, 1)
      })
    })

    // A runner sets each handler's context only when it differs from the last one's, and catches failures once
    // around its loop, knowing which handler was running. A job left waiting while it works gets a runner of its
    // own unless one is on its way, so a handler that suspends never holds up the handlers of later dispatches.
    const makeRunner = (): Effect.Effect<void> => {
      let job: Job | undefined
      let index = 0
      let record: HandlerRecord | undefined
      let context: Context.Context<never> | undefined
      const step: Effect.Effect<void, unknown> = Effect.suspend(() => {
        for (;;) {
          if (job !== undefined) {
            while (index < job.handlers.length) {
              record = job.handlers[index++]
              if (record.removed) continue
              const handled = job.span === undefined ? call(record, job) : traced(record, job, job.span)
              const run = Effect.zipRight(handled, step)
              if (record.context === context) return run
              context = record.context
              return Effect.zipRight(FiberRef.set(FiberRef.currentContext, context), run)
            }
            job = undefined
            record = undefined
          }
          const next = MutableQueue.poll(jobs, undefined)
          if (next === undefined) {
            if (parked.length >= maxIdleRunners) return Effect.void
            return Effect.zipRight(park, unparked)
          }
          job = next
          index = 0
          if (!MutableQueue.isEmpty(jobs) && starting === 0) startRunner()
        }
      })
      const guarded: Effect.Effect<void> = Effect.catchAllCause(step, (cause) =>
        Effect.zipRight(onFailure(record!, cause, job!), guarded)
      )
      // Woken from the parked list: still inside `guarded`, so the loop goes on without another catch frame.
      const unparked = Effect.suspend(() => {
        starting--
        return step
      })
      return Effect.suspend(() => {
        starting--
        return guarded
      })
    }

    /** A handler of a traced dispatch: its own root span, linked to the dispatch's (it runs after it ended). */
    const traced = (record: HandlerRecord, job: Job, span: Tracer.AnySpan) =>
      Effect.withSpan(
        Effect.suspend(() => call(record, job)),
        `handler ${record.name.name}`,
        { root: true, links: linksTo(span), attributes: { "fiberapp.app": app, "fiberapp.event": record.name.name } }
      )

    const enqueue = (job: Job): void => {
      MutableQueue.offer(jobs, job)
      if (starting === 0) startRunner()
    }
    return { enqueue, queued: () => MutableQueue.length(jobs) }
  })
