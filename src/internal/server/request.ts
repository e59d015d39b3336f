import { randomUUID } from "node:crypto"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import * as Cookies from "@effect/platform/Cookies"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Headers from "@effect/platform/Headers"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Multipart from "@effect/platform/Multipart"
import type * as Path from "@effect/platform/Path"
import * as Socket from "@effect/platform/Socket"
import * as UrlParams from "@effect/platform/UrlParams"
import * as NodeMultipart from "@effect/platform-node/NodeMultipart"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type { ReadonlyRecord } from "effect/Record"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as WS from "ws"
import { type HttpSignals, ReadBody } from "./signals.js"
import type { Hub } from "./websocket.js"

/** What an upgrade request carries so a websocket route can take its socket over. */
export interface UpgradeContext {
  readonly hub: Hub
  readonly socket: Duplex
  readonly head: Buffer
  /** Set once the websocket handshake has taken the socket. */
  upgraded: boolean
}

/** The websocket handshake on an upgrade request. Interrupted before it completes, it drops the socket. */
export const handshake = (request: ServerRequest, upgrade: UpgradeContext): Effect.Effect<WS.WebSocket> =>
  Effect.async<WS.WebSocket>((resume) => {
    upgrade.hub.wss.handleUpgrade(request.source, upgrade.socket, upgrade.head, (ws) => {
      upgrade.upgraded = true
      resume(Effect.succeed(ws))
    })
    return Effect.sync(() => {
      if (!upgrade.upgraded) upgrade.socket.destroy()
    })
  })

/** A request body over `maxBodySize`: answered with 413 Payload Too Large. */
class BodyTooLarge extends HttpServerError.RequestError {
  override [HttpServerRespondable.symbol]() {
    return HttpServerResponse.empty({ status: 413 })
  }
}

/**
 * The `HttpServerRequest` the lean server hands to handlers. Everything beyond the request line is computed on
 * first use, so a handler that reads nothing costs one small object. Field names follow platform-node's own
 * request (`source`, `response`) so `NodeHttpServerRequest.toIncomingMessage` keeps working.
 */
export class ServerRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId
  readonly url: string
  /** The status of the answer, once one was written. */
  status: number | undefined = undefined
  /** When the request arrived (`performance.now()`), for its latency. */
  readonly startedAt: number = performance.now()
  private cachedId: string | undefined
  private headersOverride: Headers.Headers | undefined
  private remoteAddressOverride: string | undefined

  constructor(
    readonly source: Http.IncomingMessage,
    readonly response: Http.ServerResponse | (() => Http.ServerResponse),
    readonly upgradeContext: UpgradeContext | undefined,
    private readonly signals: HttpSignals,
    url?: string,
    headersOverride?: Headers.Headers,
    remoteAddressOverride?: string,
    id?: string
  ) {
    super()
    this[IncomingMessage.TypeId] = IncomingMessage.TypeId
    this[HttpServerRequest.TypeId] = HttpServerRequest.TypeId
    this.url = url ?? source.url!
    this.headersOverride = headersOverride
    this.remoteAddressOverride = remoteAddressOverride
    this.cachedId = id
  }

  /** The request id: generated on first use, stable for the request and its `modify` copies. */
  get id(): string {
    return (this.cachedId ??= randomUUID())
  }

  get resolvedResponse(): Http.ServerResponse {
    return typeof this.response === "function" ? this.response() : this.response
  }

  get originalUrl(): string {
    return this.source.url!
  }

  get method(): HttpMethod {
    return this.source.method as HttpMethod
  }

  get headers(): Headers.Headers {
    return (this.headersOverride ??= this.source.headers as Headers.Headers)
  }

  get remoteAddress(): Option.Option<string> {
    return Option.fromNullable(this.remoteAddressOverride ?? this.source.socket.remoteAddress)
  }

  private cachedCookies: ReadonlyRecord<string, string> | undefined
  get cookies(): ReadonlyRecord<string, string> {
    return (this.cachedCookies ??= Cookies.parseHeader(this.headers.cookie ?? ""))
  }

  modify(options: {
    readonly url?: string | undefined
    readonly headers?: Headers.Headers | undefined
    readonly remoteAddress?: string | undefined
  }): ServerRequest {
    return new ServerRequest(
      this.source,
      this.response,
      this.upgradeContext,
      this.signals,
      options.url ?? this.url,
      options.headers ?? this.headersOverride,
      options.remoteAddress ?? this.remoteAddressOverride,
      this.id
    )
  }

  private cachedOnError: ((cause: unknown) => HttpServerError.RequestError) | undefined
  private get onError(): (cause: unknown) => HttpServerError.RequestError {
    return (this.cachedOnError ??= (cause) =>
      new HttpServerError.RequestError({ request: this, reason: "Decode", cause }))
  }

  private textEffect: Effect.Effect<string, HttpServerError.RequestError> | undefined
  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    return (this.textEffect ??= Effect.runSync(Effect.cached(Effect.map(this.body, (bytes) => bytes.toString("utf8")))))
  }

  /**
   * The whole body, at most `maxBodySize` bytes, then `http.lifecycle.read_body` with `{ body }` when something listens
   * as the handler asks for the body (Sanic dispatches it per chunk read; here the body is read in one piece).
   */
  private get body(): Effect.Effect<Buffer, HttpServerError.RequestError> {
    if (!this.signals.has(ReadBody)) return this.readBody
    return Effect.tap(this.readBody, (body) =>
      this.signals.dispatch("http.lifecycle.read_body", { request: this, body })
    )
  }

  /**
   * The whole body, at most `maxBodySize` bytes. A larger one (by its `content-length`, or once more has arrived)
   * fails with 413 and the connection is closed after the answer: reading stops, but the socket is not destroyed
   * under the response as `NodeStream.toString` does, so the client gets its 413.
   */
  private get readBody(): Effect.Effect<Buffer, HttpServerError.RequestError> {
    return Effect.flatMap(IncomingMessage.MaxBodySize, (maxBodySize) =>
      Effect.async<Buffer, HttpServerError.RequestError>((resume) => {
        const source = this.source
        const max = Option.isSome(maxBodySize) ? Number(maxBodySize.value) : Number.POSITIVE_INFINITY
        const tooLarge = () => {
          const response = this.resolvedResponse
          if (!response.headersSent) response.shouldKeepAlive = false
          resume(
            Effect.fail(new BodyTooLarge({ request: this, reason: "Decode", description: `body over ${max} bytes` }))
          )
        }
        if (Number(source.headers["content-length"]) > max) return tooLarge()
        const chunks: Array<Buffer> = []
        let size = 0
        const cleanup = () => {
          source.off("data", onData)
          source.off("end", onEnd)
          source.off("error", onError)
        }
        const onData = (chunk: Buffer) => {
          size += chunk.length
          if (size <= max) return void chunks.push(chunk)
          cleanup()
          source.pause()
          tooLarge()
        }
        const onEnd = () => {
          cleanup()
          resume(Effect.succeed(Buffer.concat(chunks, size)))
        }
        const onError = (cause: unknown) => {
          cleanup()
          resume(Effect.fail(new HttpServerError.RequestError({ request: this, reason: "Transport", cause })))
        }
        source.on("data", onData)
        source.once("end", onEnd)
        source.once("error", onError)
        return Effect.sync(() => {
          cleanup()
          if (!source.complete) source.destroy()
        })
      })
    )
  }

  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.tryMap(this.text, {
      try: (text) => (text === "" ? null : (JSON.parse(text) as unknown)),
      catch: this.onError
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({ try: () => UrlParams.fromInput(new URLSearchParams(text)), catch: this.onError })
    )
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return NodeStream.fromReadable<HttpServerError.RequestError, Uint8Array>(() => this.source, this.onError)
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.map(
      this.body,
      (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    )
  }

  private multipartEffect:
    | Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path>
    | undefined
  get multipart(): Effect.Effect<
    Multipart.Persisted,
    Multipart.MultipartError,
    Scope.Scope | FileSystem.FileSystem | Path.Path
  > {
    return (this.multipartEffect ??= Effect.runSync(
      Effect.cached(NodeMultipart.persisted(this.source, this.source.headers))
    ))
  }

  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return NodeMultipart.stream(this.source, this.source.headers)
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.RequestError> {
    const upgrade = this.upgradeContext
    return upgrade !== undefined && !upgrade.upgraded
      ? Socket.fromWebSocket(
          Effect.acquireRelease(handshake(this, upgrade) as unknown as Effect.Effect<globalThis.WebSocket>, (ws) =>
            Effect.sync(() => ws.close(upgrade.hub.shuttingDown ? 1001 : 1000))
          )
        )
      : Effect.fail(
          new HttpServerError.RequestError({
            request: this,
            reason: "Decode",
            description: "not an upgradeable ServerRequest"
          })
        )
  }

  override toString(): string {
    return `ServerRequest(${this.method} ${this.url})`
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpServerRequest",
      method: this.method,
      url: this.originalUrl
    })
  }
}
