#!/usr/bin/env node
/**
 * The `fiberapp` executable: `fiberapp inspect ...` against a running inspector. Exits with `Cli.exitCodes`.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { main } from "./Cli.js"

main(process.argv, { colors: process.stdout.isTTY === true }).pipe(
  Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layer)),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 1)
  })
)
