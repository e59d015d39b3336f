import type * as Http from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

type NodeHeaders = Record<string, string | Array<string>>

const headersOf = (response: HttpServerResponse.HttpServerResponse): NodeHeaders => {
  const headers = response.headers as NodeHeaders
  if (Cookies.isEmpty(response.cookies)) return headers
  const withCookies = { ...headers }
  const toSet = Cookies.toSetCookieHeaders(response.cookies)
  const existing = headers["set-cookie"]
  if (existing !== undefined) {
    if (Array.isArray(existing)) toSet.push(...existing)
    else toSet.push(existing)
  }
  withCookies["set-cookie"] = toSet
  return withCookies
}

const writeHead = (nodeResponse: Http.ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  if (response.statusText === undefined) nodeResponse.writeHead(response.status, headersOf(response))
  else nodeResponse.writeHead(response.status, response.statusText, headersOf(response))
}

const oneChunkLimit = 4096

const isPipeable = (body: unknown): body is NodeJS.ReadableStream =>
  typeof body === "object" && body !== null && "pipe" in body && typeof body.pipe === "function"

/**
 * Writes a response whose body is in memory (or a HEAD answer) at once and tells whether it did; a streamed body
 * is left untouched for {@link write}.
 */
export const writeNow = (
  method: string,
  nodeResponse: Http.ServerResponse,
  response: HttpServerResponse.HttpServerResponse
): boolean => {
  if (nodeResponse.writableEnded) return true
  const body = response.body
  if (method === "HEAD" || body._tag === "Empty") {
    writeHead(nodeResponse, response)
    nodeResponse.end()
    return true
  }
  if (body._tag === "Uint8Array") {
    writeHead(nodeResponse, response)
    const bytes = body.body
    // node sends a string body in one chunk with the head, a byte body as a second chunk (a slower writev);
    // latin1 maps every byte to one character, so a small body goes as the same bytes in one write.
    if (bytes.length <= oneChunkLimit) {
      nodeResponse.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1"), "latin1")
    } else nodeResponse.end(bytes)
    return true
  }
  if (body._tag === "Raw" && !isPipeable(body.body)) {
    writeHead(nodeResponse, response)
    nodeResponse.end(body.body as string | Uint8Array | undefined)
    return true
  }
  return false
}

const noBytes = new Uint8Array(0)

/**
 * The body bytes that {@link writeNow} would send (`http.lifecycle.send`'s `data`): empty for a HEAD answer or an empty
 * body, `undefined` for a streamed one. The head is written by node and is not part of it.
 */
export const bytesOf = (
  method: string,
  response: HttpServerResponse.HttpServerResponse
): Uint8Array | string | undefined => {
  const body = response.body
  if (method === "HEAD" || body._tag === "Empty") return noBytes
  if (body._tag === "Uint8Array") return body.body
  if (body._tag === "Raw" && !isPipeable(body.body)) {
    const raw = body.body
    return typeof raw === "string" || raw instanceof Uint8Array ? raw : undefined
  }
  return undefined
}

/** Writes an `HttpServerResponse` to a node response; only streamed bodies suspend. */
export const write = (
  request: HttpServerRequest.HttpServerRequest,
  nodeResponse: Http.ServerResponse,
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<void, HttpServerError.ResponseError> => {
  if (writeNow(request.method, nodeResponse, response)) return Effect.void
  const body = response.body
  switch (body._tag) {
    case "Empty":
    case "Uint8Array":
      return Effect.void
    case "Raw": {
      writeHead(nodeResponse, response)
      const source = body.body as NodeJS.ReadableStream
      return Effect.tryPromise({
        try: (signal) => pipeline(source, nodeResponse, { signal, end: true }),
        catch: (cause) => new HttpServerError.ResponseError({ request, response, reason: "Decode", cause })
      }).pipe(Effect.interruptible, Effect.tapErrorCause(endOnFailure(nodeResponse, response)))
    }
    case "FormData": {
      const web = new Response(body.formData)
      nodeResponse.writeHead(response.status, { ...headersOf(response), ...Object.fromEntries(web.headers) })
      return Effect.async<void, HttpServerError.ResponseError>((resume, signal) => {
        Readable.fromWeb(web.body as import("node:stream/web").ReadableStream, { signal })
          .pipe(nodeResponse)
          .on("error", (cause) => {
            resume(Effect.fail(new HttpServerError.ResponseError({ request, response, reason: "Decode", cause })))
          })
          .once("finish", () => resume(Effect.void))
      }).pipe(Effect.interruptible, Effect.tapErrorCause(endOnFailure(nodeResponse, response)))
    }
    case "Stream": {
      writeHead(nodeResponse, response)
      const drained = Effect.unsafeMakeLatch()
      nodeResponse.on("drain", () => drained.unsafeOpen())
      return body.stream.pipe(
        Stream.orDie,
        Stream.runForEachChunk((chunk) => {
          const array = Chunk.toReadonlyArray(chunk)
          let needDrain = false
          for (let i = 0; i < array.length; i++) {
            if (!nodeResponse.write(array[i]) && !needDrain) {
              needDrain = true
              drained.unsafeClose()
            }
          }
          return needDrain ? drained.await : Effect.void
        }),
        Effect.interruptible,
        Effect.matchCauseEffect({
          onSuccess: () => Effect.sync(() => void nodeResponse.end()),
          onFailure: endOnFailure(nodeResponse, response)
        })
      )
    }
  }
}

const endOnFailure =
  (nodeResponse: Http.ServerResponse, original: HttpServerResponse.HttpServerResponse) =>
  <E>(cause: Cause.Cause<E>): Effect.Effect<never, E> =>
    Effect.flatMap(HttpServerError.causeResponse(cause), ([response, stripped]) => {
      const headersSent = nodeResponse.headersSent
      if (!headersSent) nodeResponse.writeHead(response.status)
      if (!nodeResponse.writableEnded) nodeResponse.end()
      return Effect.failCause(headersSent ? Cause.sequential(cause, Cause.die(original)) : stripped)
    })
