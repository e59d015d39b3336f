/** Baseline: node:http where every request runs an Effect with `Effect.runFork`. */
import { createServer } from "node:http"
import { Effect } from "effect"
import { announceAddress, helloBody, host, port } from "../lib/server.js"

const server = createServer((request, response) => {
  Effect.runFork(
    Effect.sync(() => {
      if (request.url === "/") {
        response.writeHead(200, { "content-type": "text/plain" })
        response.end(helloBody)
      } else {
        response.writeHead(404)
        response.end()
      }
    })
  )
})
server.listen(port(), host, () => announceAddress(server.address()))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
