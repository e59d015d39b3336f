import type * as net from "node:net"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { AppService } from "../../App.js"
import type { EventContext } from "../../Events.js"
import { hooksOf } from "../hooks.js"
import type { HttpEffect } from "./http.js"
import type { Paths } from "./paths.js"

/** The built-in events the HTTP server dispatches, one bit each in {@link HttpSignals.flags}. */
export const httpEvents = [
  "http.lifecycle.begin",
  "http.lifecycle.request",
  "http.lifecycle.handle",
  "http.routing.before",
  "http.routing.after",
  "http.middleware.before",
  "http.middleware.after",
  "http.handler.before",
  "http.handler.after",
  "http.lifecycle.read_body",
  "http.lifecycle.exception",
  "http.lifecycle.response",
  "http.lifecycle.send",
  "http.lifecycle.complete",
  "server.exception.report"
] as const

export type HttpEvent = (typeof httpEvents)[number]

/** The bit of each event in {@link HttpSignals.flags}. */
export const bit = (event: HttpEvent): number => 1 << httpEvents.indexOf(event)

const Begin = bit("http.lifecycle.begin")
const Request = bit("http.lifecycle.request")
const Handle = bit("http.lifecycle.handle")
const RoutingBefore = bit("http.routing.before")
const RoutingAfter = bit("http.routing.after")
const MiddlewareBefore = bit("http.middleware.before")
const MiddlewareAfter = bit("http.middleware.after")
const HandlerBefore = bit("http.handler.before")
const HandlerAfter = bit("http.handler.after")
const ReadBody = bit("http.lifecycle.read_body")
const Exception = bit("http.lifecycle.exception")
const Response = bit("http.lifecycle.response")
const Send = bit("http.lifecycle.send")
const Complete = bit("http.lifecycle.complete")
const Report = bit("server.exception.report")

/** The events dispatched around the router, before the route's own handler runs. */
const aroundRouter = Request | Handle | RoutingBefore | RoutingAfter | Exception
const aroundHandler = HandlerBefore | HandlerAfter
const aroundMiddleware = MiddlewareBefore | MiddlewareAfter
/** Every event that a request, matched or not, could dispatch. */
export const anyRequest = aroundRouter | Response | Send | Report
export const anyConnection = Begin | Complete
export const writing = Response | Send
/** The events dispatched from a request's own path, which only the signalled path dispatches. */
export const inRequest = aroundRouter | aroundHandler | aroundMiddleware | writing
export { Begin, Complete, ReadBody, Report }

/**
 * Which of the HTTP events something listens to, for one server. The answer is kept as a bit set and recomputed only
 * when the app's registry changes (its `listening` count), so a request that nobody listens to reads one number and builds no
 * context, no dispatch and no effect of its own.
 */
export class HttpSignals {
  private listening = -1
  private bits = 0
  private readonly hooks

  constructor(readonly app: AppService) {
    this.hooks = hooksOf(app)
  }

  flags(): number {
    const listening = this.hooks.listening()
    if (listening !== this.listening) {
      let bits = 0
      for (let i = 0; i < httpEvents.length; i++) {
        if (this.hooks.hasListeners(httpEvents[i])) bits |= 1 << i
      }
      this.bits = bits
      this.listening = listening
    }
    return this.bits
  }

  has(flag: number): boolean {
    return (this.flags() & flag) !== 0
  }

  /** An inline dispatch: its handlers run in the caller's fiber, and their failures are reported, never raised. */
  dispatch(event: HttpEvent, context: EventContext): Effect.Effect<void> {
    return Effect.ignore(this.app.dispatch(event, { context, inline: true }))
  }

  /** Dispatches `event` when `flags` has its bit; otherwise nothing is built. */
  dispatchIf(flags: number, event: HttpEvent, context: () => EventContext): Effect.Effect<void> {
    return (flags & bit(event)) === 0 ? Effect.void : this.dispatch(event, context())
  }
}

/**
 * What a request runs before and around the router, as in Sanic's `handle_request`: `http.lifecycle.request` (Sanic
 * dispatches it once the head is read), `http.lifecycle.handle`, `http.routing.before`, the route lookup and
 * `http.routing.after` with `{ request, route, kwargs, handler }`, then the router; a failure on the way dispatches
 * `http.lifecycle.exception` with `{ request, exception, cause }` before it is turned into an answer. With none of
 * them listened to, `httpEffect` itself.
 */
export const aroundRouterEffect = (
  signals: HttpSignals,
  paths: Paths,
  httpEffect: HttpEffect,
  flags: number
): HttpEffect => {
  if ((flags & aroundRouter) === 0) return httpEffect
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const routed =
      (flags & Exception) === 0 ? httpEffect : Effect.tapErrorCause(httpEffect, reportException(signals, request))
    const before = Effect.zipRight(
      Effect.zipRight(
        signals.dispatchIf(flags, "http.lifecycle.request", () => ({ request })),
        signals.dispatchIf(flags, "http.lifecycle.handle", () => ({ request }))
      ),
      signals.dispatchIf(flags, "http.routing.before", () => ({ request }))
    )
    if ((flags & RoutingAfter) === 0) return Effect.zipRight(before, routed)
    return Effect.zipRight(
      before,
      Effect.suspend(() => {
        const found = paths.match(request.method, request.url)
        if (found === undefined) return routed
        return Effect.zipRight(
          signals.dispatch("http.routing.after", {
            request,
            route: found.route,
            kwargs: found.params,
            handler: found.route.handler
          }),
          routed
        )
      })
    )
  })
}

const reportException =
  (signals: HttpSignals, request: HttpServerRequest.HttpServerRequest) => (cause: Cause.Cause<unknown>) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.void
      : signals.dispatch("http.lifecycle.exception", { request, exception: Cause.squash(cause), cause })

/** Per request: the signals around the router when any is listened to, else `httpEffect` as it is. */
export const routed = (signals: HttpSignals, paths: Paths, httpEffect: HttpEffect): HttpEffect =>
  Effect.suspend(() => aroundRouterEffect(signals, paths, httpEffect, signals.flags()))

type RouteHandler = Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>

/**
 * A route's handler with `http.handler.before` (`{ request }`) and `http.handler.after` (`{ request, response }`)
 * around it, as Sanic dispatches them around the handler, inside the route's middleware. `after` is dispatched only
 * when the handler succeeds. With neither listened to when the request comes, the handler as it is.
 */
export const aroundHandlerEffect = <H extends RouteHandler>(signals: HttpSignals, handler: H, flags: number): H => {
  if ((flags & aroundHandler) === 0) return handler
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.zipRight(
      signals.dispatchIf(flags, "http.handler.before", () => ({ request })),
      (flags & HandlerAfter) === 0
        ? handler
        : Effect.tap(handler, (response) => signals.dispatch("http.handler.after", { request, response }))
    )
  ) as unknown as H
}

export const wrapHandler = <H extends RouteHandler>(signals: HttpSignals, handler: H): H =>
  Effect.suspend(() => aroundHandlerEffect(signals, handler, signals.flags())) as unknown as H

type MiddlewareFn = (effect: RouteHandler) => RouteHandler

/**
 * A global middleware with `http.middleware.before` (`{ request, response: undefined }`) as it starts and
 * `http.middleware.after` (`{ request, response }`) once it has its answer. Platform's middleware wraps the whole
 * request, so these carry no `attach_to` condition.
 */
export const wrapMiddleware =
  (signals: HttpSignals, middleware: MiddlewareFn): MiddlewareFn =>
  (effect) => {
    const applied = middleware(effect)
    return Effect.suspend(() => {
      const flags = signals.flags()
      if ((flags & aroundMiddleware) === 0) return applied
      return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.zipRight(
          signals.dispatchIf(flags, "http.middleware.before", () => ({ request, response: undefined })),
          (flags & MiddlewareAfter) === 0
            ? applied
            : Effect.tap(applied, (response) => signals.dispatch("http.middleware.after", { request, response }))
        )
      )
    })
  }

/**
 * Sanic's `conn_info`, as far as node's socket tells it: the client's and the server's address and port. `ctx` is a
 * plain object for the connection's own state, the same for `begin` and `complete`.
 */
export interface ConnInfo {
  readonly client: string
  readonly client_ip: string
  readonly client_port: number
  readonly server: string
  readonly server_port: number
  readonly ssl: boolean
  readonly ctx: Record<string, unknown>
}

export const connInfo = (socket: net.Socket): ConnInfo => {
  const ip = socket.remoteAddress ?? ""
  return {
    client: ip.includes(":") ? `[${ip}]` : ip,
    client_ip: ip,
    client_port: socket.remotePort ?? 0,
    server: socket.localAddress ?? "",
    server_port: socket.localPort ?? 0,
    ssl: false,
    ctx: {}
  }
}
