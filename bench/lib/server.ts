/**
 * Helpers for the benchmark server processes: each listens on 127.0.0.1 (port from `PORT`, default a
 * random one) and announces itself with one JSON line `{"ready":true,"port":N}` on stdout.
 */
import type { AddressInfo } from "node:net"

export const host = "127.0.0.1"

export const port = (): number => Number(process.env.PORT ?? 0)

export const helloBody = "Hello, World!"

export const announce = (listening: number): void => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: listening, pid: process.pid })}\n`)
}

export const announceAddress = (address: AddressInfo | string | null): void => {
  if (address === null || typeof address === "string") throw new Error(`unexpected address ${String(address)}`)
  announce(address.port)
}
