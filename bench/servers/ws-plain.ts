/** Baseline: plain `ws` echo server. */
import { WebSocketServer } from "ws"
import { announceAddress, host, port } from "../lib/server.js"

const server = new WebSocketServer({ port: port(), host, path: "/ws" })
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
})
server.on("listening", () => announceAddress(server.address()))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
