import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Context,
  Effect,
  Fiber as EffectFiber,
  Either,
  Equal,
  Exit,
  FiberId,
  FiberRef,
  Option,
  Runtime
} from "effect"
import * as fc from "fast-check"
import * as Fiber from "../src/internal/server/fiber.js"

class Base extends Context.Tag("test/Base")<Base, number>() {}
const context = Context.make(Base, 10)
const boom = new Error("boom")
const Marker = FiberRef.unsafeMake(0)

type Program = Effect.Effect<number, number, Base>

/** Programs of every step the server runs without a fiber, mixed with steps that need one. */
const program: fc.Arbitrary<Program> = fc.letrec<{ program: Program }>((tie) => ({
  program: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: 0, max: 9 }).map((n) => Effect.succeed(n)),
    fc.integer({ min: 0, max: 9 }).map((n) => Effect.fail(n)),
    fc.integer({ min: 0, max: 9 }).map((n) => Effect.sync(() => n)),
    fc.constant(
      Effect.sync((): number => {
        throw boom
      })
    ),
    fc.constant(Base as Program),
    fc.constant(Effect.map(FiberRef.get(Marker), (n) => n + 1)),
    fc.constant(Effect.as(Effect.yieldNow(), 3)),
    fc.integer({ min: 0, max: 9 }).map((n) => Option.some(n) as unknown as Program),
    fc.integer({ min: 0, max: 9 }).map((n) => Either.left(n) as unknown as Program),
    fc.constant(Effect.suspend(() => Effect.succeed(4))),
    // A step that interrupts its own fiber: the fiber stops at the next step, wherever that step runs. (Not as the
    // very last step: a fiber whose effect has ended ignores it, where the lean loop's fiber does not.)
    fc.constant(
      Effect.flatMap(
        Effect.sync(() => EffectFiber.getCurrentFiber()),
        (self) =>
          Effect.sync(() => {
            Option.getOrThrow(self).unsafeInterruptAsFork(FiberId.none)
          })
      ).pipe(Effect.flatMap(() => Effect.succeed(6)))
    ),
    fc.tuple(tie("program"), tie("program")).map(([a, b]) => Effect.flatMap(a, (n) => Effect.map(b, (m) => n + m))),
    fc.tuple(tie("program"), tie("program")).map(([a, b]) => Effect.catchAll(a, (e) => Effect.map(b, (m) => e * m))),
    fc
      .tuple(tie("program"), tie("program"))
      .map(([a, b]) => Effect.catchAllCause(a, (cause) => (Cause.isDie(cause) ? b : Effect.failCause(cause)))),
    fc
      .tuple(tie("program"), tie("program"))
      .map(([a, b]) => Effect.matchEffect(a, { onFailure: (e) => Effect.succeed(e + 100), onSuccess: () => b })),
    fc.array(tie("program"), { maxLength: 4 }).map((steps) =>
      Effect.gen(function* () {
        let total = 0
        for (const step of steps) total += yield* step
        return total
      })
    )
  )
})).program

const runtimeWith = (marker: number) => Effect.runSync(Effect.locally(Effect.runtime<never>(), Marker, marker))

/** The server's forker for a runtime whose `Marker` is `marker`. */
const forkerWith = (marker: number) => Fiber.makeForker(runtimeWith(marker))

/** Runs a program on a plain root fiber of the same runtime, with the same context. */
const runPlain = <A, E>(effect: Effect.Effect<A, E, Base>): Promise<Exit.Exit<A, E>> => {
  const { fiberRefs, runtimeFlags } = runtimeWith(5)
  const fiber = Runtime.runFork(Runtime.make({ context, fiberRefs, runtimeFlags }))(effect)
  return Effect.runPromise(EffectFiber.await(fiber))
}

/** Runs a program as the server does: a request fiber whose first steps run in the lean loop. */
const runAsServer = <A, E>(effect: Effect.Effect<A, E, Base>, marker = 5): Promise<Exit.Exit<A, E>> => {
  const fiber = forkerWith(marker).fork(context as Context.Context<never>, effect)
  return Effect.runPromise(EffectFiber.await(fiber))
}

/** As the server runs a route's handler: the lean loop first, and a fiber only if something needs one. */
const runLazily = <A, E>(effect: Effect.Effect<A, E, Base>, marker = 5): Promise<Exit.Exit<A, E>> => {
  const started = forkerWith(marker).run(context as Context.Context<never>, effect)
  return Exit.isExit(started) ? Promise.resolve(started) : Effect.runPromise(EffectFiber.await(started))
}

describe("request fibers' first steps", () => {
  it("run in the lean loop here: effect's primitives still look as the server reads them", () => {
    assert.isTrue(Fiber.canStartLean())
    assert.isTrue(forkerWith(5).direct)
  })

  it.effect("end as they end on a plain fiber, for any mix of steps (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(program, async (effect) => {
          const expected = await runPlain(effect)
          const eager = await runAsServer(effect)
          assert.isTrue(Equal.equals(eager, expected), `${String(eager)} !== ${String(expected)}`)
          const lazy = await runLazily(effect)
          assert.isTrue(Equal.equals(lazy, expected), `lazily: ${String(lazy)} !== ${String(expected)}`)
        }),
        { numRuns: 2000 }
      )
    )
  )

  it.effect("see the request fiber as the current fiber, in the lean loop and after it", () =>
    Effect.gen(function* () {
      const handler = Effect.gen(function* () {
        const first = yield* Effect.sync(() => EffectFiber.getCurrentFiber())
        yield* Effect.yieldNow()
        const later = yield* Effect.sync(() => EffectFiber.getCurrentFiber())
        return [first, later] as const
      })
      const fiber = forkerWith(5).fork(context as Context.Context<never>, handler)
      const [first, later] = yield* EffectFiber.join(fiber)
      assert.strictEqual(Option.getOrUndefined(first), fiber)
      assert.strictEqual(Option.getOrUndefined(later), fiber)
      assert.isTrue(
        Option.isNone(EffectFiber.getCurrentFiber()) || Option.getOrUndefined(EffectFiber.getCurrentFiber()) !== fiber
      )
    })
  )

  it.effect("run lazily, they get their fiber when they ask for the current one, and only then", () =>
    Effect.gen(function* () {
      const quiet = forkerWith(5).run(
        context as Context.Context<never>,
        Effect.map(Base, (n) => n + 1)
      )
      assert.deepStrictEqual(quiet, Exit.succeed(11))
      const asking = Effect.gen(function* () {
        const first = yield* Effect.sync(() => Option.getOrThrow(EffectFiber.getCurrentFiber()))
        const base = Context.unsafeGet(first.currentContext, Base)
        const firstId = first.id()
        yield* Effect.yieldNow()
        const later = yield* Effect.sync(() => Option.getOrThrow(EffectFiber.getCurrentFiber()))
        return [base, firstId, later] as const
      })
      const started = forkerWith(5).run(context as Context.Context<never>, asking)
      assert.isFalse(Exit.isExit(started))
      const fiber = started as EffectFiber.RuntimeFiber<readonly [number, unknown, EffectFiber.RuntimeFiber<any, any>]>
      const [base, firstId, later] = yield* EffectFiber.join(fiber)
      assert.deepStrictEqual([base, firstId, later], [10, fiber.id(), fiber])
    })
  )

  it.effect("a stand-in kept untouched is the request's fiber later, whether the fiber was needed or not", () =>
    Effect.gen(function* () {
      let kept: EffectFiber.RuntimeFiber<any, any> | undefined
      const keep = Effect.sync(() => {
        kept = Option.getOrThrow(EffectFiber.getCurrentFiber())
      })
      const needing = Effect.gen(function* () {
        yield* keep
        yield* Effect.sleep("1 millis")
        return Option.getOrThrow(EffectFiber.getCurrentFiber()).id()
      })
      const started = forkerWith(5).run(context as Context.Context<never>, needing)
      const fiber = started as EffectFiber.RuntimeFiber<FiberId.FiberId>
      const id = yield* EffectFiber.join(fiber)
      assert.deepStrictEqual([kept!.id(), id], [fiber.id(), fiber.id()])
      const quiet = forkerWith(5).run(context as Context.Context<never>, Effect.as(keep, 3))
      assert.deepStrictEqual(quiet, Exit.succeed(3))
      assert.deepStrictEqual(yield* EffectFiber.await(kept!), Exit.succeed(3))
    })
  )

  it.effect("a long synchronous handler leaves the lean loop for the fiber's own, which can yield", () =>
    Effect.gen(function* () {
      let steps = 0
      const long = Effect.gen(function* () {
        for (let i = 0; i < 10_000; i++) yield* Effect.sync(() => steps++)
        return steps
      })
      const evaluated = Fiber.evaluate(long, context as Context.Context<never>)
      assert.instanceOf(evaluated, Fiber.NeedsFiber)
      assert.isBelow(steps, 10_000)
      steps = 0
      assert.deepStrictEqual(yield* Effect.promise(() => runAsServer(long)), Exit.succeed(10_000))
    })
  )

  it.effect("a fiber ref read in the middle hands the rest to the fiber at that step, nothing run twice", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const handler = Effect.gen(function* () {
        log.push("before")
        const base = yield* Base
        const marker = yield* FiberRef.get(Marker)
        log.push("after")
        return base + marker
      })
      assert.instanceOf(Fiber.evaluate(handler, context as Context.Context<never>), Fiber.NeedsFiber)
      assert.deepStrictEqual(log, ["before"])
      log.length = 0
      assert.deepStrictEqual(yield* Effect.promise(() => runAsServer(handler, 7)), Exit.succeed(17))
      assert.deepStrictEqual(log, ["before", "after"])
    })
  )
})
