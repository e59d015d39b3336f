import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Fiber from "./fiber.js"

/**
 * A route as the index keeps it. `run` is what the platform router would run for it (interruptible unless the
 * route says otherwise); it is `undefined` when route middleware applies, so only the platform router runs it.
 * `step` gives `run`'s exit when it is an exit already, or a response value (see `Fiber.exitStep`).
 */
export interface Entry {
  readonly route: HttpLayerRouter.Route<unknown, unknown>
  readonly run: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown> | undefined
  readonly step: Fiber.Step<HttpServerResponse.HttpServerResponse> | undefined
  readonly prefix: string | undefined
}

const stepOf = (
  run: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown> | undefined
): Fiber.Step<HttpServerResponse.HttpServerResponse> | undefined => {
  if (run === undefined) return undefined
  if (HttpServerResponse.isServerResponse(run)) {
    const exit = Exit.succeed(run)
    return () => exit
  }
  return Fiber.exitStep(run)
}

/**
 * A mirror of the routes added to `HttpLayerRouter`'s router, kept by a decorator of its `HttpRouter` service.
 * The server matches requests against it before forking, so a matched route runs with its context set up front
 * (no `Effect.locally`, no second context copy) and an unknown path answers 404 without a fiber. Whatever it cannot
 * reproduce exactly (global middleware, route middleware) makes the server fall back to the platform's own handler.
 */
export class RouteIndex {
  readonly router: HttpLayerRouter.FindMyWay.Router<Entry>
  hasGlobalMiddleware = false

  constructor(config: Partial<HttpLayerRouter.FindMyWay.RouterConfig>) {
    this.router = HttpLayerRouter.FindMyWay.make<Entry>(config)
  }

  find(method: string, url: string): HttpLayerRouter.FindMyWay.FindResult<Entry> | undefined {
    const result = this.router.find(method, url)
    return result === undefined && method === "HEAD" ? this.router.find("GET", url) : result
  }

  record(route: HttpLayerRouter.Route<unknown, unknown>, withMiddleware: boolean): void {
    // The request fiber is interruptible already; the platform router marks routes interruptible only because it
    // runs them inside an uninterruptible region.
    const run = withMiddleware
      ? undefined
      : route.uninterruptible
        ? Effect.uninterruptible(route.handler)
        : route.handler
    const entry: Entry = { route, run, step: stepOf(run), prefix: Option.getOrUndefined(route.prefix) }
    if (route.method === "*") this.router.all(route.path, entry)
    else this.router.on(route.method, route.path, entry)
  }
}

const middlewareKeyPrefix = "@effect/platform/HttpLayerRouter/Middleware-"

const hasRouteMiddleware = (context: Context.Context<never>): boolean => {
  for (const key of context.unsafeMap.keys()) if (key.startsWith(middlewareKeyPrefix)) return true
  return false
}

/**
 * Whether route middleware is still recognisable by its context key in this version of the platform. If not, the
 * index is not used at all, rather than risk running a route without its middleware.
 */
let middlewareDetectable: boolean | undefined
const checkMiddlewareDetectable = (): boolean =>
  (middlewareDetectable ??= Effect.runSync(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(HttpLayerRouter.middleware((effect) => effect).layer, scope)
      yield* Scope.close(scope, Exit.void)
      return hasRouteMiddleware(context as Context.Context<never>)
    }).pipe(Effect.orElseSucceed(() => false))
  ))

const decorate = (real: HttpLayerRouter.HttpRouter, index: RouteIndex, prefix: string | undefined) => {
  const recordAll = (routes: ReadonlyArray<HttpLayerRouter.Route<any, any>>) =>
    Effect.contextWith((context: Context.Context<never>) => {
      const withMiddleware = hasRouteMiddleware(context)
      for (const route of routes) {
        index.record(prefix === undefined ? route : HttpLayerRouter.prefixRoute(route, prefix), withMiddleware)
      }
    })
  const router: HttpLayerRouter.HttpRouter = {
    [HttpLayerRouter.TypeId]: HttpLayerRouter.TypeId,
    prefixed: (newPrefix) =>
      decorate(
        real.prefixed(newPrefix),
        index,
        prefix === undefined ? newPrefix : HttpLayerRouter.prefixPath(prefix, newPrefix)
      ),
    add: (method, path, handler, options) =>
      Effect.zipRight(
        real.add(method, path, handler, options),
        recordAll([HttpLayerRouter.route(method, path, handler, options)])
      ),
    addAll: (routes) => Effect.zipRight(real.addAll(routes), recordAll(routes)),
    addGlobalMiddleware: (middleware) =>
      Effect.zipRight(
        real.addGlobalMiddleware(middleware),
        Effect.sync(() => {
          index.hasGlobalMiddleware = true
        })
      ),
    asHttpEffect: () => real.asHttpEffect()
  }
  return router
}

/** `HttpLayerRouter.layer`, with the router decorated to keep `index` up to date. */
export const layer = (
  config: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined
): { readonly index: RouteIndex | undefined; readonly layer: Layer.Layer<HttpLayerRouter.HttpRouter> } => {
  const base =
    config === undefined
      ? HttpLayerRouter.layer
      : Layer.provide(HttpLayerRouter.layer, Layer.succeed(HttpLayerRouter.RouterConfig, config))
  if (!checkMiddlewareDetectable()) return { index: undefined, layer: base }
  const index = new RouteIndex(config ?? {})
  return {
    index,
    layer: Layer.effect(
      HttpLayerRouter.HttpRouter,
      Effect.map(HttpLayerRouter.HttpRouter, (real) => decorate(real, index, undefined))
    ).pipe(Layer.provide(base))
  }
}

/** The route context the platform router provides to a matched route's handler. */
export const routeContext = (
  entry: Entry,
  params: Readonly<Record<string, string | undefined>>
): HttpRouter.RouteContext => ({
  [HttpRouter.RouteContextTypeId]: HttpRouter.RouteContextTypeId,
  route: entry.route as unknown as HttpRouter.Route<unknown, unknown>,
  params
})
