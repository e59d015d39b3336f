import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as RuntimeFlags from "effect/RuntimeFlags"
import * as Supervisor from "effect/Supervisor"
import { type YieldWrap, yieldWrapGet } from "effect/Utils"

/** Starts `effect` as a root fiber whose context is `context`, with the fiber refs and flags of a runtime. */
export type Forker = <A, E>(
  context: Context.Context<never>,
  effect: Effect.Effect<A, E, any>
) => Fiber.RuntimeFiber<A, E>

type FiberRuntimeClass = new (
  id: FiberId.Runtime,
  fiberRefs: FiberRefs.FiberRefs,
  runtimeFlags: RuntimeFlags.RuntimeFlags
) => Fiber.RuntimeFiber<any, any> & { start(effect: Effect.Effect<any, any, any>): void }

const ProbeTag = Context.GenericTag<"fiberapp/server/ProbeTag", number>("fiberapp/server/ProbeTag")

/**
 * Effect's fiber class, which the package does not export, taken from a fiber; `undefined` if its constructor no
 * longer behaves as `Runtime.runFork` uses it (id, fiber refs, flags; `start` runs on the current stack).
 */
const probeFiberRuntimeClass = (): FiberRuntimeClass | undefined => {
  try {
    const probe = Effect.runFork(Effect.void)
    const FiberRuntime = probe.constructor as FiberRuntimeClass
    const id = FiberId.unsafeMake()
    const locals = new Map(Effect.runSync(Effect.getFiberRefs).locals)
    locals.set(FiberRef.currentContext, [[id, Context.make(ProbeTag, 42)]])
    const fiber = new FiberRuntime(id, FiberRefs.unsafeMake(locals), Runtime.defaultRuntime.runtimeFlags)
    fiber.start(Effect.map(ProbeTag, (n) => n + 1))
    const exit = fiber.unsafePoll()
    return fiber.id() === id && exit !== null && Exit.isSuccess(exit) && exit.value === 43 ? FiberRuntime : undefined
  } catch {
    return undefined
  }
}

let fiberRuntimeClass: FiberRuntimeClass | null | undefined
const getFiberRuntimeClass = (): FiberRuntimeClass | undefined => {
  if (fiberRuntimeClass === undefined) fiberRuntimeClass = probeFiberRuntimeClass() ?? null
  return fiberRuntimeClass ?? undefined
}

/**
 * A {@link Forker} for one runtime. `Runtime.runFork` re-derives the fiber refs for every fiber (a fork patch per
 * ref, a copy of the map) and registers it among the global roots; when the runtime's refs do not change on fork
 * and no supervisor watches, a request fiber needs neither: it is built directly with the runtime's refs and its
 * own context (`direct`). Otherwise, and if effect's fiber class cannot be used so, this is `Runtime.runFork`.
 */
export const makeForker = (runtime: Runtime.Runtime<never>): { readonly fork: Forker; readonly direct: boolean } => {
  const { fiberRefs, runtimeFlags } = runtime
  const runFork = {
    fork: ((context, effect) =>
      Runtime.runFork(Runtime.make({ context, fiberRefs, runtimeFlags }), effect as Effect.Effect<any, any>)) as Forker,
    direct: false
  }
  const FiberRuntime = getFiberRuntimeClass()
  if (FiberRuntime === undefined) return runFork
  if (FiberRefs.getOrDefault(fiberRefs, FiberRef.currentSupervisor) !== Supervisor.none) return runFork
  const forked = FiberRefs.forkAs(fiberRefs, FiberId.unsafeMake())
  const inherited: Array<[FiberRef.FiberRef<any>, ReadonlyArray<readonly [FiberId.Single, any]>]> = []
  for (const [fiberRef, stack] of fiberRefs.locals) {
    if (forked.locals.get(fiberRef) !== stack) return runFork
    if (fiberRef !== FiberRef.currentContext) inherited.push([fiberRef, stack])
  }
  const fork: Forker = (context, effect) => {
    const id = FiberId.unsafeMake()
    const locals = new Map(inherited as Iterable<readonly [FiberRef.FiberRef<any>, any]>)
    locals.set(FiberRef.currentContext, [[id, context]])
    const fiber = new FiberRuntime(id, FiberRefs.unsafeMake(locals), runtimeFlags)
    fiber.start(effect)
    return fiber
  }
  return { fork, direct: true }
}

/** What evaluating a one-step effect gave: its exit, built as the fiber's run loop would build it. */
export type Step<A> = () => Exit.Exit<A, unknown>

interface Primitive {
  readonly _op: string
  readonly effect_instruction_i0: unknown
}

const stepOf = (effect: Effect.Effect<unknown, unknown, unknown>): Step<unknown> | undefined => {
  const op = effect as unknown as Primitive
  switch (op._op) {
    case "Success":
    case "Failure":
      return () => effect as unknown as Exit.Exit<unknown, unknown>
    case "Sync": {
      const thunk = op.effect_instruction_i0 as () => unknown
      return () => {
        try {
          return Exit.succeed(thunk())
        } catch (error) {
          return Cause.isInterruptedException(error)
            ? Exit.failCause(Cause.sequential(Cause.die(error), Cause.interrupt(FiberId.none)))
            : Exit.die(error)
        }
      }
    }
  }
  return undefined
}

let stepsWork: boolean | undefined
/** Whether effect's primitives still look as `stepOf` reads them (as effect's own `runSyncExit` fast path does). */
const probeSteps = (): boolean => {
  try {
    const value = {}
    const thrown = new Error("probe")
    const succeeded = stepOf(Effect.succeed(value))?.()
    const synced = stepOf(Effect.sync(() => value))?.()
    const died = stepOf(
      Effect.sync(() => {
        throw thrown
      })
    )?.()
    return (
      succeeded !== undefined &&
      Exit.isSuccess(succeeded) &&
      succeeded.value === value &&
      synced !== undefined &&
      Exit.isSuccess(synced) &&
      synced.value === value &&
      died !== undefined &&
      Exit.isFailure(died) &&
      Option.getOrUndefined(Cause.dieOption(died.cause)) === thrown &&
      stepOf(Effect.map(Effect.succeed(value), (a) => a)) === undefined &&
      stepOf(Effect.async(() => {})) === undefined
    )
  } catch {
    return false
  }
}

/**
 * The effect as one synchronous step, if it is nothing more: an `Effect.succeed`, `Effect.fail`, `Effect.sync`.
 * Such an effect cannot suspend, fork, read its context or a fiber ref, or add a finalizer, so it can be
 * evaluated without a fiber, as effect's own `Runtime.runSyncExit` does for `Effect.succeed` and `Effect.fail`
 * (the thunk of an `Effect.sync` sees no current fiber, and no fiber metrics count it).
 */
export const syncStep = <A>(effect: Effect.Effect<A, unknown, unknown>): Step<A> | undefined =>
  (stepsWork ??= probeSteps()) ? (stepOf(effect) as Step<A> | undefined) : undefined

/** What {@link runWithoutFiber} gives back when the effect turns out to need a fiber: the rest of it, to run on one. */
export class NeedsFiber {
  constructor(readonly rest: Effect.Effect<unknown, unknown, any>) {}
}

interface Frame {
  readonly _op: "OnSuccess" | "OnFailure" | "OnSuccessAndFailure" | "Iterator"
  readonly effect_instruction_i0: any
  readonly effect_instruction_i1: any
  readonly effect_instruction_i2: any
}

interface Op {
  readonly _op: string
  readonly effect_instruction_i0: any
  readonly commit: () => unknown
  readonly [key: symbol]: { readonly _V: string } | undefined
}

const EffectTypeId = Symbol.for("effect/Effect")
const effectVersion = (Effect.void as unknown as Op)[EffectTypeId]?._V
/** Beyond this many steps the effect goes on in a fiber, whose scheduler lets other work in. */
const maxSteps = 1024

const defect = (error: unknown): Exit.Exit<never, unknown> =>
  Cause.isInterruptedException(error)
    ? Exit.failCause(Cause.sequential(Cause.die(error), Cause.interrupt(FiberId.none)))
    : Exit.die(error)

/** An iterator that gives `value` to the first `next`, so that a suspended generator resumes where it stopped. */
const resumeWith = (iterator: Iterator<unknown, unknown, unknown>, value: unknown): Iterator<unknown> => {
  let first = true
  return {
    next: (input: unknown) => {
      if (!first) return iterator.next(input)
      first = false
      return iterator.next(value)
    }
  }
}

/** The effect left to run: `current`, then the frames from the innermost (the last pushed) out. */
const rebuild = (current: unknown, stack: ReadonlyArray<Frame>): Effect.Effect<unknown, unknown, any> => {
  let rest = current as Effect.Effect<unknown, unknown, any>
  for (let i = stack.length - 1; i >= 0; i--) {
    const frame = stack[i]!
    switch (frame._op) {
      case "OnSuccess":
        rest = Effect.flatMap(rest, frame.effect_instruction_i1)
        break
      case "OnFailure":
        rest = Effect.catchAllCause(rest, frame.effect_instruction_i1)
        break
      case "OnSuccessAndFailure":
        rest = Effect.matchCauseEffect(rest, {
          onFailure: frame.effect_instruction_i1,
          onSuccess: frame.effect_instruction_i2
        })
        break
      case "Iterator": {
        const iterator = frame.effect_instruction_i0 as Iterator<unknown, unknown, unknown>
        rest = Effect.flatMap(rest, (value) => Effect.gen(() => resumeWith(iterator, value) as any))
        break
      }
    }
  }
  return rest
}

const evaluate = (
  effect: Effect.Effect<unknown, unknown, unknown>,
  context: () => Context.Context<never>
): Exit.Exit<unknown, unknown> | NeedsFiber => {
  const stack: Array<Frame> = []
  let current: unknown = effect
  for (let steps = 0; ; steps++) {
    const op = current as Op
    // Tags declared as classes are functions.
    if (
      steps >= maxSteps ||
      op === null ||
      (typeof op !== "object" && typeof op !== "function") ||
      op[EffectTypeId]?._V !== effectVersion
    ) {
      return new NeedsFiber(rebuild(current, stack))
    }
    try {
      let value: unknown
      switch (op._op) {
        case "Success":
          value = op.effect_instruction_i0
          break
        case "Failure": {
          let frame = stack.pop()
          while (frame !== undefined && frame._op !== "OnFailure" && frame._op !== "OnSuccessAndFailure") {
            frame = stack.pop()
          }
          if (frame === undefined) return op as unknown as Exit.Exit<unknown, unknown>
          current = frame.effect_instruction_i1(op.effect_instruction_i0)
          continue
        }
        case "Sync":
          value = op.effect_instruction_i0()
          break
        case "Tag":
          value = Context.unsafeGet(context(), op as unknown as Context.Tag<unknown, unknown>)
          break
        case "Commit":
          current = op.commit()
          continue
        case "OnSuccess":
        case "OnFailure":
        case "OnSuccessAndFailure":
          stack.push(op as unknown as Frame)
          current = op.effect_instruction_i0
          continue
        case "Iterator":
          stack.push(op as unknown as Frame)
          value = undefined
          break
        default:
          return new NeedsFiber(rebuild(current, stack))
      }
      // `value` goes to the innermost frame that takes a success, as the fiber's run loop would give it.
      let frame = stack.pop()
      while (frame !== undefined && frame._op === "OnFailure") frame = stack.pop()
      if (frame === undefined) return Exit.succeed(value)
      switch (frame._op) {
        case "OnSuccess":
          current = frame.effect_instruction_i1(value)
          break
        case "OnSuccessAndFailure":
          current = frame.effect_instruction_i2(value)
          break
        case "Iterator": {
          const iterator = frame.effect_instruction_i0 as Iterator<unknown, unknown, unknown>
          for (;;) {
            const state = iterator.next(value)
            if (state.done) {
              current = Exit.succeed(state.value)
              break
            }
            const yielded = yieldWrapGet(state.value as YieldWrap<unknown>) as Op
            if (yielded._op === "Success") {
              value = yielded.effect_instruction_i0
              continue
            }
            // A failure passes the generator by, whether or not it is on the stack.
            stack.push(frame)
            current = yielded
            break
          }
          break
        }
      }
    } catch (error) {
      current = defect(error)
    }
  }
}

class ProbeService extends Context.Tag("fiberapp/server/ProbeService")<ProbeService, { readonly base: number }>() {}

let withoutFiberWorks: boolean | undefined
/**
 * Whether {@link evaluate} still reads effect's primitives as effect's run loop does: a program of every kind of
 * step it takes, and one that needs a fiber halfway, must end as they end on a fiber.
 */
const probeWithoutFiber = (): boolean => {
  try {
    const context = Context.make(ProbeService, { base: 40 })
    const boom = new Error("probe")
    const program = (halfway: Effect.Effect<number>) =>
      Effect.gen(function* () {
        const { base } = yield* ProbeService
        const recovered = yield* Effect.catchAll(Effect.fail(1), (n) => Effect.succeed(n))
        const rescued = yield* Effect.sync((): number => {
          throw boom
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.succeed(Option.getOrUndefined(Cause.dieOption(cause)) === boom ? 1 : 0)
          )
        )
        const more = yield* Effect.map(halfway, (n) => n + recovered + rescued)
        return yield* Effect.matchEffect(Effect.fail(base + more), {
          onFailure: (n) => Effect.succeed(n),
          onSuccess: () => Effect.succeed(-1)
        })
      })
    const same = (effect: Effect.Effect<number, never, ProbeService>, expectFiber: boolean) => {
      const expected = Effect.runSyncExit(Effect.provide(effect, context))
      const result = evaluate(effect, () => context as Context.Context<never>)
      if (result instanceof NeedsFiber !== expectFiber) return false
      const exit =
        result instanceof NeedsFiber
          ? Effect.runSyncExit(Effect.provide(result.rest as typeof effect, context))
          : result
      return Exit.isSuccess(exit) && Exit.isSuccess(expected) && exit.value === expected.value && exit.value === 42
    }
    return (
      same(program(Effect.succeed(0)), false) && same(program(Effect.withFiberRuntime(() => Effect.succeed(0))), true)
    )
  } catch {
    return false
  }
}

/** Whether {@link runWithoutFiber} may be used: effect's primitives still look as it reads them. */
export const canRunWithoutFiber = (): boolean => (withoutFiberWorks ??= probeWithoutFiber())

/**
 * Runs `effect` without a fiber for as long as it is made of steps that cannot tell the difference: successes,
 * failures, `Effect.sync`, services read from `context`, `flatMap`/`catchAll`/`match` and `Effect.gen`. Gives its
 * exit or, at the first step that needs a fiber (async, fiber refs, flags, forks, a log...), the rest of it as an
 * effect for one. Only where {@link canRunWithoutFiber}.
 */
export const runWithoutFiber: (
  effect: Effect.Effect<unknown, unknown, unknown>,
  context: () => Context.Context<never>
) => Exit.Exit<unknown, unknown> | NeedsFiber = evaluate
