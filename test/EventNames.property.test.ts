import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as Events from "../src/Events.js"
import * as Registry from "../src/internal/events/registry.js"

// An oracle for the grammar, written as one regular expression rather than the parser's steps.
const word = String.raw`[^\s\p{Cc}.<>*]+`
const last = String.raw`(?:${word}|\*|<[A-Za-z_][A-Za-z0-9_]*(?::(?:int|str))?>)`
const grammar = new RegExp(`^(?:${last}|${word}\\.${word}\\.${last})$`, "u")

const nameLike = fc.string({
  unit: fc.constantFrom(".", "<", ">", ":", "*", " ", "\t", "int", "str", "a", "B", "_", "1", "-", "é", "\u0000"),
  maxLength: 12
})

const anyString = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
  nameLike
)

const wordChar = fc.constantFrom("a", "z", "A", "Q", "0", "9", "_", "-", ":", "é", "ß", "😀", "/", "#")
const staticPart = fc.string({ unit: wordChar, minLength: 1, maxLength: 8 })
const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/)

type Last =
  | { readonly kind: "static"; readonly text: string }
  | { readonly kind: "dynamic"; readonly param: string; readonly type: "str" | "int"; readonly text: string }
  | { readonly kind: "wildcard"; readonly text: string }

const lastPart: fc.Arbitrary<Last> = fc.oneof(
  staticPart.map((text) => ({ kind: "static", text }) as const),
  fc
    .tuple(identifier, fc.constantFrom("", ":str", ":int"))
    .map(
      ([param, suffix]) =>
        ({ kind: "dynamic", param, type: suffix === ":int" ? "int" : "str", text: `<${param}${suffix}>` }) as const
    ),
  fc.constant({ kind: "wildcard", text: "*" } as const)
)

const validName = fc.oneof(
  lastPart.map((tail) => ({ parts: [tail.text], tail })),
  fc.tuple(staticPart, staticPart, lastPart).map(([a, b, tail]) => ({ parts: [a, b, tail.text], tail }))
)

describe("event names (property)", () => {
  it("any string parses, or is refused with InvalidEventName, exactly as the grammar says; never throws", () => {
    fc.assert(
      fc.property(anyString, (name) => {
        const result = Events.parse(name)
        assert.strictEqual(Either.isRight(result), grammar.test(name), JSON.stringify(name))
        if (Either.isRight(result)) {
          assert.strictEqual(result.right.parts.join("."), name)
          assert.include([1, 3], result.right.parts.length)
        } else {
          assert.strictEqual(result.left._tag, "InvalidEventName")
          assert.strictEqual(result.left.event, name)
          assert.isString(result.left.message)
          assert.isAbove(result.left.reason.length, 0)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("any value that is not a string is refused with InvalidEventName, with a readable message", () => {
    fc.assert(
      fc.property(
        fc.anything().filter((value) => typeof value !== "string"),
        (value) => {
          const result = Events.parse(value)
          assert.isTrue(Either.isLeft(result))
          if (Either.isLeft(result)) {
            assert.isTrue(Object.is(result.left.event, value), "the error carries the offending value")
            assert.include(result.left.message, "must be a string")
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  it("generated valid names parse, and give back their parts, kind and dynamic part", () => {
    fc.assert(
      fc.property(validName, ({ parts, tail }) => {
        const name = parts.join(".")
        const parsed = Either.getOrThrow(Events.parse(name))
        assert.deepStrictEqual(parsed.parts, parts)
        assert.strictEqual(parsed.name, name)
        assert.strictEqual(parsed.kind, tail.kind)
        assert.strictEqual(parsed.param, tail.kind === "dynamic" ? tail.param : undefined)
        assert.strictEqual(parsed.type, tail.kind === "dynamic" ? tail.type : undefined)
      }),
      { numRuns: 2000 }
    )
  })

  it("a dispatch reaches a handler exactly when its name matches the handler's", async () => {
    const small = fc.constantFrom("a", "b")
    const tail = fc.oneof(small, fc.constantFrom("7", "-3", "x1"))
    const concrete = fc.oneof(
      tail.map((t) => [t]),
      fc.tuple(small, small, tail)
    )
    const pattern = fc.oneof(
      concrete,
      fc.constantFrom("<p>", "<p:int>").map((t) => [t]),
      fc.tuple(small, small, fc.constantFrom("<p>", "<p:int>"))
    )
    const reaches = (handler: ReadonlyArray<string>, dispatched: ReadonlyArray<string>): boolean => {
      if (handler.length !== dispatched.length) return false
      const n = handler.length - 1
      for (let i = 0; i < n; i++) if (handler[i] !== dispatched[i]) return false
      const own = handler[n]
      if (own === "<p>") return true
      if (own === "<p:int>") return /^-?\d+$/.test(dispatched[n])
      return own === dispatched[n]
    }
    await fc.assert(
      fc.asyncProperty(fc.array(pattern, { minLength: 1, maxLength: 6 }), concrete, async (handlers, dispatched) => {
        const ran = await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const registry = yield* Registry.make({ onHandlerFailure: () => Effect.void })
              const ran = new Set<number>()
              for (const [index, handler] of handlers.entries()) {
                yield* registry.signal(handler.join("."), () => Effect.sync(() => ran.add(index)))
              }
              yield* registry.dispatch(dispatched.join("."), { inline: true })
              return ran
            })
          )
        )
        handlers.forEach((handler, index) => {
          assert.strictEqual(
            ran.has(index),
            reaches(handler, dispatched),
            `${handler.join(".")} / ${dispatched.join(".")}`
          )
        })
      }),
      { numRuns: 500 }
    )
  })
})
