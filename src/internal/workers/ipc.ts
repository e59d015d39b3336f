import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

/**
 * Questions sent over a process's IPC channel and the answers awaited for them, matched by id: the primary asks its
 * workers (task lists, cancels), a worker asks the primary (has it seen my listener close?). An answer that does not
 * come in time fails the question; a channel that goes away fails every question still open.
 */
export class Replies<A, E> {
  private next = 0
  private readonly pending = new Map<number, Deferred.Deferred<A, E>>()

  /** Sends the question with a fresh id, then waits for its answer at most `timeout`. */
  ask(send: (id: number) => void, timeout: Duration.DurationInput, onTimeout: () => E): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      const id = this.next++
      const answer = Deferred.unsafeMake<A, E>(FiberId.none)
      this.pending.set(id, answer)
      send(id)
      return Deferred.await(answer).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout }),
        Effect.ensuring(Effect.sync(() => this.pending.delete(id)))
      )
    })
  }

  /** Settles the question `id` with its answer; an unknown id (answered late, after the timeout) is dropped. */
  answer(id: number, value: A): void {
    const pending = this.pending.get(id)
    if (pending === undefined) return
    this.pending.delete(id)
    Deferred.unsafeDone(pending, Exit.succeed(value))
  }

  /** Fails every open question, for a channel that is gone. */
  failAll(error: E): void {
    for (const pending of this.pending.values()) Deferred.unsafeDone(pending, Exit.fail(error))
    this.pending.clear()
  }
}
