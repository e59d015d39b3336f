import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Option from "effect/Option"
import { App } from "../app/service.js"
import { hooksOf } from "../hooks.js"
import type { TaskRecord } from "./record.js"

/**
 * The cancel reason of the task whose fiber this is. Looked up when asked (a finalizer asks once), so that no task
 * pays for it on its way in.
 */
export const currentReason: Effect.Effect<Option.Option<string>, never, App> = Effect.flatMap(App, (app) =>
  Effect.map(Effect.fiberId, (id) => {
    for (const task of hooksOf(app).unsafeTasks()) {
      const fiber = (task as TaskRecord).fiberOrUndefined
      if (fiber !== undefined && Equal.equals(fiber.id(), id)) return task.cancelReason
    }
    return Option.none()
  })
)
