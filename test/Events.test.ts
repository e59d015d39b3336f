import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  Fiber,
  Logger,
  Option,
  Scope,
  Stream,
  TestClock
} from "effect"
import * as Events from "../src/Events.js"
import * as Registry from "../src/internal/events/registry.js"
import { untilSleeping } from "./utils.js"

type Failure = { readonly event: string; readonly cause: Cause.Cause<unknown> }

const make = (options?: Partial<Registry.RegistryOptions>) =>
  Registry.make({ onHandlerFailure: () => Effect.void, ...options })

/** Yields until `count` waiters are registered; fails rather than spinning forever. */
const untilWaiting = (registry: Registry.Registry, count: number, attempts = 10_000): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (registry.size().waiters >= count) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`expected ${count} waiters, got ${registry.size().waiters}`)
  })

/** Forks a waiter and returns once it is registered, so that a following dispatch reaches it. */
const waitFor = (registry: Registry.Registry, event: string, options?: Events.WaitOptions) =>
  Effect.gen(function* () {
    const before = registry.size().waiters
    const fiber = yield* Effect.fork(registry.event(event, options))
    yield* untilWaiting(registry, before + 1)
    return fiber
  })

/** A handler that records the context it was given. */
const recorder = () => {
  const seen: Array<Events.EventContext> = []
  const handler = (context: Events.EventContext) =>
    Effect.sync(() => {
      seen.push(context)
    })
  return { seen, handler }
}

const isPending = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.map(Effect.zipRight(Effect.yieldNow(), Fiber.poll(fiber)), Option.isNone)

const empty = { names: 0, groups: 0, waiters: 0, handlers: 0 }
const tables = (registry: Registry.Registry) => {
  const { groups, handlers, names, waiters } = registry.size()
  return { names, groups, waiters, handlers }
}

describe("event names", () => {
  const invalid: ReadonlyArray<unknown> = [
    "<foo>.bar.bax",
    "foo.<bar>.baz",
    "foo.bar",
    "foo.bar.baz.qux",
    "",
    "foo..baz",
    "foo.bar.<baz:number>",
    "foo.bar.<baz:ext>",
    "foo.bar.<baz:[>",
    "foo.bar.<1x>",
    "foo.bar.ba z",
    "*.bar.baz",
    42,
    null,
    undefined,
    { toString: () => "foo.bar.baz" }
  ]

  it.scoped("invalid names fail InvalidEventName in signal, dispatch and event, naming the offender", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      for (const name of invalid) {
        const attempts: ReadonlyArray<
          Effect.Effect<
            unknown,
            | Events.InvalidEventName
            | Events.ReservedEventName
            | Events.EventTimeout
            | Events.InvalidEventTimeout
            | Events.UnserializableEventContext
          >
        > = [
          registry.signal(name as string, () => Effect.void),
          registry.dispatch(name as string),
          registry.dispatch(name as string, { inline: true }),
          registry.event(name as string)
        ]
        for (const attempt of attempts) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "InvalidEventName", String(name))
          assert.instanceOf(error, Events.InvalidEventName)
          if (error instanceof Events.InvalidEventName) assert.strictEqual(error.event, name)
          assert.include(error.message, "A valid name is one word")
          if (typeof name === "string") assert.include(error.message, JSON.stringify(name))
        }
      }
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.effect("the reason says what is wrong", () =>
    Effect.sync(() => {
      const reason = (name: unknown) => Either.getLeft(Events.parse(name)).pipe(Option.getOrThrow).message
      assert.include(reason("foo.bar"), "2 parts")
      assert.include(reason("foo.<bar>.baz"), "only the third part may be dynamic")
      assert.include(reason("foo.bar.<baz:number>"), `unknown type "number"`)
      assert.include(reason(7), "must be a string, got number")
      assert.include(reason(""), "empty")
    })
  )

  it.scoped("reserved namespaces take handlers on built-in events only", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      for (const name of ["server.init.somethingelse", "http.request.start", "websocket.foo.bar", "http.request.<x>"]) {
        const error = yield* Effect.flip(registry.signal(name, () => Effect.void))
        assert.strictEqual(error._tag, "ReservedEventName", name)
        assert.include(error.message, `Cannot declare reserved event "${name}"`)
      }
      for (const name of ["foo.bar.baz", "server.init.before", "sanic.notice.anything", "server.init.<phase>"]) {
        yield* registry.signal(name, () => Effect.void)
      }
      for (const name of Events.builtinEvents) yield* registry.signal(name, () => Effect.void)
      assert.strictEqual(registry.size().handlers, 4 + Events.builtinEvents.length)
      // dispatch and event check only the form
      yield* registry.dispatch("server.init.somethingelse")
      const waiter = yield* waitFor(registry, "http.request.start")
      yield* registry.dispatch("http.request.start", { context: { ok: true } })
      assert.deepStrictEqual(yield* Fiber.join(waiter), { ok: true })
    })
  )

  it.scoped("`*` is for waiters only, and only concrete names can be dispatched", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      assert.strictEqual((yield* Effect.flip(registry.signal("foo.bar.*", () => Effect.void)))._tag, "InvalidEventName")
      for (const name of ["foo.bar.*", "foo.bar.<x>", "foo.bar.<x:int>", "<x>", "*"]) {
        const error = yield* Effect.flip(registry.dispatch(name))
        assert.strictEqual(error._tag, "InvalidEventName", name)
        assert.include(error.message, "must be concrete")
      }
    })
  )

  it.effect("parse gives the parts, the kind and the dynamic part, and caches", () =>
    Effect.sync(() => {
      const parsed = Either.getOrThrow(Events.parse("orders.paid.<amount:int>"))
      assert.deepStrictEqual(
        { parts: parsed.parts, kind: parsed.kind, param: parsed.param, type: parsed.type },
        { parts: ["orders", "paid", "<amount:int>"], kind: "dynamic", param: "amount", type: "int" }
      )
      assert.strictEqual(Either.getOrThrow(Events.parse("orders.paid.<id>")).type, "str")
      assert.strictEqual(Either.getOrThrow(Events.parse("orders.paid.*")).kind, "wildcard")
      assert.strictEqual(Either.getOrThrow(Events.parse("ready")).kind, "static")
      assert.strictEqual(Events.parse("my.custom.event"), Events.parse("my.custom.event"))
      assert.isTrue(Either.isLeft(Events.validateSignalName("server.init.nope")))
      assert.isTrue(Either.isRight(Events.validateSignalName("server.init.before")))
    })
  )
})

describe("typed dynamic parts (Sanic's router types)", () => {
  const reasonOf = (name: string) => Either.getLeft(Events.parse(name)).pipe(Option.getOrThrow)

  /** What a handler on `pattern` receives for each of `tails` (`undefined`: not reached). */
  const received = (pattern: string, tails: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const registry = yield* make()
      const param = Either.getOrThrow(Events.parse(pattern)).param!
      let got: unknown
      yield* registry.signal(`typed.part.${pattern}`, (context) =>
        Effect.sync(() => {
          got = context[param]
        })
      )
      const out: Array<unknown> = []
      for (const tail of tails) {
        got = undefined
        yield* registry.dispatch(`typed.part.${tail}`, { inline: true })
        out.push(got)
      }
      return out
    })

  it.scoped("each type matches what sanic-routing's pattern matches, and converts as Sanic does", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* received("<n:int>", ["42", "-7", "4x", "+1"]), [42, -7, undefined, undefined])
      assert.deepStrictEqual(yield* received("<n:float>", ["42", "-7", "1e5", "x"]), [42, -7, undefined, undefined])
      assert.deepStrictEqual(yield* received("<w:alpha>", ["Abc", "ab1", "é", "_"]), [
        "Abc",
        undefined,
        undefined,
        undefined
      ])
      assert.deepStrictEqual(yield* received("<s:slug>", ["my-post-2", "My-post", "a--b", "-a", "a"]), [
        "my-post-2",
        undefined,
        undefined,
        undefined,
        "a"
      ])
      assert.deepStrictEqual(yield* received("<s:str>", ["a/b#c", "7"]), ["a/b#c", "7"])
      assert.deepStrictEqual(yield* received("<s:strorempty>", ["x"]), ["x"])
      const id = "0F8FAD5B-D9CB-469F-A165-70867728950E"
      assert.deepStrictEqual(yield* received("<id:uuid>", [id, id.toLowerCase(), id.replaceAll("-", ""), `${id}0`]), [
        id.toLowerCase(),
        id.toLowerCase(),
        undefined,
        undefined
      ])
    })
  )

  it.scoped("`ymd` gives a Date at UTC midnight of a real day, and refuses days that do not exist", () =>
    Effect.gen(function* () {
      const [leap, notLeap, month13, short, early] = yield* received("<d:ymd>", [
        "2024-02-29",
        "2023-02-29",
        "2024-13-01",
        "2024-2-01",
        "0999-01-01"
      ])
      assert.instanceOf(leap, Date)
      assert.strictEqual((leap as Date).toISOString(), "2024-02-29T00:00:00.000Z")
      assert.deepStrictEqual([notLeap, month13, short, early], [undefined, undefined, undefined, undefined])
    })
  )

  it.scoped("a regex part matches the whole third part; with one group it gives the group's text", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* received("<code:[A-Z]{3}>", ["EUR", "EURO", "eur", "xEUR"]), [
        "EUR",
        undefined,
        undefined,
        undefined
      ])
      assert.deepStrictEqual(yield* received("<n:order-(\\d+)>", ["order-12", "order-", "order-x"]), [
        "12",
        undefined,
        undefined
      ])
      assert.deepStrictEqual(yield* received("<n:(?<n>[a-z]+)-v\\d>", ["abc-v2", "abc-v"]), ["abc", undefined])
      // an alternative that leaves the group empty does not match (Sanic: "Invalid parameter")
      assert.deepStrictEqual(yield* received("<n:(a)?b>", ["ab", "b"]), ["a", undefined])
      const parsed = Either.getOrThrow(Events.parse("a.b.<x:[a-z.]+>"))
      assert.deepStrictEqual([parsed.parts.length, parsed.type, parsed.pattern], [3, "regex", "[a-z.]+"])
    })
  )

  it.scoped("waiters and `events` streams read typed parts as handlers do", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const day = yield* waitFor(registry, "typed.part.<d:ymd>")
      yield* registry.dispatch("typed.part.tomorrow")
      assert.isTrue(yield* isPending(day))
      yield* registry.dispatch("typed.part.2026-01-31", { context: { by: "cron" } })
      const got = yield* Fiber.join(day)
      assert.strictEqual((got.d as Date).getTime(), Date.UTC(2026, 0, 31))
      assert.strictEqual(got.by, "cron")
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.effect("an unknown type, `path`, `ext` or a bad regex is a typed InvalidEventName at registration", () =>
    Effect.gen(function* () {
      const unknown = reasonOf("a.b.<x:number>")
      assert.deepStrictEqual([unknown.reason, unknown.text, unknown.part], ["UnknownParamType", "number", 3])
      assert.include(unknown.message, `"ymd"`)
      for (const type of ["path", "ext", "ext=js|css"]) {
        const error = reasonOf(`a.b.<x:${type}>`)
        assert.strictEqual(error.reason, "UnsupportedParamType", type)
        assert.strictEqual(error.text, type.split("=")[0])
        assert.include(error.message, "dot")
      }
      const bad = reasonOf("a.b.<x:[a-z>")
      assert.deepStrictEqual([bad.reason, bad.text], ["BadRegex", "[a-z"])
      assert.include(bad.message, "/[a-z/ is unusable")
      assert.include(bad.problem, "Invalid regular expression")
      assert.include(reasonOf("a.b.<x:(a)(b)>").message, "2 capturing groups")
      assert.include(reasonOf("a.b.<x:(?<y>a)>").message, `named group "y" must have the name of the part, "x"`)
      assert.strictEqual(reasonOf("a.b.<x:int=3>").reason, "BadDynamicPart")
      assert.strictEqual(reasonOf("a.b.<x:>").reason, "BadDynamicPart")
      const registry = yield* Effect.scoped(make())
      const refused = yield* Effect.flip(registry.signal("a.b.<x:(?P<x>a)>", () => Effect.void))
      assert.strictEqual(refused._tag, "InvalidEventName")
      if (refused._tag === "InvalidEventName") assert.strictEqual(refused.reason, "BadRegex")
    })
  )
})

describe("waiters", () => {
  it.scoped("a waiter resolves on dispatch", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      yield* registry.signal("foo.bar.baz", () => Effect.void)
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      yield* registry.dispatch("foo.bar.baz")
      assert.deepStrictEqual(yield* Fiber.join(waiter), {})
      assert.strictEqual(registry.size().waiters, 0)
    })
  )

  it.scoped("a dispatch wakes only the waiters of its own event (a.b.c vs a.b.spam)", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const baz = yield* waitFor(registry, "foo.bar.baz")
      const spam = yield* waitFor(registry, "foo.bar.spam")
      yield* registry.dispatch("foo.bar.baz")
      yield* Fiber.join(baz)
      assert.isTrue(yield* isPending(spam))
      assert.strictEqual(registry.size().waiters, 1)
      yield* registry.dispatch("foo.bar.spam", { context: { n: 2 } })
      assert.deepStrictEqual(yield* Fiber.join(spam), { n: 2 })
    })
  )

  it.scoped("waits for the next dispatch only: an earlier dispatch is not buffered", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      yield* registry.dispatch("foo.bar.baz", { context: { n: 1 } })
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      assert.isTrue(yield* isPending(waiter))
      yield* registry.dispatch("foo.bar.baz", { context: { n: 2 } })
      assert.deepStrictEqual(yield* Fiber.join(waiter), { n: 2 })
    })
  )

  it.scoped("enum-like constants work as names, for handlers and waiters", () =>
    Effect.gen(function* () {
      const Names = { FooBarBaz: "foo.bar.baz" } as const
      const registry = yield* make()
      const { handler, seen } = recorder()
      yield* registry.signal(Names.FooBarBaz, handler)
      const waiter = yield* waitFor(registry, Names.FooBarBaz)
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 1)
      yield* Fiber.join(waiter)
    })
  )

  it.scoped("many waiters on one event all resolve on one dispatch, with its context", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const waiters = []
      for (let i = 0; i < 5; i++) waiters.push(yield* waitFor(registry, "foo.bar.baz"))
      yield* registry.dispatch("foo.bar.baz", { context: { amount: 9 } })
      for (const waiter of waiters) assert.deepStrictEqual(yield* Fiber.join(waiter), { amount: 9 })
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.scoped("a dynamic part reaches the waiter, `<x:int>` as a number and only for integers", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const something = yield* waitFor(registry, "foo.bar.<something>")
      const number = yield* waitFor(registry, "foo.bar.<baz:int>")
      yield* registry.dispatch("foo.bar.baz", { context: { amount: 1 } })
      assert.deepStrictEqual(yield* Fiber.join(something), { something: "baz", amount: 1 })
      assert.isTrue(yield* isPending(number))
      yield* registry.dispatch("foo.bar.-12")
      assert.deepStrictEqual(yield* Fiber.join(number), { baz: -12 })
    })
  )

  it.scoped("a `*` waiter matches any third part of its group, and nothing else", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const star = yield* waitFor(registry, "foo.bar.*")
      yield* registry.dispatch("foo.baz.9")
      yield* registry.dispatch("foo")
      assert.isTrue(yield* isPending(star))
      yield* registry.dispatch("foo.bar.9", { context: { amount: 9 } })
      assert.deepStrictEqual(yield* Fiber.join(star), { amount: 9 })
    })
  )

  it.scoped("a waiter times out with EventTimeout (TestClock)", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const waiter = yield* Effect.fork(registry.event("foo.bar.baz", { timeout: "5 seconds" }))
      yield* untilSleeping(1)
      yield* TestClock.adjust("4 seconds")
      assert.isTrue(yield* isPending(waiter))
      assert.strictEqual(registry.size().waiters, 1)
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(waiter))
      assert.strictEqual(error._tag, "EventTimeout")
      assert.strictEqual(error.message, `Timed out after 5s waiting for event "foo.bar.baz".`)
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.scoped("a waiter within its timeout gets the dispatch (TestClock)", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const waiter = yield* Effect.fork(registry.event("foo.bar.baz", { timeout: "5 seconds" }))
      yield* untilSleeping(1)
      yield* TestClock.adjust("4 seconds")
      yield* registry.dispatch("foo.bar.baz", { context: { late: false } })
      assert.deepStrictEqual(yield* Fiber.join(waiter), { late: false })
    })
  )

  it.scoped("a waiter needs no registration, and is not stranded by handlers registered after it", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.baz", handler)
      yield* registry.signal("foo.bar.<x>", handler)
      yield* registry.signal("some.stand.in", handler)
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      yield* Fiber.join(waiter)
      assert.deepStrictEqual(seen, [{}, { x: "baz" }])
    })
  )

  it.scoped("100,000 waiters started and interrupted leave no trace", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const names = ["a.b.c", "a.b.<x:int>", "a.b.*", "single", "x.y.<z>"]
      const fibers: Array<Fiber.RuntimeFiber<Events.EventContext, unknown>> = []
      for (let i = 0; i < 100_000; i++) {
        const condition = i % 3 === 0 ? { shard: String(i % 7) } : undefined
        const exclusive = i % 2 === 0
        fibers.push(yield* Effect.fork(registry.event(names[i % names.length], { condition, exclusive })))
      }
      yield* untilWaiting(registry, 100_000, 1_000_000)
      assert.deepStrictEqual(tables(registry), { names: 2, groups: 2, waiters: 100_000, handlers: 0 })
      yield* Fiber.interruptAll(fibers)
      assert.deepStrictEqual(tables(registry), empty)
      // and the registry still works
      const waiter = yield* waitFor(registry, "a.b.c")
      yield* registry.dispatch("a.b.c")
      yield* Fiber.join(waiter)
      assert.deepStrictEqual(tables(registry), empty)
    })
  )
})

describe("handlers", () => {
  it.scoped("every matching handler runs: a handler's result never stops the others", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const ran: Array<string> = []
      yield* registry.signal("foo.bar.baz", () => Effect.sync(() => ran.push("first")).pipe(Effect.as(true)))
      yield* registry.signal("foo.bar.baz", () => Effect.sync(() => ran.push("second")).pipe(Effect.as("truthy")))
      yield* registry.signal("foo.bar.<any>", () => Effect.sync(() => ran.push("pattern")))
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.deepStrictEqual(ran, ["first", "second", "pattern"])
    })
  )

  it.scoped("handlers run by priority, higher first, then in registration order, patterns included", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const ran: Array<string> = []
      const handler = (label: string) => () => Effect.sync(() => ran.push(label))
      yield* registry.signal("foo.bar.baz", handler("a:0"))
      yield* registry.signal("foo.bar.baz", handler("b:10"), { priority: 10 })
      yield* registry.signal("foo.bar.<x>", handler("p:5"), { priority: 5 })
      yield* registry.signal("foo.bar.baz", handler("c:5"), { priority: 5 })
      yield* registry.signal("foo.bar.baz", handler("d:10"), { priority: 10 })
      yield* registry.signal("foo.bar.<x>", handler("q:-1"), { priority: -1 })
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.deepStrictEqual(ran, ["b:10", "d:10", "p:5", "c:5", "a:0", "q:-1"])
      ran.length = 0
      const done = yield* Deferred.make<void>()
      yield* registry.signal("foo.bar.baz", () => Deferred.succeed(done, undefined), { priority: -10 })
      yield* registry.dispatch("foo.bar.baz")
      yield* Deferred.await(done)
      assert.deepStrictEqual(ran, ["b:10", "d:10", "p:5", "c:5", "a:0", "q:-1"])
    })
  )

  it.scoped("the context and the dynamic parts reach the handler; `<x:int>` gives a number", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const number = recorder()
      const text = recorder()
      yield* registry.signal("foo.bar.<baz:int>", number.handler)
      yield* registry.signal("foo.bar.<baz>", text.handler)
      yield* registry.dispatch("foo.bar.9", { inline: true, context: { amount: 9 } })
      yield* registry.dispatch("foo.bar.nine", { inline: true })
      assert.deepStrictEqual(number.seen, [{ baz: 9, amount: 9 }])
      assert.strictEqual(typeof number.seen[0].baz, "number")
      assert.deepStrictEqual(text.seen, [{ baz: "9", amount: 9 }, { baz: "nine" }])
    })
  )

  it.scoped("a context key named like a dynamic part wins over it, as in Sanic", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.<id>", handler)
      yield* registry.dispatch("foo.bar.7", { inline: true, context: { id: "from context" } })
      assert.deepStrictEqual(seen, [{ id: "from context" }])
    })
  )

  it.scoped("the handler gets a copy of the context taken at dispatch time", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const got = yield* Deferred.make<Events.EventContext>()
      yield* registry.signal("foo.bar.baz", (context) => Deferred.succeed(got, context))
      const context = { n: 1 }
      yield* registry.dispatch("foo.bar.baz", { context })
      context.n = 2
      assert.deepStrictEqual(yield* Deferred.await(got), { n: 1 })
    })
  )

  it.scoped("single-word events, static and dynamic", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const word = recorder()
      const number = recorder()
      yield* registry.signal("foo", word.handler)
      yield* registry.signal("<foo:int>", number.handler)
      const any = yield* waitFor(registry, "*")
      yield* registry.dispatch("foo", { inline: true })
      yield* registry.dispatch("9", { inline: true })
      assert.deepStrictEqual(word.seen, [{}])
      assert.deepStrictEqual(number.seen, [{ foo: 9 }])
      assert.deepStrictEqual(yield* Fiber.join(any), {})
    })
  )

  it.scoped("a non-inline dispatch returns without waiting for its handlers", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const finished = yield* Deferred.make<void>()
      yield* registry.signal("foo.bar.baz", () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Deferred.await(gate)),
          Effect.zipRight(Deferred.succeed(finished, undefined))
        )
      )
      // would never return if it waited for the handler, which waits for the gate opened below
      yield* registry.dispatch("foo.bar.baz")
      yield* Deferred.await(started)
      assert.isFalse(yield* Deferred.isDone(finished))
      yield* Deferred.succeed(gate, undefined)
      yield* Deferred.await(finished)
    })
  )

  it.scoped("an inline dispatch returns only once every handler has finished", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      let finished = 0
      yield* registry.signal("foo.bar.baz", () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Deferred.await(gate)),
          Effect.zipRight(Effect.sync(() => finished++))
        )
      )
      yield* registry.signal("foo.bar.baz", () => Effect.sync(() => finished++))
      const dispatch = yield* Effect.fork(registry.dispatch("foo.bar.baz", { inline: true }))
      yield* Deferred.await(started)
      assert.isTrue(yield* isPending(dispatch))
      assert.strictEqual(finished, 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(dispatch)
      assert.strictEqual(finished, 2)
    })
  )

  it.scoped("a suspended handler does not hold up the handlers of later dispatches", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const gate = yield* Deferred.make<void>()
      const second = yield* Deferred.make<void>()
      const first = yield* Deferred.make<void>()
      yield* registry.signal("foo.bar.baz", (context) =>
        context.n === 1
          ? Effect.zipRight(Deferred.await(gate), Deferred.succeed(first, undefined))
          : Deferred.succeed(second, undefined)
      )
      yield* registry.dispatch("foo.bar.baz", { context: { n: 1 } })
      yield* registry.dispatch("foo.bar.baz", { context: { n: 2 } })
      // the second handler finishes while the first still waits for the gate
      yield* Deferred.await(second)
      assert.isFalse(yield* Deferred.isDone(first))
      yield* Deferred.succeed(gate, undefined)
      yield* Deferred.await(first)
    })
  )

  it.scoped("a burst of non-inline dispatches runs every handler exactly once", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const count = 20_000
      const seen = new Array<number>(count).fill(0)
      let total = 0
      const done = yield* Deferred.make<void>()
      yield* registry.signal("foo.bar.baz", (context) =>
        Effect.sync(() => {
          seen[context.i as number]++
          if (++total === count) Deferred.unsafeDone(done, Exit.void)
        })
      )
      for (let i = 0; i < count; i++) yield* registry.dispatch("foo.bar.baz", { context: { i } })
      yield* Deferred.await(done)
      assert.isTrue(seen.every((n) => n === 1))
      assert.strictEqual(registry.size().queued, 0)
    })
  )

  it.scoped("handlers run with the services captured where `signal` was called", () =>
    Effect.gen(function* () {
      class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
      const registry = yield* make()
      const seen: Array<string> = []
      const done = yield* Deferred.make<void>()
      const greet = (event: string) => () =>
        Effect.flatMap(Greeting, (greeting) =>
          Effect.sync(() => {
            seen.push(`${event}:${greeting}`)
            if (seen.length === 7) Deferred.unsafeDone(done, Exit.void)
          })
        )
      yield* registry.signal("a.b.one", greet("one")).pipe(Effect.provideService(Greeting, "first"))
      yield* registry.signal("a.b.two", greet("two")).pipe(Effect.provideService(Greeting, "second"))
      // inline, from a caller with a different value: the handler sees its own, the caller keeps its own
      const callerSees = yield* registry
        .dispatch("a.b.one", { inline: true })
        .pipe(Effect.zipRight(Greeting), Effect.provideService(Greeting, "caller"))
      assert.strictEqual(callerSees, "caller")
      assert.deepStrictEqual(seen, ["one:first"])
      // in the background, alternating, from a caller without the service at all
      for (let i = 0; i < 3; i++) {
        yield* registry.dispatch("a.b.one")
        yield* registry.dispatch("a.b.two")
      }
      yield* Deferred.await(done)
      assert.deepStrictEqual(seen.slice(1).sort(), [
        "one:first",
        "one:first",
        "one:first",
        "two:second",
        "two:second",
        "two:second"
      ])
    })
  )

  it.scoped("a handler removed after a dispatch but before its runner starts does not run", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      const done = yield* Deferred.make<void>()
      const remove = yield* registry.signal("foo.bar.baz", handler, { priority: 1 })
      yield* registry.signal("foo.bar.baz", () => Deferred.succeed(done, undefined))
      yield* Effect.zipRight(registry.dispatch("foo.bar.baz"), remove)
      yield* Deferred.await(done)
      assert.deepStrictEqual(seen, [])
    })
  )

  it.scoped("the remover unregisters the handler, once", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      const remove = yield* registry.signal("foo.bar.baz", handler)
      const removePattern = yield* registry.signal("foo.bar.<x>", handler)
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 2)
      yield* remove
      yield* remove
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 3)
      yield* removePattern
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 3)
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.scoped("dispatch never fails for an event nobody listens to", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      yield* registry.dispatch("does.not.exist")
      yield* registry.dispatch("does.not.exist", { inline: true, context: { a: 1 }, condition: { b: "c" } })
      yield* registry.dispatchLocal("does.not.exist")
      assert.deepStrictEqual(tables(registry), empty)
    })
  )

  it.scoped("a dispatch effect is a description: each run dispatches again, to whoever listens then", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const options = { inline: true }
      const dispatch = registry.dispatch("foo.bar.baz", options)
      const plain = registry.dispatch("foo.bar.baz")
      yield* dispatch
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.baz", handler)
      yield* dispatch
      yield* registry.dispatch("foo.bar.baz", options)
      assert.strictEqual(seen.length, 2)
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      yield* plain
      yield* Fiber.join(waiter)
    })
  )

  it.scoped("hasListeners tells whether a dispatch could reach anyone", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      assert.isFalse(registry.hasListeners("foo.bar.baz"))
      const remove = yield* registry.signal("foo.bar.<n:int>", () => Effect.void)
      assert.isTrue(registry.hasListeners("foo.bar.1"))
      assert.isFalse(registry.hasListeners("foo.bar.baz"))
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      assert.isTrue(registry.hasListeners("foo.bar.baz"))
      yield* Fiber.interrupt(waiter)
      yield* remove
      assert.isFalse(registry.hasListeners("foo.bar.1"))
      assert.isFalse(registry.hasListeners("not valid"))
      assert.isFalse(registry.hasListeners(5 as unknown as string))
    })
  )
})

describe("conditions", () => {
  it.scoped("a conditioned handler runs only for a dispatch with that condition", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.baz", handler, { condition: { one: "two" } })
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "three" } })
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "two", extra: "x" } })
      assert.strictEqual(seen.length, 0)
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "two" } })
      assert.strictEqual(seen.length, 1)
    })
  )

  it.scoped("exclusive: false also runs for dispatches without a condition", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.baz", handler, { condition: { one: "two" }, exclusive: false })
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 1)
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "two" } })
      assert.strictEqual(seen.length, 2)
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "other" } })
      assert.strictEqual(seen.length, 2)
    })
  )

  it.scoped("an unconditioned handler or waiter is not reached by a conditioned dispatch (Sanic's rule)", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const { handler, seen } = recorder()
      yield* registry.signal("foo.bar.baz", handler)
      yield* registry.signal("foo.bar.<x>", handler)
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "two" } })
      assert.strictEqual(seen.length, 0)
      assert.isTrue(yield* isPending(waiter))
      // an empty condition counts as none
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: {} })
      assert.strictEqual(seen.length, 2)
      yield* Fiber.join(waiter)
    })
  )

  it.scoped("the same holds beside conditioned handlers and waiters of the same names", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const plain = recorder()
      const conditioned = recorder()
      yield* registry.signal("foo.bar.baz", plain.handler)
      yield* registry.signal("foo.bar.<x>", plain.handler)
      yield* registry.signal("foo.bar.baz", conditioned.handler, { condition: { one: "two" } })
      yield* registry.signal("foo.bar.<x>", conditioned.handler, { condition: { one: "two" } })
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      const patternWaiter = yield* waitFor(registry, "foo.bar.<x>")
      const conditionedWaiter = yield* waitFor(registry, "foo.bar.baz", { condition: { one: "two" } })
      yield* registry.dispatch("foo.bar.baz", { inline: true, condition: { one: "two" } })
      assert.strictEqual(plain.seen.length, 0)
      assert.deepStrictEqual(conditioned.seen, [{}, { x: "baz" }])
      yield* Fiber.join(conditionedWaiter)
      assert.isTrue(yield* isPending(waiter))
      assert.isTrue(yield* isPending(patternWaiter))
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.deepStrictEqual(plain.seen, [{}, { x: "baz" }])
      assert.strictEqual(conditioned.seen.length, 2)
      yield* Fiber.join(waiter)
      yield* Fiber.join(patternWaiter)
    })
  )

  it.scoped("a conditioned waiter wakes only for its condition", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      yield* registry.signal("foo.bar.baz", () => Effect.void)
      const waiter = yield* waitFor(registry, "foo.bar.baz", { condition: { one: "two" } })
      const pattern = yield* waitFor(registry, "foo.bar.<x>", { condition: { one: "two" } })
      yield* registry.dispatch("foo.bar.baz")
      yield* registry.dispatch("foo.bar.baz", { condition: { one: "nope" } })
      assert.isTrue(yield* isPending(waiter))
      assert.isTrue(yield* isPending(pattern))
      yield* registry.dispatch("foo.bar.baz", { condition: { one: "two" }, context: { n: 1 } })
      assert.deepStrictEqual(yield* Fiber.join(waiter), { n: 1 })
      assert.deepStrictEqual(yield* Fiber.join(pattern), { x: "baz", n: 1 })
    })
  )

  it.scoped("a conditioned waiter with exclusive: false also wakes for an unconditioned dispatch", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const first = yield* waitFor(registry, "foo.bar.baz", { condition: { one: "two" }, exclusive: false })
      const strict = yield* waitFor(registry, "foo.bar.baz", { condition: { one: "two" } })
      yield* registry.dispatch("foo.bar.baz")
      yield* Fiber.join(first)
      assert.isTrue(yield* isPending(strict))
      const second = yield* waitFor(registry, "foo.bar.baz", { condition: { one: "two" }, exclusive: false })
      yield* registry.dispatch("foo.bar.baz", { condition: { one: "two" } })
      yield* Fiber.join(second)
      yield* Fiber.join(strict)
    })
  )
})

describe("handler failures", () => {
  it.scoped("each failing handler is reported once; the others still run and the dispatch succeeds", () =>
    Effect.gen(function* () {
      const failures: Array<Failure> = []
      const registry = yield* make({
        onHandlerFailure: (event, cause) => Effect.sync(() => failures.push({ event, cause }))
      })
      const ran: Array<string> = []
      yield* registry.signal("foo.bar.baz", () => Effect.fail("boom"), { priority: 3 })
      yield* registry.signal("foo.bar.<x>", () => Effect.die(new Error("defect")), { priority: 2 })
      yield* registry.signal(
        "foo.bar.baz",
        (): Effect.Effect<void> => {
          throw new Error("thrown")
        },
        { priority: 1 }
      )
      yield* registry.signal("foo.bar.baz", () => Effect.interrupt)
      yield* registry.signal("foo.bar.baz", () => Effect.sync(() => ran.push("ok")), { priority: -1 })
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.deepStrictEqual(ran, ["ok"])
      assert.deepStrictEqual(
        failures.map((failure) => failure.event),
        ["foo.bar.baz", "foo.bar.<x>", "foo.bar.baz"]
      )
      assert.deepStrictEqual(Cause.failureOption(failures[0].cause), Option.some("boom"))
      assert.strictEqual((Option.getOrThrow(Cause.dieOption(failures[1].cause)) as Error).message, "defect")
      assert.strictEqual((Option.getOrThrow(Cause.dieOption(failures[2].cause)) as Error).message, "thrown")
      // the same in the background
      failures.length = 0
      const done = yield* Deferred.make<void>()
      yield* registry.signal("foo.bar.baz", () => Deferred.succeed(done, undefined), { priority: -2 })
      yield* registry.dispatch("foo.bar.baz")
      yield* Deferred.await(done)
      assert.deepStrictEqual(ran, ["ok", "ok"])
      assert.strictEqual(failures.length, 3)
    })
  )

  it.scoped("a failure while reporting a failure is not reported again (inline report)", () =>
    Effect.gen(function* () {
      const failures: Array<Failure> = []
      let reportHandlerRuns = 0
      // reports like an app does; the bound only keeps a broken guard from recursing forever
      const registry: Registry.Registry = yield* make({
        onHandlerFailure: (event, cause) =>
          Effect.suspend(() =>
            failures.push({ event, cause }) > 5
              ? Effect.void
              : Effect.orDie(registry.dispatch("app.exception.report", { inline: true, context: { event, cause } }))
          )
      })
      yield* registry.signal("app.exception.report", () =>
        Effect.zipRight(
          Effect.sync(() => reportHandlerRuns++),
          Effect.fail("the reporter fails too")
        )
      )
      yield* registry.signal("foo.bar.baz", () => Effect.fail("boom"))
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(reportHandlerRuns, 1)
      assert.deepStrictEqual(
        failures.map((failure) => failure.event),
        ["foo.bar.baz"]
      )
      // the reporter failing on its own is reported like any handler
      yield* registry.dispatch("app.exception.report", { inline: true })
      assert.strictEqual(reportHandlerRuns, 3)
      assert.deepStrictEqual(
        failures.map((failure) => failure.event),
        ["foo.bar.baz", "app.exception.report"]
      )
    })
  )

  it.scoped("a failure while reporting a failure is logged, not reported (background report)", () =>
    Effect.gen(function* () {
      const logged = yield* Deferred.make<string>()
      const logger = Logger.make(({ message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        if (text.includes("not reported again")) Deferred.unsafeDone(logged, Exit.succeed(text))
      })
      const failures: Array<string> = []
      const registry: Registry.Registry = yield* make({
        onHandlerFailure: (event) =>
          Effect.suspend(() =>
            failures.push(event) > 5 ? Effect.void : Effect.orDie(registry.dispatch("app.exception.report"))
          )
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* registry.signal("app.exception.report", () => Effect.fail("the reporter fails too"))
      yield* registry.signal("foo.bar.baz", () => Effect.fail("boom"))
      yield* registry.dispatch("foo.bar.baz")
      assert.include(yield* Deferred.await(logged), `"app.exception.report"`)
      assert.deepStrictEqual(failures, ["foo.bar.baz"])
    })
  )
})

describe("registry", () => {
  it.effect("closing its scope interrupts the waiters; afterwards dispatch does nothing", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const registry = yield* Scope.extend(make(), scope)
      const waiter = yield* waitFor(registry, "foo.bar.baz")
      const { handler, seen } = recorder()
      yield* Scope.extend(registry.signal("foo.bar.baz", handler), scope)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(waiter)))
      yield* registry.dispatch("foo.bar.baz", { inline: true })
      assert.strictEqual(seen.length, 0)
      assert.isTrue(Exit.isInterrupted(yield* Effect.exit(registry.event("foo.bar.baz"))))
    })
  )

  it.scoped("scope: all goes through the transport; dispatchLocal and local dispatches do not", () =>
    Effect.gen(function* () {
      const remote = yield* make()
      const published: Array<string> = []
      const local = yield* make({
        transport: {
          publish: (event, options) =>
            Effect.zipRight(
              Effect.sync(() => published.push(event)),
              Effect.orDie(remote.dispatchLocal(event, options))
            )
        }
      })
      const here = recorder()
      const there = recorder()
      yield* local.signal("orders.paid.<id:int>", here.handler)
      yield* remote.signal("orders.paid.<id:int>", there.handler)
      yield* local.dispatch("orders.paid.7", { scope: "all", inline: true, context: { amount: 3 } })
      assert.deepStrictEqual(published, ["orders.paid.7"])
      assert.deepStrictEqual(here.seen, [{ id: 7, amount: 3 }])
      assert.deepStrictEqual(there.seen, [{ id: 7, amount: 3 }])
      yield* local.dispatch("orders.paid.8", { inline: true })
      yield* local.dispatchLocal("orders.paid.9", { scope: "all", inline: true })
      assert.deepStrictEqual(published, ["orders.paid.7"])
      assert.strictEqual(here.seen.length, 3)
      assert.strictEqual(there.seen.length, 1)
      // without a transport, "all" is local
      yield* remote.dispatch("orders.paid.10", { scope: "all", inline: true })
      assert.strictEqual(there.seen.length, 2)
    })
  )
})

describe("names from JS callers", () => {
  it.scoped("dispatch(undefined) as the first call fails with InvalidEventName, not a defect", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      for (const name of [undefined, undefined, null]) {
        const error = yield* Effect.flip(registry.dispatch(name as unknown as string))
        assert.strictEqual(error._tag, "InvalidEventName")
      }
    })
  )
})

describe("events: a stream of every dispatch", () => {
  it.scoped("three back-to-back dispatches reach the reader, in order; a loop of event would see one", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const reader = yield* Effect.fork(Stream.runCollect(Stream.take(registry.events("my.custom.event"), 3)))
      yield* untilWaiting(registry, 1)
      for (const n of [1, 2, 3]) yield* registry.dispatch("my.custom.event", { context: { n } })
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(
        seen.map((context) => context.n),
        [1, 2, 3]
      )
      // the stream ended: its subscription is gone
      yield* Effect.yieldNow()
      assert.strictEqual(registry.size().waiters, 0)
      assert.isFalse(registry.hasListeners("my.custom.event"))
    })
  )

  it.scoped("dynamic parts and conditions reach a subscription as they reach a waiter", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const reader = yield* Effect.fork(
        Stream.runCollect(Stream.take(registry.events("orders.paid.<amount:int>", { condition: { shop: "a" } }), 2))
      )
      yield* untilWaiting(registry, 1)
      yield* registry.dispatch("orders.paid.5", { condition: { shop: "b" } })
      yield* registry.dispatch("orders.paid.7", { condition: { shop: "a" } })
      yield* registry.dispatch("orders.paid.x", { condition: { shop: "a" } })
      yield* registry.dispatch("orders.paid.9", { condition: { shop: "a" }, context: { by: "card" } })
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(seen, [{ amount: 7 }, { by: "card", amount: 9 }])
    })
  )

  // The reader takes the first dispatch, then stops reading until the gate opens: the next five fill the buffer.
  const overflow = (strategy: "dropping" | "sliding") =>
    Effect.gen(function* () {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const registry = yield* make()
      const taken = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const stream = registry.events("feed.item.added", { bufferSize: 2, strategy }).pipe(
        Stream.mapEffect((context) =>
          Effect.as(Effect.zipRight(Deferred.succeed(taken, undefined), Deferred.await(gate)), context)
        ),
        Stream.take(3)
      )
      const reader = yield* Effect.fork(Stream.runCollect(stream)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* untilWaiting(registry, 1)
      yield* registry.dispatch("feed.item.added", { context: { n: 0 } })
      yield* Deferred.await(taken)
      for (const n of [1, 2, 3, 4, 5]) yield* registry.dispatch("feed.item.added", { context: { n } })
      yield* Deferred.succeed(gate, undefined)
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(reader)).map((context) => context.n)
      return { seen, warnings }
    })

  it.scoped("a full buffer drops the newest dispatches and says so once", () =>
    Effect.gen(function* () {
      const { seen, warnings } = yield* overflow("dropping")
      assert.deepStrictEqual(seen, [0, 1, 2])
      assert.deepStrictEqual(warnings, [
        `The events of "feed.item.added" come faster than they are read: more than 2 waiting, the newest are dropped`
      ])
    })
  )

  it.scoped("with strategy sliding, a full buffer drops the oldest", () =>
    Effect.gen(function* () {
      const { seen, warnings } = yield* overflow("sliding")
      assert.deepStrictEqual(seen, [0, 4, 5])
      assert.strictEqual(warnings.length, 1)
    })
  )

  it.effect("the stream ends when the registry's scope closes, after what was buffered is read", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const registry = yield* Scope.extend(make(), scope)
      const gate = yield* Deferred.make<void>()
      const reader = yield* Effect.fork(
        Stream.runCount(Stream.mapEffect(registry.events("ready"), () => Deferred.await(gate)))
      )
      yield* untilWaiting(registry, 1)
      for (let i = 0; i < 3; i++) yield* registry.dispatch("ready")
      yield* Scope.close(scope, Exit.void)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(reader), 3)
      assert.strictEqual(registry.size().waiters, 0)
    })
  )

  it.scoped("bad names and options fail the stream with typed errors", () =>
    Effect.gen(function* () {
      const registry = yield* make()
      const name = yield* Effect.flip(Stream.runDrain(registry.events("not..valid")))
      assert.strictEqual(name._tag, "InvalidEventName")
      const size = yield* Effect.flip(Stream.runDrain(registry.events("ready", { bufferSize: 0 })))
      assert.instanceOf(size, Events.InvalidEventsOptions)
      assert.strictEqual(
        size.message,
        `Invalid option "bufferSize" for the events of "ready": expected a whole number, 1 or more, got 0.`
      )
      const strategy = yield* Effect.flip(
        Stream.runDrain(registry.events("ready", { strategy: "suspend" as "sliding" }))
      )
      assert.strictEqual(strategy._tag === "InvalidEventsOptions" && strategy.reason, "strategy")
    })
  )
})
