import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
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

type RequestFiber = Fiber.RuntimeFiber<any, any> & { start(effect: Effect.Effect<any, any, any>): void }

/**
 * A {@link Forker} for one runtime. `Runtime.runFork` re-derives the fiber refs for every fiber (a fork patch per
 * ref, a copy of the map) and registers it among the global roots; when the runtime's refs do not change on fork
 * and no supervisor watches, a request fiber needs neither: it is built directly with the runtime's refs and its
 * own context (`direct`), and its first steps run in {@link startLean}'s loop. Otherwise, and if effect's fiber
 * class cannot be used so, this is `Runtime.runFork`.
 */
export interface RequestForker {
  readonly fork: Forker
  /**
   * Like `fork`, but the fiber is made only when the effect needs one: its exit when its steps all ran in the lean
   * loop and nothing asked for the current fiber (see {@link runLazily}).
   */
  readonly run: <A, E>(
    context: Context.Context<never>,
    effect: Effect.Effect<A, E, any>
  ) => Fiber.RuntimeFiber<A, E> | Exit.Exit<A, E>
  readonly direct: boolean
}

export const makeForker = (runtime: Runtime.Runtime<never>): RequestForker => {
  const { fiberRefs, runtimeFlags } = runtime
  const forkWithRunFork = ((context, effect) =>
    Runtime.runFork(Runtime.make({ context, fiberRefs, runtimeFlags }), effect as Effect.Effect<any, any>)) as Forker
  const runFork: RequestForker = { fork: forkWithRunFork, run: forkWithRunFork, direct: false }
  const FiberRuntime = getFiberRuntimeClass()
  if (FiberRuntime === undefined) return runFork
  if (FiberRefs.getOrDefault(fiberRefs, FiberRef.currentSupervisor) !== Supervisor.none) return runFork
  const forked = FiberRefs.forkAs(fiberRefs, FiberId.unsafeMake())
  const inherited: Array<[FiberRef.FiberRef<any>, ReadonlyArray<readonly [FiberId.Single, any]>]> = []
  for (const [fiberRef, stack] of fiberRefs.locals) {
    if (forked.locals.get(fiberRef) !== stack) return runFork
    if (fiberRef !== FiberRef.currentContext) inherited.push([fiberRef, stack])
  }
  const lean = canStartLean()
  const make = (context: Context.Context<never>): RequestFiber => {
    const id = FiberId.unsafeMake()
    const locals = new Map(inherited as Iterable<readonly [FiberRef.FiberRef<any>, any]>)
    locals.set(FiberRef.currentContext, [[id, context]])
    return new FiberRuntime(id, FiberRefs.unsafeMake(locals), runtimeFlags)
  }
  const fork: Forker = (context, effect) => {
    const fiber = make(context)
    if (lean) startLean(fiber, effect)
    else fiber.start(effect)
    return fiber
  }
  const run = lean ? (((context, effect) => runLazily(make, context, effect)) as RequestForker["run"]) : fork
  return { fork, run, direct: true }
}

/** What evaluating a one-step effect gave: its exit. */
export type Step<A> = () => Exit.Exit<A, unknown>

/**
 * The effect's exit, when it is one already (`Effect.succeed`, `Effect.fail` of a plain value, `Effect.void`):
 * nothing of it runs, so it needs no fiber at all, as effect's own `Runtime.runSyncExit` takes it.
 */
export const exitStep = <A>(effect: Effect.Effect<A, unknown, unknown>): Step<A> | undefined => {
  if (!Exit.isExit(effect)) return undefined
  const exit = effect as Exit.Exit<A, unknown>
  return () => exit
}

/** What {@link evaluate} gives back at the first step its loop does not take: the rest of the effect. */
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

// As the fiber's run loop turns a throw into a failure: `Effect.die` keeps the current span with the defect.
const defect = (error: unknown): Effect.Effect<never> =>
  Cause.isInterruptedException(error)
    ? Exit.failCause(Cause.sequential(Cause.die(error), Cause.interrupt(FiberId.none)))
    : Effect.die(error)

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

/**
 * Runs `effect` for as long as it is made of steps whose outcome does not depend on the loop running them:
 * successes, failures, `Effect.sync`, services read from `context`, `flatMap`/`catchAll`/`match` and `Effect.gen`.
 * Gives its exit or, at the first other step (async, fiber refs, flags, forks, a log...), the rest of it.
 */
export const evaluate = (
  effect: Effect.Effect<unknown, unknown, unknown>,
  context: Context.Context<never>,
  messages: { readonly length: number } = noMessages
): Exit.Exit<unknown, unknown> | NeedsFiber => {
  const stack: Array<Frame> = []
  let current: unknown = effect
  for (let steps = 0; ; steps++) {
    const op = current as Op
    // Tags declared as classes are functions. A message for the fiber (an interruption sent from one of the steps)
    // is for its own loop, which reads its messages before every step.
    if (
      steps >= maxSteps ||
      messages.length > 0 ||
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
          value = Context.unsafeGet(context, op as unknown as Context.Tag<unknown, unknown>)
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

const currentFiberKey = "effect/FiberCurrent"
const noMessages: ReadonlyArray<unknown> = []

/** What of effect's fiber the lean loop stands in for: its inbox, and whether its own loop is on it. */
interface FiberInternals {
  _queue: Array<unknown>
  _running: boolean
}
const globals = globalThis as unknown as Record<string, unknown>

/**
 * Starts a fiber built but not yet started: its first steps run in {@link evaluate}'s loop, with the fiber as the
 * current one (so `Fiber.getCurrentFiber` sees it, as `HttpApp.unsafeEjectStreamScope` needs), then the fiber runs
 * the exit or the rest, and ends as it would have. One difference is left: a handler that interrupts its own fiber
 * in its very last step ends interrupted, where effect's loop, already winding down, would keep the value.
 */
const startLean = (fiber: RequestFiber, effect: Effect.Effect<unknown, unknown, unknown>): void => {
  const internals = fiber as unknown as FiberInternals
  // Running as far as its messages know: one sent from a step waits for the fiber's loop, as it would in it.
  internals._running = true
  const result = evaluateAs(fiber, effect, fiber.currentContext, internals._queue)
  internals._running = false
  fiber.start(result instanceof NeedsFiber ? result.rest : result)
}

/** {@link evaluate}, with `current` as the current fiber meanwhile (effect keeps it in a global). */
const evaluateAs = (
  current: RequestFiber,
  effect: Effect.Effect<unknown, unknown, unknown>,
  context: Context.Context<never>,
  messages: { readonly length: number }
): Exit.Exit<unknown, unknown> | NeedsFiber => {
  const previous = globals[currentFiberKey]
  globals[currentFiberKey] = current
  try {
    return evaluate(effect, context, messages)
  } finally {
    globals[currentFiberKey] = previous
  }
}

/**
 * A request's fiber before it exists: it stands in as the current fiber while the lean loop runs, and builds the
 * real one the first time anything looks at it (`HttpApp.unsafeEjectStreamScope` and `HttpApiBuilder`'s handlers
 * read the current fiber's context). It also serves as the loop's view of that fiber's inbox.
 */
class LazyFiber {
  fiber: RequestFiber | undefined = undefined
  /** While the lean loop runs: a fiber made now counts as running, so that messages sent to it wait for its loop. */
  looping = true
  /** The exit the lean loop ended with, when it needed no fiber: a fiber made later (from a kept stand-in) ends so. */
  exit: Exit.Exit<unknown, unknown> | undefined = undefined
  readonly standIn: RequestFiber
  constructor(
    private readonly make: (context: Context.Context<never>) => RequestFiber,
    private readonly context: Context.Context<never>
  ) {
    this.standIn = new Proxy(this, standInHandler) as unknown as RequestFiber
  }

  materialize(): RequestFiber {
    if (this.fiber === undefined) {
      const fiber = (this.fiber = this.make(this.context))
      if (this.looping) (fiber as unknown as FiberInternals)._running = true
      else if (this.exit !== undefined) fiber.start(this.exit)
    }
    return this.fiber
  }

  get length(): number {
    return this.fiber === undefined ? 0 : (this.fiber as unknown as FiberInternals)._queue.length
  }
}

/** Everything goes to the real fiber, made on first use: the stand-in is not the fiber (`!==`), but acts as it. */
const standInHandler: ProxyHandler<LazyFiber> = {
  get: (lazy, key) => {
    const fiber = lazy.materialize()
    const value = Reflect.get(fiber, key, fiber)
    return typeof value === "function" ? value.bind(fiber) : value
  },
  set: (lazy, key, value) => Reflect.set(lazy.materialize(), key, value),
  has: (lazy, key) => Reflect.has(lazy.materialize(), key),
  getPrototypeOf: (lazy) => Reflect.getPrototypeOf(lazy.materialize()),
  ownKeys: (lazy) => Reflect.ownKeys(lazy.materialize()),
  getOwnPropertyDescriptor: (lazy, key) => {
    const descriptor = Reflect.getOwnPropertyDescriptor(lazy.materialize(), key)
    // A proxy may not report a property as non-configurable unless its target has it so.
    return descriptor === undefined ? undefined : { ...descriptor, configurable: true }
  },
  defineProperty: (lazy, key, descriptor) => Reflect.defineProperty(lazy.materialize(), key, descriptor),
  deleteProperty: (lazy, key) => Reflect.deleteProperty(lazy.materialize(), key)
}

/**
 * Runs a request's effect in the lean loop before any fiber exists. Its exit, if the loop took every step and
 * nothing asked for the current fiber; otherwise its fiber, made at that moment, running the rest. A request
 * answered without a fiber is not counted in effect's fiber metrics.
 */
const runLazily = <A, E>(
  make: (context: Context.Context<never>) => RequestFiber,
  context: Context.Context<never>,
  effect: Effect.Effect<A, E, any>
): Fiber.RuntimeFiber<A, E> | Exit.Exit<A, E> => {
  const lazy = new LazyFiber(make, context)
  const result = evaluateAs(lazy.standIn, effect, context, lazy)
  lazy.looping = false
  if (lazy.fiber !== undefined) (lazy.fiber as unknown as FiberInternals)._running = false
  if (lazy.fiber === undefined && !(result instanceof NeedsFiber)) {
    lazy.exit = result
    return result as Exit.Exit<A, E>
  }
  const fiber = lazy.materialize()
  fiber.start(result instanceof NeedsFiber ? result.rest : result)
  return fiber as Fiber.RuntimeFiber<A, E>
}

let leanWorks: boolean | undefined
/**
 * Whether {@link startLean} still reads effect's primitives as effect's run loop does, and still sets the current
 * fiber where effect keeps it, and its inbox: a program of every kind of step the loop takes, and one that needs
 * the fiber's own loop halfway, must end on a fiber as they end on `Effect.runSyncExit`; a fiber that interrupts
 * itself stops at the next step.
 */
const probeLean = (): boolean => {
  try {
    const FiberRuntime = getFiberRuntimeClass()
    if (FiberRuntime === undefined) return false
    const context = Context.make(ProbeService, { base: 40 })
    const boom = new Error("probe")
    // A throw, like anything that needs the fiber's own loop, ends the lean loop.
    const program = (halfway: Effect.Effect<number>, throws: boolean) =>
      Effect.gen(function* () {
        const { base } = yield* ProbeService
        const recovered = yield* Effect.catchAll(Effect.fail(1), (n) => Effect.succeed(n))
        const rescued = yield* Effect.sync((): number => {
          if (throws) throw boom
          return 1
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.succeed(Option.getOrUndefined(Cause.dieOption(cause)) === boom ? 1 : 0)
          )
        )
        const current = yield* Effect.sync(() => Option.getOrUndefined(Fiber.getCurrentFiber()))
        const more = yield* Effect.map(halfway, (n) => n + recovered + rescued)
        return yield* Effect.matchEffect(Effect.fail(base + more), {
          onFailure: (n) => Effect.succeed([n, current] as const),
          onSuccess: () => Effect.succeed([-1, current] as const)
        })
      })
    const fiberFor = () => {
      const id = FiberId.unsafeMake()
      const locals = new Map(Effect.runSync(Effect.getFiberRefs).locals)
      locals.set(FiberRef.currentContext, [[id, context]])
      const fiber = new FiberRuntime(id, FiberRefs.unsafeMake(locals), Runtime.defaultRuntime.runtimeFlags)
      const internals = fiber as unknown as FiberInternals
      if (!Array.isArray(internals._queue) || internals._running !== false) throw new Error("unknown fiber internals")
      return fiber
    }
    const same = (effect: ReturnType<typeof program>, expectRest: boolean) => {
      const expected = Effect.runSyncExit(Effect.provide(effect, context))
      const evaluated = evaluate(effect, context as Context.Context<never>)
      if (evaluated instanceof NeedsFiber !== expectRest) return false
      const fiber = fiberFor()
      startLean(fiber, effect)
      const exit = fiber.unsafePoll()
      return (
        exit !== null &&
        Exit.isSuccess(exit) &&
        Exit.isSuccess(expected) &&
        exit.value[0] === 42 &&
        expected.value[0] === 42 &&
        exit.value[1] === fiber &&
        expected.value[1] !== undefined
      )
    }
    let after = false
    const interrupted = fiberFor()
    startLean(
      interrupted,
      Effect.gen(function* () {
        const self = yield* Effect.sync(() => Option.getOrThrow(Fiber.getCurrentFiber()))
        yield* Effect.sync(() => self.unsafeInterruptAsFork(FiberId.none))
        yield* Effect.sync(() => {
          after = true
        })
      })
    )
    const interruptedExit = interrupted.unsafePoll()
    return (
      interruptedExit !== null &&
      Exit.isInterrupted(interruptedExit) &&
      !after &&
      same(program(Effect.succeed(0), false), false) &&
      same(program(Effect.succeed(0), true), true) &&
      same(
        program(
          Effect.withFiberRuntime(() => Effect.succeed(0)),
          false
        ),
        true
      )
    )
  } catch {
    return false
  }
}

/** Whether request fibers start in {@link evaluate}'s loop: effect's primitives still look as it reads them. */
export const canStartLean = (): boolean => (leanWorks ??= probeLean())
