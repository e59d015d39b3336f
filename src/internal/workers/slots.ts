import type { Worker as ClusterWorker } from "node:cluster"
import type * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type { WorkerExit, WorkerState } from "../../Workers.js"
import type { WorkersError } from "./errors.js"
import type { Replies } from "./ipc.js"
import type * as Protocol from "./protocol.js"

/** One process of a worker slot. */
export interface Proc {
  readonly slot: Slot
  readonly worker: ClusterWorker
  readonly pid: number
  readonly startedAt: number
  ackedAt: number | undefined
  readonly acked: Deferred.Deferred<void>
  readonly exited: Deferred.Deferred<WorkerExit>
  /** Its end was asked for (restart, scale down, shutdown, start timeout): no automatic restart. */
  expected: boolean
  readonly replies: Replies<Protocol.Answer, WorkersError>
}

/** A worker as the table lists it (`worker-0`, ...): its current process and its history. */
export interface Slot {
  readonly name: string
  readonly index: number
  state: WorkerState
  current: Proc | undefined
  starts: number
  restarts: number
  restartedAt: number | undefined
  lastExit: WorkerExit | undefined
  readonly driver: Schedule.ScheduleDriver<unknown, WorkerExit>
  readonly lock: Effect.Semaphore
  removed: boolean
}
