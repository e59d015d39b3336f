import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { HttpSignals } from "./signals.js"
import { wrapHandler, wrapMiddleware } from "./signals.js"

/**
 * The paths the routes answer, kept beside platform's router by wrapping its `HttpRouter` service (through its public
 * interface): a request whose method and path match no route is answered 404 without running the router, which would
 * build a `RouteNotFound` error (with its stack) to say the same. Only whether a route matches is kept, never how it
 * runs: every matched request goes through the router. Global middleware can answer any path, so with it every
 * request goes through the router too.
 */
export class Paths {
  private readonly router: HttpLayerRouter.FindMyWay.Router<HttpLayerRouter.Route<any, any>>
  hasGlobalMiddleware = false

  constructor(config: Partial<HttpLayerRouter.FindMyWay.RouterConfig>) {
    this.router = HttpLayerRouter.FindMyWay.make<HttpLayerRouter.Route<any, any>>(config)
  }

  /** The route the router would run for this request and its path parameters, as its `asHttpEffect` finds them. */
  match(
    method: string,
    url: string
  ):
    | { readonly route: HttpLayerRouter.Route<any, any>; readonly params: Record<string, string | undefined> }
    | undefined {
    const found =
      this.router.find(method as never, url) ?? (method === "HEAD" ? this.router.find("GET", url) : undefined)
    return found === undefined ? undefined : { route: found.handler, params: found.params }
  }

  /** Whether the router would find no route for this request, as its `asHttpEffect` looks (HEAD falls back to GET). */
  unmatched(method: string, url: string): boolean {
    if (this.hasGlobalMiddleware) return false
    if (this.router.find(method, url) !== undefined) return false
    return method !== "HEAD" || this.router.find("GET", url) === undefined
  }

  add(route: HttpLayerRouter.Route<any, any>): void {
    if (route.method === "*") this.router.all(route.path, route)
    else this.router.on(route.method, route.path, route)
  }
}

/** A route's handler as an effect, with the `http.handler.*` signals around it when a server's signals are given. */
const handlerOf = (
  handler: Parameters<HttpLayerRouter.HttpRouter["add"]>[2],
  signals: HttpSignals | undefined
): HttpLayerRouter.Route<any, any>["handler"] => {
  const effect = Effect.isEffect(handler) ? handler : Effect.flatMap(HttpServerRequest.HttpServerRequest, handler)
  return signals === undefined ? effect : wrapHandler(signals, effect)
}

const wrap = (
  real: HttpLayerRouter.HttpRouter,
  paths: Paths,
  prefix: string | undefined,
  signals: HttpSignals | undefined
): HttpLayerRouter.HttpRouter => {
  const record = (routes: ReadonlyArray<HttpLayerRouter.Route<any, any>>) =>
    Effect.sync(() => {
      for (const route of routes) paths.add(prefix === undefined ? route : HttpLayerRouter.prefixRoute(route, prefix))
    })
  return {
    [HttpLayerRouter.TypeId]: HttpLayerRouter.TypeId,
    prefixed: (next) =>
      wrap(real.prefixed(next), paths, prefix === undefined ? next : HttpLayerRouter.prefixPath(prefix, next), signals),
    add: (method, path, handler, options) =>
      Effect.zipRight(
        real.add(method, path, handlerOf(handler, signals) as typeof handler, options),
        record([HttpLayerRouter.route(method, path, handler)])
      ),
    addAll: (routes) =>
      Effect.zipRight(
        real.addAll(
          signals === undefined
            ? routes
            : routes.map((route) => ({ ...route, handler: handlerOf(route.handler, signals) }))
        ),
        record(routes)
      ),
    addGlobalMiddleware: (middleware) =>
      Effect.zipRight(
        real.addGlobalMiddleware(
          signals === undefined ? middleware : (wrapMiddleware(signals, middleware as never) as typeof middleware)
        ),
        Effect.sync(() => {
          paths.hasGlobalMiddleware = true
        })
      ),
    asHttpEffect: () => real.asHttpEffect()
  }
}

/**
 * Platform's router layer (one per server), its service wrapped to keep `paths` up to date and, given the server's
 * signals, to put `http.handler.before/after` around each route's handler and `http.middleware.before/after` around
 * each global middleware.
 */
export const layer = (
  config: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined,
  signals?: HttpSignals
): { readonly paths: Paths; readonly layer: Layer.Layer<HttpLayerRouter.HttpRouter> } => {
  // Fresh: two servers in one program (or one test) must not share a router through the layer memo map.
  const base = Layer.fresh(
    config === undefined
      ? HttpLayerRouter.layer
      : Layer.provide(HttpLayerRouter.layer, Layer.succeed(HttpLayerRouter.RouterConfig, config))
  )
  const paths = new Paths(config ?? {})
  return {
    paths,
    layer: Layer.effect(
      HttpLayerRouter.HttpRouter,
      Effect.map(HttpLayerRouter.HttpRouter, (real) => wrap(real, paths, undefined, signals))
    ).pipe(Layer.provide(base))
  }
}
