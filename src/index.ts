/**
 * fiberapp: Sanic's application model on Effect.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as App from "./App.js"

/**
 * @since 0.1.0
 */
export * as Events from "./Events.js"

/**
 * @since 0.1.0
 */
export * as Inspector from "./Inspector.js"

/**
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * @since 0.1.0
 */
export * as Task from "./Task.js"

/**
 * @since 0.1.0
 */
export * as WebSocket from "./WebSocket.js"

/**
 * @since 0.1.0
 */
export * as Workers from "./Workers.js"
