import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
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

/** Every registration goes to both routers, and is recorded in `paths`. */
const wrap = (
  plain: HttpLayerRouter.HttpRouter,
  signalled: HttpLayerRouter.HttpRouter,
  paths: Paths,
  prefix: string | undefined,
  signals: HttpSignals
): HttpLayerRouter.HttpRouter => {
  const record = (routes: ReadonlyArray<HttpLayerRouter.Route<any, any>>) =>
    Effect.sync(() => {
      for (const route of routes) paths.add(prefix === undefined ? route : HttpLayerRouter.prefixRoute(route, prefix))
    })
  /** The registration on the plain router, then on the signalled one, then `after`. */
  const inBoth = <E, R, E2, R2>(
    onPlain: Effect.Effect<void, E, R>,
    onSignalled: Effect.Effect<void, E2, R2>,
    after: Effect.Effect<void>
  ) => Effect.zipRight(Effect.zipRight(onPlain, onSignalled), after)
  return {
    [HttpLayerRouter.TypeId]: HttpLayerRouter.TypeId,
    prefixed: (next) =>
      wrap(
        plain.prefixed(next),
        signalled.prefixed(next),
        paths,
        prefix === undefined ? next : HttpLayerRouter.prefixPath(prefix, next),
        signals
      ),
    add: (method, path, handler, options) => {
      // Platform's own route makes the handler an effect, as its router does.
      const route = HttpLayerRouter.route(method, path, handler, options)
      return inBoth(
        plain.add(method, path, handler, options),
        signalled.add(method, path, wrapHandler(signals, route.handler) as typeof handler, options),
        record([route])
      )
    },
    addAll: (routes) =>
      inBoth(
        plain.addAll(routes),
        signalled.addAll(
          routes.map((route) => ({
            ...route,
            handler: wrapHandler(signals, route.handler)
          })) as unknown as typeof routes
        ),
        record(routes)
      ),
    addGlobalMiddleware: (middleware) =>
      inBoth(
        plain.addGlobalMiddleware(middleware),
        signalled.addGlobalMiddleware(wrapMiddleware(signals, middleware as never) as typeof middleware),
        Effect.sync(() => {
          paths.hasGlobalMiddleware = true
        })
      ),
    asHttpEffect: () => plain.asHttpEffect()
  }
}

/**
 * Platform's router for one server, its service wrapped to keep `paths` up to date, and a second router, `signalled`,
 * given the same routes and middleware with `http.handler.before/after` around each route's handler and
 * `http.middleware.before/after` around each global middleware. A request runs through `signalled` only while one of
 * the HTTP events is listened to, so that with none the router's own effects run as they are.
 */
export const make = (
  config: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined,
  signals: HttpSignals
): Effect.Effect<{
  readonly paths: Paths
  readonly signalled: HttpLayerRouter.HttpRouter
  /** Made per server, so two servers in one program (or one test) do not share a router through the layer memo map. */
  readonly layer: Layer.Layer<HttpLayerRouter.HttpRouter>
}> => {
  const router =
    config === undefined
      ? HttpLayerRouter.make
      : Effect.provideService(HttpLayerRouter.make, HttpLayerRouter.RouterConfig, config)
  return Effect.zipWith(router, router, (plain, signalled) => {
    const paths = new Paths(config ?? {})
    return {
      paths,
      signalled,
      layer: Layer.succeed(HttpLayerRouter.HttpRouter, wrap(plain, signalled, paths, undefined, signals))
    }
  })
}
