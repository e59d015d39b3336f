import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as Tracer from "effect/Tracer"

/** Effect's default tracer: its spans go nowhere, so the hot paths make none while it is the current one. */
export const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Whether spans made in this fiber would reach a tracer of the app's own (`NodeSdk`, say). */
export const isTracing = (fiber: Fiber.RuntimeFiber<any, any>): boolean =>
  fiber.currentTracer !== nativeTracer && fiber.getFiberRef(FiberRef.currentTracerEnabled)

/** A link to `span`, for work that outlives the span that started it (a task, a handler). */
export const linksTo = (span: Tracer.AnySpan | undefined): ReadonlyArray<Tracer.SpanLink> =>
  span === undefined ? [] : [{ _tag: "SpanLink", span, attributes: {} }]
