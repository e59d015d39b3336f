import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as Events from "../src/Events.js"
import * as Registry from "../src/internal/events/registry.js"

// An oracle for the grammar: the first two parts as one regular expression; the last part by the rules of the docs
// (a type spec of letters names a known type; anything else is a regular expression that compiles with the `u` flag,
// has one capturing group at most, and names it after the part if it names it).
const word = String.raw`[^\s\p{Cc}.<>*]+`
const wordOnly = new RegExp(`^${word}$`, "u")
const typeNames: ReadonlyArray<string> = ["str", "strorempty", "int", "float", "alpha", "slug", "uuid", "ymd"]

const validRegex = (param: string, source: string): boolean => {
  let groups: RegExpExecArray
  try {
    groups = new RegExp(`${source}|`, "u").exec("")!
    new RegExp(source, "u")
  } catch {
    return false
  }
  const names = Object.keys(groups.groups ?? {})
  return groups.length <= 2 && names.every((name) => name === param)
}

const validLast = (tail: string): boolean => {
  if (tail === "*") return true
  if (!tail.startsWith("<")) return wordOnly.test(tail)
  // A dynamic part ends at the first ">" that a dot follows: one with ">." in it is more than one part.
  if (tail.includes(">.")) return false
  const match = /^<([A-Za-z_][A-Za-z0-9_]*)(?::([\s\S]+))?>$/.exec(tail)
  if (match === null) return false
  const spec = match[2]
  if (spec === undefined) return true
  if (/^[A-Za-z]+(?:=|$)/.test(spec)) return typeNames.includes(spec)
  return validRegex(match[1], spec)
}

const grammar = {
  test: (name: string): boolean => {
    if (validLast(name)) return true
    const three = new RegExp(`^(${word})\\.(${word})\\.([\\s\\S]*)$`, "u").exec(name)
    return three !== null && validLast(three[3])
  }
}

const nameLike = fc.string({
  unit: fc.constantFrom(
    ".",
    "<",
    ">",
    ":",
    "*",
    " ",
    "\t",
    "int",
    "str",
    "ymd",
    "uuid",
    "float",
    "ext",
    "path",
    "number",
    "=",
    "[",
    "]",
    "(",
    ")",
    "?<a>",
    "+",
    "\\d",
    "a",
    "B",
    "_",
    "1",
    "-",
    "é",
    "\u0000"
  ),
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

type ParamType = NonNullable<Events.EventName["type"]>

type Last =
  | { readonly kind: "static"; readonly text: string }
  | {
      readonly kind: "dynamic"
      readonly param: string
      readonly type: ParamType
      readonly pattern: string | undefined
      readonly text: string
    }
  | { readonly kind: "wildcard"; readonly text: string }

const regexSamples = ["[a-z]+", "\\d{2}", "(ab|cd)", "a.c", "x(\\d+)", "[.]", "(?:a|b)>c"]

const lastPart: fc.Arbitrary<Last> = fc.oneof(
  staticPart.map((text) => ({ kind: "static", text }) as const),
  fc.tuple(identifier, fc.constantFrom("", ...typeNames.map((type) => `:${type}`))).map(
    ([param, suffix]) =>
      ({
        kind: "dynamic",
        param,
        type: (suffix === "" ? "str" : suffix.slice(1)) as ParamType,
        pattern: undefined,
        text: `<${param}${suffix}>`
      }) as const
  ),
  fc
    .tuple(identifier, fc.constantFrom(...regexSamples))
    .map(
      ([param, pattern]) => ({ kind: "dynamic", param, type: "regex", pattern, text: `<${param}:${pattern}>` }) as const
    ),
  fc.constant({ kind: "wildcard", text: "*" } as const)
)

const validName = fc.oneof(
  lastPart.map((tail) => ({ parts: [tail.text], tail })),
  fc.tuple(staticPart, staticPart, lastPart).map(([a, b, tail]) => ({ parts: [a, b, tail.text], tail }))
)

/** Independent statements of what each type matches in a (dot-free, non-empty) part, and what it gives. */
const isDigits = (text: string) => text.length > 0 && [...text].every((c) => c >= "0" && c <= "9")
const hex = (text: string, length: number) => text.length === length && /^[0-9a-fA-F]*$/.test(text)
const oracles: Record<
  string,
  { readonly matches: (tail: string) => boolean; readonly value: (tail: string) => unknown }
> = {
  "<p>": { matches: () => true, value: (t) => t },
  "<p:strorempty>": { matches: () => true, value: (t) => t },
  "<p:int>": { matches: (t) => isDigits(t.startsWith("-") ? t.slice(1) : t), value: Number },
  "<p:float>": {
    matches: (t) => {
      const unsigned = t.startsWith("-") ? t.slice(1) : t
      const [whole, fraction, ...rest] = unsigned.split(".")
      if (rest.length > 0) return false
      const digitsOrEmpty = (x: string | undefined) => x === undefined || x === "" || isDigits(x)
      return digitsOrEmpty(whole) && digitsOrEmpty(fraction) && /[0-9]/.test(unsigned)
    },
    value: Number
  },
  "<p:alpha>": { matches: (t) => [...t].every((c) => /[a-zA-Z]/.test(c)), value: (t) => t },
  "<p:slug>": {
    matches: (t) => t.split("-").every((piece) => piece.length > 0 && [...piece].every((c) => /[a-z0-9]/.test(c))),
    value: (t) => t
  },
  "<p:uuid>": {
    matches: (t) => {
      const pieces = t.split("-")
      return pieces.length === 5 && [8, 4, 4, 4, 12].every((length, i) => hex(pieces[i], length))
    },
    value: (t) => t.toLowerCase()
  },
  "<p:ymd>": {
    matches: (t) => {
      const date = new Date(`${t}T00:00:00Z`)
      const year = Number(t.slice(0, 4))
      return t.length === 10 && !Number.isNaN(date.getTime()) && date.toISOString().startsWith(t) && year >= 1000
    },
    value: (t) => new Date(`${t}T00:00:00Z`).getTime()
  },
  "<p:[ab]+>": { matches: (t) => [...t].every((c) => c === "a" || c === "b"), value: (t) => t },
  "<p:n(\\d)>": { matches: (t) => t.length === 2 && t[0] === "n" && isDigits(t[1]), value: (t) => t[1] }
}

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
        assert.strictEqual(parsed.pattern, tail.kind === "dynamic" ? tail.pattern : undefined)
      }),
      { numRuns: 2000 }
    )
  })

  it("a dispatch reaches a handler exactly when its name matches the handler's, with the part converted", async () => {
    const small = fc.constantFrom("a", "b")
    const tail = fc.oneof(
      small,
      fc.constantFrom(
        "7",
        "-3",
        "x1",
        "ab",
        "AbC",
        "n5",
        "my-slug",
        "a--b",
        "2024-02-29",
        "2023-02-29",
        "1999-12-31",
        "2024-13-01",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "0f8fad5b-d9cb-469f-a165-70867728950"
      )
    )
    const concrete = fc.oneof(
      tail.map((t) => [t]),
      fc.tuple(small, small, tail)
    )
    const dynamic = fc.constantFrom(...Object.keys(oracles))
    const pattern = fc.oneof(
      concrete,
      dynamic.map((t) => [t]),
      fc.tuple(small, small, dynamic)
    )
    const reaches = (handler: ReadonlyArray<string>, dispatched: ReadonlyArray<string>): boolean => {
      if (handler.length !== dispatched.length) return false
      const n = handler.length - 1
      for (let i = 0; i < n; i++) if (handler[i] !== dispatched[i]) return false
      const oracle = oracles[handler[n]]
      return oracle === undefined ? handler[n] === dispatched[n] : oracle.matches(dispatched[n])
    }
    await fc.assert(
      fc.asyncProperty(fc.array(pattern, { minLength: 1, maxLength: 6 }), concrete, async (handlers, dispatched) => {
        const ran = await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const registry = yield* Registry.make({ onHandlerFailure: () => Effect.void })
              const ran = new Map<number, unknown>()
              for (const [index, handler] of handlers.entries()) {
                yield* registry.signal(handler.join("."), (context) =>
                  Effect.sync(() => ran.set(index, context.p instanceof Date ? context.p.getTime() : context.p))
                )
              }
              yield* registry.dispatch(dispatched.join("."), { inline: true })
              return ran
            })
          )
        )
        handlers.forEach((handler, index) => {
          const label = `${handler.join(".")} / ${dispatched.join(".")}`
          const expected = reaches(handler, dispatched)
          assert.strictEqual(ran.has(index), expected, label)
          const oracle = oracles[handler[handler.length - 1]]
          if (expected && oracle !== undefined) {
            assert.deepStrictEqual(ran.get(index), oracle.value(dispatched[dispatched.length - 1]), label)
          }
        })
      }),
      { numRuns: 500 }
    )
  })
})
