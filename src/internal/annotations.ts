import * as Effect from "effect/Effect"

/** Adds log annotations when there are any; most processes have none, and pay nothing. */
export const withAnnotations = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  annotations: Readonly<Record<string, string>> | undefined
): Effect.Effect<A, E, R> => (annotations === undefined ? effect : Effect.annotateLogs(effect, annotations))
