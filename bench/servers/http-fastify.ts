/** Baseline: Fastify 5 hello world. */
import Fastify from "fastify"
import { announce, helloBody, host, port } from "../lib/server.js"

const app = Fastify({ logger: false })
app.get("/", async (_request, reply) => {
  reply.type("text/plain")
  return helloBody
})
app.listen({ port: port(), host }).then(
  () => {
    const address = app.server.address()
    if (address === null || typeof address === "string") throw new Error("unexpected address")
    announce(address.port)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
process.on("SIGTERM", () => {
  app.close().then(() => process.exit(0))
})
