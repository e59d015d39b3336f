/** Baseline: plain node:http hello world; with `ASYNC=1`, after one real async step (a timer, as a Promise). */
import { createServer } from "node:http"
import { announceAddress, helloBody, host, port } from "../lib/server.js"

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

const server = createServer(async (request, response) => {
  if (process.env.ASYNC === "1") await tick()
  if (request.url === "/") {
    response.writeHead(200, { "content-type": "text/plain" })
    response.end(helloBody)
  } else {
    response.writeHead(404)
    response.end()
  }
})
server.listen(port(), host, () => announceAddress(server.address()))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
