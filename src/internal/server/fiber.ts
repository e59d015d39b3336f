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
