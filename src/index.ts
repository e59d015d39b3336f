/**
 * fiberapp: Sanic's application model on Effect.
 *
 * @since 0.1.0
 */

/**
 * The application: tasks, listeners, events, through the `App` service.
 *
 * @since 0.1.0
 */
export * as App from "./App.js"

/**
 * Events (Sanic's signals): names, options, errors, the transport service.
 *
 * @since 0.1.0
 */
export * as Events from "./Events.js"

/**
 * A fleet: machines sharing one PostgreSQL database, on `@effect/cluster` (its settings, views and errors).
 *
 * @since 0.1.0
 */
export * as Fleet from "./Fleet.js"

/**
 * The inspector: an HTTP endpoint showing and steering workers and tasks.
 *
 * @since 0.1.0
 */
export * as Inspector from "./Inspector.js"

/**
 * The server: serves routes for an app, with Sanic's lifecycle.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * Named background tasks: the handle, its status and errors.
 *
 * @since 0.1.0
 */
export * as Task from "./Task.js"

/**
 * Websocket routes and connections.
 *
 * @since 0.1.0
 */
export * as WebSocket from "./WebSocket.js"

/**
 * Several server processes sharing a port, kept by a primary.
 *
 * @since 0.1.0
 */
export * as Workers from "./Workers.js"
