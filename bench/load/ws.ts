/**
 * Websocket echo client process. Ping-pong: one message in flight, N round trips. Pipelined: N messages
 * sent at once, timed until N echoes are back. Arguments: url, round trips, pipelined messages.
 */
import WebSocket from "ws"
import { arg, main, now, perSecond } from "../lib/measure.js"

const url = arg(0, "ws://127.0.0.1:8000/ws")
const roundTrips = Number(arg(1, "20000"))
const pipelined = Number(arg(2, "100000"))
const payload = "hello, echo"

const connect = (): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.once("open", () => resolve(socket))
    socket.once("error", reject)
  })

const close = (socket: WebSocket): Promise<void> =>
  new Promise((resolve) => {
    socket.once("close", () => resolve())
    socket.close(1000)
  })

const pingPong = async (count: number): Promise<number> => {
  const socket = await connect()
  const start = now()
  await new Promise<void>((resolve, reject) => {
    let received = 0
    socket.on("error", reject)
    socket.on("message", () => {
      if (++received === count) resolve()
      else socket.send(payload)
    })
    socket.send(payload)
  })
  const ms = now() - start
  await close(socket)
  return perSecond(count, ms)
}

const pipeline = async (count: number): Promise<number> => {
  const socket = await connect()
  const start = now()
  await new Promise<void>((resolve, reject) => {
    let received = 0
    socket.on("error", reject)
    socket.on("message", () => {
      if (++received === count) resolve()
    })
    for (let i = 0; i < count; i++) socket.send(payload)
  })
  const ms = now() - start
  await close(socket)
  return perSecond(count, ms)
}

main(async () => {
  await pingPong(Math.ceil(roundTrips / 10))
  await pipeline(Math.ceil(pipelined / 10))
  const pingPongPerSec = await pingPong(roundTrips)
  const pipelinedPerSec = await pipeline(pipelined)
  const totalMessages = roundTrips + pipelined + Math.ceil(roundTrips / 10) + Math.ceil(pipelined / 10)
  return { roundTrips, pipelined, pingPongPerSec, pipelinedPerSec, totalMessages }
})
