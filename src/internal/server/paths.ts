import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The paths the routes answer, kept beside platform's router by wrapping its `HttpRouter` service (through its public
 * interface): a request whose method and path match no route is answered 404 without running the router, which would
 * build a `RouteNotFound` error (with its stack) to say the same. Only whether a route matches is kept, never how it
 * runs: every matched request goes through the router. Global middleware can answer any path, so with it every
 * request goes through the router too.
 */
export class Paths {
  private readonly router: HttpLayerRouter.FindMyWay.Router<true>
  hasGlobalMiddleware = false

  constructor(config: Partial<HttpLayerRouter.FindMyWay.RouterConfig>) {
    this.router = HttpLayerRouter.FindMyWay.make<true>(config)
  }

  /** Whether the router would find no route for this request, as its `asHttpEffect` looks (HEAD falls back to GET). */
  unmatched(method: string, url: string): boolean {
    if (this.hasGlobalMiddleware) return false
    if (this.router.find(method, url) !== undefined) return false
    return method !== "HEAD" || this.router.find("GET", url) === undefined
  }

  add(route: HttpLayerRouter.Route<any, any>): void {
    if (route.method === "*") this.router.all(route.path, true)
    else this.router.on(route.method, route.path, true)
  }
}

const wrap = (
  real: HttpLayerRouter.HttpRouter,
  paths: Paths,
  prefix: string | undefined
): HttpLayerRouter.HttpRouter => {
  const record = (routes: ReadonlyArray<HttpLayerRouter.Route<any, any>>) =>
    Effect.sync(() => {
      for (const route of routes) paths.add(prefix === undefined ? route : HttpLayerRouter.prefixRoute(route, prefix))
    })
  return {
    [HttpLayerRouter.TypeId]: HttpLayerRouter.TypeId,
    prefixed: (next) =>
      wrap(real.prefixed(next), paths, prefix === undefined ? next : HttpLayerRouter.prefixPath(prefix, next)),
    add: (method, path, handler, options) =>
      Effect.zipRight(real.add(method, path, handler, options), record([HttpLayerRouter.route(method, path, handler)])),
    addAll: (routes) => Effect.zipRight(real.addAll(routes), record(routes)),
    addGlobalMiddleware: (middleware) =>
      Effect.zipRight(
        real.addGlobalMiddleware(middleware),
        Effect.sync(() => {
          paths.hasGlobalMiddleware = true
        })
      ),
    asHttpEffect: () => real.asHttpEffect()
  }
}

/** Platform's router layer (one per server), its service wrapped to keep `paths` up to date. */
export const layer = (
  config: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined
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
      Effect.map(HttpLayerRouter.HttpRouter, (real) => wrap(real, paths, undefined))
    ).pipe(Layer.provide(base))
  }
}
