import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"

const scopeKey = Scope.Scope.key
const requestKey = HttpServerRequest.HttpServerRequest.key
const searchParamsKey = HttpServerRequest.ParsedSearchParams.key
const routeContextKey = HttpRouter.RouteContext.key

/**
 * A request's services: the server's context plus the request's own (its scope, the request, and for a matched
 * route its search params and route context), without copying the server's map for every request. Lookups go
 * to the request's fields, then to the shared map; anything that enumerates, or changes, the services sees (and
 * from then on uses) a plain copy made on first need. `Context.add` and friends copy the map they are given, so
 * a context derived from this one is a plain context.
 */
class RequestServices extends Map<string, unknown> {
  private copy: Map<string, unknown> | undefined = undefined

  constructor(
    private readonly shared: Map<string, unknown>,
    private readonly scope: Scope.Scope,
    private readonly request: HttpServerRequest.HttpServerRequest,
    private readonly searchParams: unknown,
    private readonly routeContext: HttpRouter.RouteContext | undefined
  ) {
    super()
  }

  private own(key: string): unknown {
    switch (key) {
      case scopeKey:
        return this.scope
      case requestKey:
        return this.request
      case searchParamsKey:
        return this.searchParams
      case routeContextKey:
        return this.routeContext
    }
    return undefined
  }

  private get all(): Map<string, unknown> {
    if (this.copy === undefined) {
      const copy = new Map(this.shared)
      copy.set(scopeKey, this.scope)
      copy.set(requestKey, this.request)
      if (this.searchParams !== undefined) copy.set(searchParamsKey, this.searchParams)
      if (this.routeContext !== undefined) copy.set(routeContextKey, this.routeContext)
      this.copy = copy
    }
    return this.copy
  }

  override get(key: string): unknown {
    if (this.copy !== undefined) return this.copy.get(key)
    const own = this.own(key)
    return own !== undefined ? own : this.shared.get(key)
  }

  override has(key: string): boolean {
    if (this.copy !== undefined) return this.copy.has(key)
    return this.own(key) !== undefined || this.shared.has(key)
  }

  override get size(): number {
    return this.all.size
  }

  override set(key: string, value: unknown): this {
    this.all.set(key, value)
    return this
  }

  override delete(key: string): boolean {
    return this.all.delete(key)
  }

  override clear(): void {
    this.all.clear()
  }

  override forEach(f: (value: unknown, key: string, map: Map<string, unknown>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.all) f.call(thisArg, value, key, this)
  }

  override keys(): MapIterator<string> {
    return this.all.keys()
  }

  override values(): MapIterator<unknown> {
    return this.all.values()
  }

  override entries(): MapIterator<[string, unknown]> {
    return this.all.entries()
  }

  override [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.all[Symbol.iterator]()
  }
}

const ProbeTag = Context.GenericTag<"fiberapp/server/ProbeTag", string>("fiberapp/server/ProbeTag")

/**
 * Whether a `RequestServices` map works as a context's map here: looked up, copied by `new Map`, extended by
 * `Context.add` and `Effect.provideService`, and compared. If not, request contexts are plain copies.
 */
let overlayWorks: boolean | undefined
const probeOverlay = (): boolean => {
  try {
    const shared = new Map<string, unknown>([[ProbeTag.key, "shared"]])
    const scope = Effect.runSync(Scope.make())
    const request = {} as HttpServerRequest.HttpServerRequest
    const context = Context.unsafeMake<never>(new RequestServices(shared, scope, request, undefined, undefined))
    const added = Context.add(context, HttpServerRequest.ParsedSearchParams, {})
    const provided = Effect.runSync(
      Effect.provide(
        Effect.provideService(
          Effect.map(Effect.context<never>(), (context) => context.unsafeMap.size),
          HttpServerRequest.ParsedSearchParams,
          {}
        ),
        context
      )
    )
    Effect.runSync(Scope.close(scope, Exit.void))
    return (
      Context.unsafeGet(context, HttpServerRequest.HttpServerRequest) === request &&
      Context.unsafeGet(context, Scope.Scope) === scope &&
      Context.unsafeGet(context, ProbeTag) === "shared" &&
      !context.unsafeMap.has(searchParamsKey) &&
      new Map(context.unsafeMap).size === 3 &&
      Context.unsafeGet(added, ProbeTag) === "shared" &&
      Context.unsafeGet(added, HttpServerRequest.HttpServerRequest) === request &&
      added.unsafeMap.size === 4 &&
      provided === 4
    )
  } catch {
    return false
  }
}

/** The context of one request's fiber. */
export const make = (
  shared: Map<string, unknown>,
  scope: Scope.Scope,
  request: HttpServerRequest.HttpServerRequest,
  searchParams: unknown,
  routeContext: HttpRouter.RouteContext | undefined
): Context.Context<never> => {
  if ((overlayWorks ??= probeOverlay())) {
    return Context.unsafeMake(new RequestServices(shared, scope, request, searchParams, routeContext))
  }
  const map = new Map(shared)
  map.set(scopeKey, scope)
  map.set(requestKey, request)
  if (searchParams !== undefined) map.set(searchParamsKey, searchParams)
  if (routeContext !== undefined) map.set(routeContextKey, routeContext)
  return Context.unsafeMake(map)
}
