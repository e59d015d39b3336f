import * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import Pg from "pg"
import { FleetError } from "./errors.js"
import type { FleetSettings } from "./settings.js"

/** What machines say to each other on the fleet's channel. */
export const Message = Schema.Union(
  Schema.TaggedStruct("event", {
    from: Schema.String,
    app: Schema.String,
    event: Schema.String,
    context: Schema.optional(Schema.Unknown),
    condition: Schema.optional(Schema.Unknown),
    /** The sender's count: two equal dispatches sent in one transaction would otherwise reach listeners once. */
    seq: Schema.optional(Schema.Number)
  }),
  Schema.TaggedStruct("ask", {
    from: Schema.String,
    to: Schema.String,
    id: Schema.String,
    app: Schema.String,
    call: Schema.Union(
      Schema.TaggedStruct("cancel", { worker: Schema.String, name: Schema.String }),
      Schema.TaggedStruct("restart", {
        workers: Schema.optional(Schema.Array(Schema.String)),
        zeroDowntime: Schema.optional(Schema.Boolean)
      }),
      Schema.TaggedStruct("scale", { replicas: Schema.Number })
    )
  }),
  Schema.TaggedStruct("answer", {
    from: Schema.String,
    to: Schema.String,
    id: Schema.String,
    status: Schema.Number,
    error: Schema.optional(Schema.String)
  })
)
export type Message = typeof Message.Type
export type Call = Extract<Message, { readonly _tag: "ask" }>["call"]

const decode = Schema.decodeUnknownEither(Schema.parseJson(Message))
const encode = Schema.encodeSync(Schema.parseJson(Message))

/** The fleet's channel: one per table prefix, so that fleets sharing a database stay apart. */
export const channelOf = (settings: FleetSettings): string => `${settings.prefix}_fleet`

/** The database connection pool every fleet module shares (cluster's storage included). */
export const database = (settings: FleetSettings, role: string) =>
  PgClient.layer({
    url: settings.database,
    maxConnections: 4,
    connectTimeout: Duration.seconds(3),
    idleTimeout: Duration.seconds(30),
    applicationName: `fiberapp ${settings.machine} ${role}`.slice(0, 63)
  })

/** Fails with a readable `Unavailable` when the database cannot be reached: the server's start reports it. */
export const unavailable = (settings: FleetSettings, cause: unknown): FleetError => {
  const url = new URL(Redacted.value(settings.database))
  const where = `${url.hostname}:${url.port || "5432"}${url.pathname}`
  const reason = describe(cause)
  return new FleetError({ reason: "Unavailable", detail: `The fleet's database at ${where} is unavailable: ${reason}` })
}

const describe = (cause: unknown): string => {
  let current: unknown = cause
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const next = (current as { cause?: unknown }).cause
    if (next === undefined || next === null) break
    current = next
  }
  if (current instanceof Error) {
    const code = (current as { code?: unknown }).code
    return `${current.message}${typeof code === "string" && !current.message.includes(code) ? ` (${code})` : ""}`
  }
  return String(current)
}

/**
 * Sends a message to every machine: `pg_notify` as a query (sql-pg's own `notify` sends `NOTIFY chan, $1`, which
 * PostgreSQL refuses).
 */
export const send = (settings: FleetSettings, message: Message) => {
  const payload = encode(message)
  return Effect.flatMap(PgClient.PgClient, (sql) => sql`SELECT pg_notify(${channelOf(settings)}, ${payload})`).pipe(
    Effect.asVoid,
    Effect.mapError((error) => unavailable(settings, error))
  )
}

/**
 * Sends messages in one round trip, in order (one transaction: PostgreSQL delivers its notifications in the order
 * they were made, and folds equal payloads into one, which the `seq` of events keeps apart).
 */
export const sendAll = (settings: FleetSettings, messages: ReadonlyArray<Message>) => {
  const payloads = messages.map((message) => encode(message))
  return Effect.flatMap(PgClient.PgClient, (sql) =>
    sql.unsafe("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload", [channelOf(settings), payloads])
  ).pipe(
    Effect.asVoid,
    Effect.mapError((error) => unavailable(settings, error))
  )
}

/** The encoded size of a message, to refuse what PostgreSQL would. */
export const sizeOf = (message: Message): number => Buffer.byteLength(encode(message))

/**
 * The messages of the fleet's channel, on a connection of their own that is opened again after the database comes
 * back. Not sql-pg's `listen`: its connection swallows errors, so a lost connection would go silent for good.
 */
export const listen = (
  settings: FleetSettings,
  onMessage: (message: Message) => Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> => {
  const channel = channelOf(settings)
  const connection = Stream.asyncPush<string, FleetError>((emit) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new Pg.Client({ connectionString: Redacted.value(settings.database) })
          client.on("notification", (notification) => {
            if (notification.channel === channel && notification.payload !== undefined)
              emit.single(notification.payload)
          })
          client.on("error", (error) => emit.fail(unavailable(settings, error)))
          client.on("end", () => emit.fail(unavailable(settings, new Error("the connection ended"))))
          try {
            await client.connect()
            await client.query(`LISTEN ${Pg.escapeIdentifier(channel)}`)
          } catch (error) {
            client.end().catch(() => {})
            throw error
          }
          return client
        },
        catch: (error) => unavailable(settings, error)
      }),
      (client) => Effect.promise(() => client.end().catch(() => {}))
    )
  )
  return Effect.gen(function* () {
    let lost = false
    const loop = connection.pipe(
      Stream.tap(() =>
        Effect.suspend(() => {
          if (!lost) return Effect.void
          lost = false
          return Effect.logInfo("Fleet: notifications resumed")
        })
      ),
      Stream.runForEach((payload) => {
        const message = decode(payload)
        return message._tag === "Right"
          ? onMessage(message.right)
          : Effect.logWarning(`Fleet: unreadable message on ${channel}: ${message.left.message}`)
      }),
      Effect.tapError((error) =>
        Effect.suspend(() => {
          if (lost) return Effect.void
          lost = true
          return Effect.logWarning(`Fleet: notifications lost; retrying. ${error.message}`)
        })
      ),
      Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("3 seconds")))),
      Effect.orDie
    )
    yield* Effect.forkScoped(loop)
  })
}

/** Machines and tasks tables, made once per database (an advisory lock keeps concurrent starts from racing). */
export const ensureTables = (settings: FleetSettings) =>
  Effect.flatMap(PgClient.PgClient, (sql) =>
    sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext(${settings.prefix}))`
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${settings.prefix}_machines (
          app text NOT NULL,
          machine text NOT NULL,
          pid integer NOT NULL,
          url text NOT NULL,
          started_at timestamptz NOT NULL,
          last_seen timestamptz NOT NULL,
          stopped_at timestamptz,
          workers jsonb NOT NULL DEFAULT '[]',
          tasks jsonb NOT NULL DEFAULT '[]',
          PRIMARY KEY (app, machine)
        )`)
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${settings.prefix}_tasks (
          app text NOT NULL,
          name text NOT NULL,
          status text NOT NULL,
          machine text,
          worker text,
          runs integer NOT NULL DEFAULT 0,
          failures integer NOT NULL DEFAULT 0,
          updated_at timestamptz NOT NULL,
          ended_at timestamptz,
          PRIMARY KEY (app, name)
        )`)
      })
    )
  ).pipe(Effect.mapError((error) => unavailable(settings, error)))

/** Builds the pool and checks the database answers, with the fleet's readable error when it does not. */
export const connect = (settings: FleetSettings, role: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(database(settings, role)).pipe(
      Effect.mapError((error) => unavailable(settings, error))
    )
    yield* ensureTables(settings).pipe(
      Effect.provide(context),
      Effect.timeoutFail({
        duration: Duration.seconds(10),
        onTimeout: () => unavailable(settings, new Error("no answer within 10 s"))
      })
    )
    return context
  })
