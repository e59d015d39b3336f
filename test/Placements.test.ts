import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { Replies } from "../src/internal/workers/ipc.js"
import * as Placements from "../src/internal/workers/placements.js"
import * as Questions from "../src/internal/workers/questions.js"
import type { Proc, Slot } from "../src/internal/workers/slots.js"

/** The primary's choices, with processes that are only their slot's number; every message is recorded. */
const setup = () => {
  const said: Array<string> = []
  const eligible = new Set<Proc>()
  const placements = Placements.make({
    eligible: (proc) => eligible.has(proc),
    grant: (proc, name, claim, run) => said.push(`${run ? "grant" : "end"} ${name}#${claim} to w${proc.slot.index}`),
    cancel: (proc, name) => said.push(`cancel ${name} on w${proc.slot.index}`),
    placed: () => {}
  })
  const proc = (index: number): Proc => {
    const made = { slot: { index, name: `worker-${index}` } } as unknown as Proc
    eligible.add(made)
    return made
  }
  return { placements, said, proc, eligible }
}

describe("one-worker placement in the primary", () => {
  it("grants the lowest-numbered eligible holder, and another only after a release or an exit", () => {
    const { placements, proc, said } = setup()
    const [w0, w1, w2] = [proc(0), proc(1), proc(2)]
    placements.hold(w1, "digest", 10)
    placements.hold(w0, "digest", 20)
    placements.hold(w2, "digest", 30)
    assert.deepStrictEqual(said, ["grant digest#10 to w1"])
    placements.release(w1, "digest", 10, false)
    assert.deepStrictEqual(said.slice(1), ["grant digest#20 to w0"])
    placements.gone(w0)
    assert.deepStrictEqual(said.slice(2), ["grant digest#30 to w2"])
  })

  it("a message about an old copy does not move a newer one", () => {
    const { placements, proc, said } = setup()
    const [w0, w1] = [proc(0), proc(1)]
    placements.hold(w0, "x", 1)
    placements.hold(w1, "x", 7)
    assert.deepStrictEqual(said, ["grant x#1 to w0"])
    // w0's copy 1 was cancelled and the task added again (copy 2) while the grant was on its way
    placements.release(w0, "x", 1, false)
    placements.hold(w0, "x", 2)
    assert.deepStrictEqual(said.slice(1), ["grant x#7 to w1"])
    // the old grant reached w0 after its copy 1 was gone: w0 says so, naming copy 1; w1 keeps the task
    placements.release(w0, "x", 1, false)
    placements.release(w0, "x", 99, true)
    assert.deepStrictEqual(said.slice(2), [])
  })

  it("ended for good: the waiting copies end, a host elsewhere is cancelled, and the task is forgotten", () => {
    const { placements, proc, said } = setup()
    const [w0, w1, w2] = [proc(0), proc(1), proc(2)]
    placements.hold(w0, "job", 1)
    placements.hold(w1, "job", 2)
    placements.hold(w2, "job", 3)
    placements.release(w0, "job", 1, true)
    assert.deepStrictEqual(said.slice(1).sort(), ["end job#2 to w1", "end job#3 to w2"])
    assert.strictEqual(placements.size(), 0)
    // cancelled on a waiting copy: the host is cancelled too, and a copy added meanwhile waits for it to stop
    placements.hold(w0, "other", 4)
    placements.hold(w1, "other", 5)
    said.length = 0
    placements.release(w1, "other", 5, true)
    assert.deepStrictEqual(said, ["cancel other on w0"])
    placements.hold(w2, "other", 8)
    assert.deepStrictEqual(said, ["cancel other on w0"])
    placements.release(w0, "other", 4, true)
    assert.deepStrictEqual(said.slice(1), ["grant other#8 to w2"])
    placements.release(w2, "other", 8, true)
    assert.strictEqual(placements.size(), 0)
    said.length = 0
    // a copy added afterwards starts afresh
    placements.hold(w2, "job", 6)
    assert.deepStrictEqual(said, ["grant job#6 to w2"])
  })

  it("waits for an eligible worker, and forgets tasks nobody holds", () => {
    const { eligible, placements, proc, said } = setup()
    const w0 = proc(0)
    eligible.delete(w0)
    placements.hold(w0, "later", 1)
    assert.deepStrictEqual(said, [])
    eligible.add(w0)
    placements.rebalance()
    assert.deepStrictEqual(said, ["grant later#1 to w0"])
    placements.gone(w0)
    assert.strictEqual(placements.size(), 0)
  })
})

describe("asking every worker for its tasks", () => {
  // A worker that is serving but never answers: its question times out.
  const silentWorker = (): Map<string, Slot> => {
    const slot = { name: "worker-0", index: 0, state: "serving", removed: false } as unknown as Slot
    const proc = { slot, pid: 1, ackedAt: 0, worker: { isConnected: () => true }, replies: new Replies() }
    ;(slot as { current: unknown }).current = proc
    return new Map([[slot.name, slot]])
  }

  it.effect("for app code, a worker that does not answer fails the listing; the inspector's leaves it out", () =>
    Effect.gen(function* () {
      const questions = Questions.make(silentWorker(), () => {})
      const strict = yield* Effect.fork(Effect.flip(questions.everyTask))
      const lenient = yield* Effect.fork(questions.tasks)
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(strict)
      assert.strictEqual(error.reason, "NoAnswer")
      assert.include(error.message, "Listing the tasks of worker-0 failed")
      assert.deepStrictEqual(yield* Fiber.join(lenient), [])
    })
  )
})
