/**
 * Baselines for waking 10k waiters on one event: one `Deferred` each (the target's baseline), a `PubSub`
 * subscription each, and Node's `events.once` (for reference). The variant is the first argument.
 */
import { EventEmitter, once } from "node:events"
import { Deferred, Effect, Exit, PubSub, Queue } from "effect"
import { arg, main } from "../lib/measure.js"
import { wake, warmThenMeasure } from "../lib/wake.js"

const context = { amount: 1 }

const deferredEach = (count: number) =>
  Effect.suspend(() => {
    let waiting: Array<Deferred.Deferred<typeof context>> = []
    return wake(
      (registered) =>
        Effect.flatMap(Deferred.make<typeof context>(), (deferred) => {
          waiting.push(deferred)
          registered()
          return Deferred.await(deferred)
        }),
      Effect.sync(() => {
        const woken = waiting
        waiting = []
        for (const deferred of woken) Deferred.unsafeDone(deferred, Exit.succeed(context))
      }),
      count
    )
  })

const pubsub = (count: number) =>
  Effect.flatMap(PubSub.unbounded<typeof context>(), (hub) =>
    wake(
      (registered) =>
        Effect.scoped(
          Effect.flatMap(PubSub.subscribe(hub), (subscription) => {
            registered()
            return Queue.take(subscription)
          })
        ),
      Effect.asVoid(PubSub.publish(hub, context)),
      count
    )
  )

const eventsOnce = (count: number) =>
  Effect.suspend(() => {
    const emitter = new EventEmitter()
    emitter.setMaxListeners(0)
    return wake(
      (registered) =>
        Effect.suspend(() => {
          const promise = once(emitter, "wake")
          registered()
          return Effect.promise(() => promise)
        }),
      Effect.sync(() => {
        emitter.emit("wake", context)
      }),
      count
    )
  })

const variants = { deferred: deferredEach, pubsub, once: eventsOnce } as const
const variant = arg(0, "deferred") as keyof typeof variants

// PubSub and events.once are shown for reference, several times slower: one measured round is enough
main(() => Effect.runPromise(warmThenMeasure(variants[variant], variant === "deferred" ? undefined : 1)))
