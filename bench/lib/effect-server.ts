/**
 * The announcement of the `@effect/platform` baseline servers, apart from `server.ts` so that the plain
 * node:http, ws and Fastify servers do not load Effect.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer } from "effect"
import { announce } from "./server.js"

/** Announces the port of the `HttpServer` in context, once it listens. */
export const layerAnnounce: Layer.Layer<never, never, HttpServer.HttpServer> = Layer.effectDiscard(
  HttpServer.addressWith((address) =>
    Effect.sync(() => {
      if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      announce(address.port)
    })
  )
)
