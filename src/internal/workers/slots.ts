import type { Worker as ClusterWorker } from "node:cluster"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { WorkerExit, WorkerState } from "../../Workers.js"
import type { ManagedEntry } from "../hooks.js"
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
  /** What the process published with `Workers.setState`. */
  custom: Readonly<Record<string, unknown>> | undefined
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
  removed: boolean
  /** The program it runs, for a managed process (`Workers.manage`); a server worker has none. */
  readonly managed: ManagedEntry | undefined
}

/** Adds a slot under the lowest free name (`worker-0`, `worker-1`, ...), with its own restart schedule. */
export const addSlot = (
  slots: Map<string, Slot>,
  schedule: Schedule.Schedule<unknown, WorkerExit>
): Effect.Effect<Slot> =>
  Effect.map(Schedule.driver(schedule), (driver) => {
    let index = 0
    while (slots.has(`worker-${index}`)) index++
    const slot: Slot = {
      name: `worker-${index}`,
      index,
      state: "starting",
      current: undefined,
      starts: 0,
      restarts: 0,
      restartedAt: undefined,
      lastExit: undefined,
      driver,
      removed: false,
      managed: undefined
    }
    slots.set(slot.name, slot)
    return slot
  })

/** Adds the slot of one process of a managed program, under `name`. */
export const addManagedSlot = (
  slots: Map<string, Slot>,
  name: string,
  entry: ManagedEntry,
  schedule: Schedule.Schedule<unknown, WorkerExit>
): Effect.Effect<Slot> =>
  Effect.map(Schedule.driver(schedule), (driver) => {
    const slot: Slot = {
      name,
      index: -1,
      state: entry.autoStart ? "starting" : "stopped",
      current: undefined,
      starts: 0,
      restarts: 0,
      restartedAt: undefined,
      lastExit: undefined,
      driver,
      removed: false,
      managed: entry
    }
    slots.set(name, slot)
    return slot
  })
