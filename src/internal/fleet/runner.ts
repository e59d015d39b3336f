import * as Net from "node:net"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Fleet from "../../Fleet.js"
import type { Placement } from "../task/placement.js"
import { connect, unavailable } from "./bus.js"
import { FleetError } from "./errors.js"
import type { FleetSettings } from "./settings.js"

/** The first of `ports` that nothing listens on (`0`: any free port). */
const freePort = (host: string, ports: ReadonlyArray<number>): Effect.Effect<number, FleetError> =>
  Effect.async<number, FleetError>((resume) => {
    const attempt = (index: number) => {
      const port = ports[index]!
      const server = Net.createServer()
      server.once("error", (error: NodeJS.ErrnoException) => {
        if (index + 1 < ports.length && error.code === "EADDRINUSE") attempt(index + 1)
        else
          resume(
            Effect.fail(
              new FleetError({
                reason: "Unavailable",
                detail: `The fleet's runner port ${ports.join(" or ")} on ${host} is unavailable: ${error.message}`
              })
            )
          )
      })
      server.listen(port, host, () => {
        const bound = (server.address() as Net.AddressInfo).port
        server.close(() => resume(Effect.succeed(bound)))
      })
    }
    attempt(0)
  })

/** One copy of a one-in-fleet task in this process, registered as a cluster singleton while it waits or runs. */
interface Copy {
  readonly name: string
  readonly scope: Scope.CloseableScope
  /** When the copy registered, by the database's clock: an end recorded later than this is its end. */
  readonly registeredAt: Date
  /** Completes with `true` when the singleton starts here, `false` when the task is over elsewhere. */
  granted: Deferred.Deferred<boolean>
  /** Completes with `true` when the task is over elsewhere, `false` when the singleton moved away. */
  withdrawn: Deferred.Deferred<boolean>
  over: boolean
}

/**
 * This process as a cluster runner: its `Sharding`, and the placement of its one-in-fleet tasks. Cluster runs
 * each task's singleton on one runner of the fleet; fiberapp records where in the tasks table, and watches that
 * table for an end recorded elsewhere (a cancel from another machine), once a second for all its copies.
 */
export const make = (options: {
  readonly settings: FleetSettings
  readonly app: string
  readonly worker: string | undefined
  /** This process's index among the machine's workers, and how many there are, to spread runner ports. */
  readonly index: number
  readonly workers: number
}): Effect.Effect<Placement, FleetError, Scope.Scope> =>
  Effect.gen(function* () {
    const { app, settings, worker } = options
    const database = yield* connect(settings, worker ?? "runner")
    const sql = Context.get(database, PgClient.PgClient)
    // Worker k listens on runnerPort + k, or, while its previous process still holds that port (a zero-downtime
    // restart), on runnerPort + k + workers.
    const base = settings.runnerPort + options.index
    const port = yield* freePort(
      settings.host === "0.0.0.0" ? "127.0.0.1" : settings.host,
      settings.runnerPort === 0 ? [0] : worker === undefined ? [base] : [base, base + options.workers]
    )
    const address = RunnerAddress.make(settings.host, port)
    const config = ShardingConfig.layer({
      ...Fleet.defaultSharding,
      ...settings.sharding,
      runnerAddress: Option.some(address),
      runnerListenAddress: Option.some(address)
    })
    const storage = SqlRunnerStorage.layerWith({ prefix: `${settings.prefix}_cluster` })
    const sharding = SocketRunner.layer.pipe(
      Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
      Layer.provide(
        RunnerHealth.layerPing.pipe(
          Layer.provide(Runners.layerRpc),
          Layer.provide(NodeClusterSocket.layerClientProtocol)
        )
      ),
      Layer.provide(MessageStorage.layerNoop),
      Layer.provide(Layer.orDie(storage)),
      Layer.provide(config),
      Layer.provide(RpcSerialization.layerMsgPack),
      Layer.provide(Layer.succeedContext(database))
    )
    // Cluster makes its tables with CREATE TABLE IF NOT EXISTS as its layer builds, which PostgreSQL refuses to one
    // of two runners doing it at once on a new database: runners of a new fleet starting together take turns.
    const scope = yield* Effect.scope
    const lock = `hashtext('${settings.prefix}_cluster')`
    const context = yield* Effect.scoped(
      Effect.gen(function* () {
        const connection = yield* sql.reserve
        yield* connection.executeRaw(`SELECT pg_advisory_lock(${lock})`, [])
        yield* Effect.addFinalizer(() => Effect.ignore(connection.executeRaw(`SELECT pg_advisory_unlock(${lock})`, [])))
        return yield* Layer.buildWithScope(sharding, scope)
      })
    ).pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(
          new FleetError({
            reason: "Unavailable",
            detail: `The fleet's runner on ${settings.host}:${port} could not start: ${String(cause).split("\n")[0]}`
          })
        )
      )
    )
    const shards = Context.get(context, Sharding.Sharding)
    const copies = new Map<number, Copy>()
    const tasks = `${settings.prefix}_tasks`

    /**
     * The singleton's body on the runner that holds its shard: record the start (unless the task ended after this
     * copy registered), grant the copy, and hold until cluster moves the singleton away.
     */
    const run = (copy: Copy): Effect.Effect<void> =>
      Effect.gen(function* () {
        const started = yield* sql
          .withTransaction(
            Effect.gen(function* () {
              const [row] = yield* sql<{ endedAt: Date | null }>`SELECT ended_at AS "endedAt" FROM ${sql(tasks)}
              WHERE app = ${app} AND name = ${copy.name} FOR UPDATE`
              if (row?.endedAt !== null && row?.endedAt !== undefined && row.endedAt > copy.registeredAt) return false
              yield* sql`UPDATE ${sql(tasks)} SET status = 'running', runs = 0, failures = 0, machine = ${settings.machine},
              worker = ${worker ?? null}, updated_at = now(), ended_at = NULL WHERE app = ${app} AND name = ${copy.name}`
              return true
            })
          )
          .pipe(
            // The task does not start here until its start is recorded: a database away for a while only delays it.
            Effect.tapError((error) =>
              Effect.logWarning(
                `Fleet: could not record the start of task "${copy.name}"; retrying. ${unavailable(settings, error).message}`
              )
            ),
            Effect.retry(Schedule.spaced("1 second")),
            Effect.orDie
          )
        if (!started) {
          end(copy)
          return
        }
        const withdrawn = Deferred.unsafeMake<boolean>(FiberId.none)
        copy.withdrawn = withdrawn
        yield* Deferred.succeed(copy.granted, true)
        // Moved away: the next grant is a new one, made ready before the copy hears it lost this one.
        yield* Effect.onInterrupt(Effect.never, () =>
          Effect.suspend(() => {
            if (!copy.over) copy.granted = Deferred.unsafeMake<boolean>(FiberId.none)
            return Deferred.succeed(withdrawn, false)
          })
        )
      })

    const end = (copy: Copy) => {
      if (copy.over) return
      copy.over = true
      Deferred.unsafeDone(copy.granted, Exit.succeed(false))
      Deferred.unsafeDone(copy.withdrawn, Exit.succeed(true))
    }

    // One query a second for every copy of this process: an end recorded elsewhere reaches the copy here.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        if (copies.size === 0) return
        const names = [...new Set([...copies.values()].map((copy) => copy.name))]
        const rows = yield* sql<{ name: string; endedAt: Date }>`SELECT name, ended_at AS "endedAt"
          FROM ${sql(tasks)} WHERE app = ${app} AND ended_at IS NOT NULL AND name IN ${sql.in(names)}`
        const ends = new Map(rows.map((row) => [row.name, row.endedAt]))
        for (const copy of copies.values()) {
          const endedAt = ends.get(copy.name)
          if (endedAt !== undefined && endedAt > copy.registeredAt) end(copy)
        }
      }).pipe(Effect.ignore, Effect.repeat(Schedule.spaced("1 second")))
    )

    const register = (name: string, claim: number) =>
      Effect.gen(function* () {
        const [row] = yield* sql<{ now: Date }>`INSERT INTO ${sql(tasks)} (app, name, status, updated_at)
          VALUES (${app}, ${name}, 'waiting', now())
          ON CONFLICT (app, name) DO UPDATE SET updated_at = ${sql(tasks)}.updated_at RETURNING now() AS now`
        const copy: Copy = {
          name,
          scope: yield* Scope.make(),
          registeredAt: row!.now,
          granted: Deferred.unsafeMake<boolean>(FiberId.none),
          withdrawn: Deferred.unsafeMake<boolean>(FiberId.none),
          over: false
        }
        copies.set(claim, copy)
        yield* shards
          .registerSingleton(
            `fiberapp/${app}/${name}`,
            Effect.suspend(() => run(copy))
          )
          .pipe(Scope.extend(copy.scope))
        return copy
      })

    return {
      worker,
      claim: (name, claim) =>
        Effect.gen(function* () {
          const copy = copies.get(claim) ?? (yield* register(name, claim))
          return yield* Deferred.await(copy.granted)
        }).pipe(
          Effect.tapError((error) =>
            Effect.logWarning(`Fleet: task "${name}" waits for the database: ${unavailable(settings, error).message}`)
          ),
          Effect.retry(Schedule.spaced("2 seconds")),
          Effect.orDie
        ),
      release: (name, claim, ended, status) =>
        Effect.gen(function* () {
          const copy = copies.get(claim)
          copies.delete(claim)
          if (copy !== undefined) yield* Scope.close(copy.scope, Exit.void)
          if (copy?.over) return
          // Not ended (this process stops): the task waits for another runner, unless it already runs elsewhere.
          const update = ended
            ? sql`UPDATE ${sql(tasks)} SET status = ${status ?? "cancelled"}, updated_at = now(), ended_at = now()
                WHERE app = ${app} AND name = ${name}`
            : sql`UPDATE ${sql(tasks)} SET status = 'waiting', updated_at = now()
                WHERE app = ${app} AND name = ${name} AND status = 'running' AND machine = ${settings.machine}
                AND worker IS NOT DISTINCT FROM ${worker ?? null}`
          yield* update.pipe(
            Effect.catchAll((error) =>
              Effect.logWarning(
                `Fleet: could not record the end of task "${name}": ${unavailable(settings, error).message}`
              )
            )
          )
        }),
      withdrawn: (_name, claim) =>
        Effect.suspend(() => {
          const copy = copies.get(claim)
          return copy === undefined ? Effect.never : Deferred.await(copy.withdrawn)
        })
    } satisfies Placement
  })
