import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Either, Equal, Exit, FiberRef, Option } from "effect"
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

/** Runs a program as the server does: without a fiber, then on one for whatever needs it. */
const runAsServer = (effect: Program): Promise<Exit.Exit<number, number>> => {
  const result = Fiber.runWithoutFiber(effect, () => context as Context.Context<never>)
  if (!(result instanceof Fiber.NeedsFiber)) return Promise.resolve(result as Exit.Exit<number, number>)
  return Effect.runPromiseExit(Effect.provide(result.rest as Program, context).pipe(Effect.locally(Marker, 5)))
}

describe("handlers run without a fiber", () => {
  it("effect's primitives still look as the server reads them", () => {
    assert.isTrue(Fiber.canRunWithoutFiber())
  })

  it.effect("end as they end on a fiber, for any mix of steps (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(program, async (effect) => {
          const expected = await Effect.runPromiseExit(Effect.provide(effect, context).pipe(Effect.locally(Marker, 5)))
          const actual = await runAsServer(effect)
          assert.isTrue(Equal.equals(actual, expected), `${String(actual)} !== ${String(expected)}`)
        }),
        { numRuns: 2000 }
      )
    )
  )

  it("a long synchronous handler is handed to a fiber rather than run to its end", () => {
    let steps = 0
    const long = Effect.gen(function* () {
      for (let i = 0; i < 10_000; i++) yield* Effect.sync(() => steps++)
      return steps
    })
    const result = Fiber.runWithoutFiber(long, () => context as Context.Context<never>)
    assert.instanceOf(result, Fiber.NeedsFiber)
    const handedOver = steps
    assert.isBelow(handedOver, 10_000)
    const exit = Effect.runSyncExit((result as Fiber.NeedsFiber).rest as Effect.Effect<number>)
    assert.deepStrictEqual(exit, Exit.succeed(10_000))
  })

  it("a fiber ref read or a log in the middle hands the rest over at that step, once", () => {
    const log: Array<string> = []
    const handler = Effect.gen(function* () {
      log.push("before")
      const base = yield* Base
      const marker = yield* FiberRef.get(Marker)
      log.push("after")
      return base + marker
    })
    const result = Fiber.runWithoutFiber(handler, () => context as Context.Context<never>)
    assert.deepStrictEqual(log, ["before"])
    assert.instanceOf(result, Fiber.NeedsFiber)
    const exit = Effect.runSyncExit(
      Effect.provide((result as Fiber.NeedsFiber).rest as typeof handler, context).pipe(Effect.locally(Marker, 7))
    )
    assert.deepStrictEqual([exit, log], [Exit.succeed(17), ["before", "after"]])
  })
})
