import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as App from "../src/App.js"
import * as Task from "../src/Task.js"

const anyName = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.anything()
) as fc.Arbitrary<unknown>

describe("task names (property)", () => {
  it.scoped(
    "any value is either accepted as a name or refused with InvalidTaskName, and a refusal records nothing",
    () =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "property" })
        yield* app.start
        let accepted = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(anyName, async (name) => {
              const result = await Effect.runPromise(
                Effect.either(app.addTask(Effect.void, { name: name as string, register: false }))
              )
              const reason = name === undefined ? undefined : Task.validateName(name)
              if (reason === undefined) {
                assert.isTrue(Either.isRight(result))
                accepted++
              } else {
                assert.isTrue(Either.isLeft(result))
                if (Either.isLeft(result)) {
                  const error = result.left
                  assert.strictEqual(error._tag, "InvalidTaskName")
                  if (error._tag === "InvalidTaskName") assert.strictEqual(error.reason, reason)
                }
              }
            }),
            { numRuns: 500 }
          )
        )
        assert.isAbove(accepted, 0)
        assert.deepStrictEqual(yield* app.tasks, [])
      })
  )

  it.scoped("a registered name is found again exactly, and a second add under it is refused while it runs", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "property" })
      yield* app.start
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.string({ minLength: 1, maxLength: Task.maxNameLength }), async (name) => {
            const program = Effect.gen(function* () {
              const task = yield* app.addTask(Effect.never, { name })
              assert.strictEqual(yield* app.getTask(name), task)
              const again = yield* Effect.flip(app.addTask(Effect.void, { name }))
              assert.strictEqual(again._tag, "TaskNameInUse")
              yield* app.cancelTask(name)
              assert.strictEqual(yield* app.purgeTasks, 1)
            })
            await Effect.runPromise(program)
          }),
          { numRuns: 300 }
        )
      )
      assert.deepStrictEqual(yield* app.tasks, [])
    })
  )
})
