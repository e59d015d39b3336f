import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
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
 * Effect's fiber class, which the package does not export, taken from a fiber. `undefined` if its constructor
 * no longer behaves as `Runtime.runFork` uses it (id, fiber refs, flags; `start` runs on the current stack).
 */
let fiberRuntimeClass: FiberRuntimeClass | null | undefined
const getFiberRuntimeClass = (): FiberRuntimeClass | undefined => {
  if (fiberRuntimeClass === undefined) fiberRuntimeClass = probeFiberRuntimeClass() ?? null
  return fiberRuntimeClass ?? undefined
}

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

/**
 * A {@link Forker} for one runtime. `Runtime.runFork` re-derives the fiber refs for every fiber (a fork patch per
 * ref, a copy of the map) and registers it among the global roots; when the runtime's refs do not change on fork
 * and no supervisor watches, a request fiber needs neither: it is built directly with the runtime's refs and its
 * own context. Otherwise, and if effect's fiber class cannot be used so, this is `Runtime.runFork`.
 */
export const makeForker = (runtime: Runtime.Runtime<never>): Forker => {
  const { fiberRefs, runtimeFlags } = runtime
  const runFork: Forker = (context, effect) =>
    Runtime.runFork(Runtime.make({ context, fiberRefs, runtimeFlags }), effect as Effect.Effect<any, any>)
  const FiberRuntime = getFiberRuntimeClass()
  if (FiberRuntime === undefined) return runFork
  if (FiberRefs.getOrDefault(fiberRefs, FiberRef.currentSupervisor) !== Supervisor.none) return runFork
  const forked = FiberRefs.forkAs(fiberRefs, FiberId.unsafeMake())
  const inherited: Array<[FiberRef.FiberRef<any>, ReadonlyArray<readonly [FiberId.Single, any]>]> = []
  for (const [fiberRef, stack] of fiberRefs.locals) {
    if (forked.locals.get(fiberRef) !== stack) return runFork
    if (fiberRef !== FiberRef.currentContext) inherited.push([fiberRef, stack])
  }
  return (context, effect) => {
    const id = FiberId.unsafeMake()
    const locals = new Map(inherited as Iterable<readonly [FiberRef.FiberRef<any>, any]>)
    locals.set(FiberRef.currentContext, [[id, context]])
    const fiber = new FiberRuntime(id, FiberRefs.unsafeMake(locals), runtimeFlags)
    fiber.start(effect)
    return fiber
  }
}
