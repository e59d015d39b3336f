import * as Data from "effect/Data"

export class WebSocketClosed extends Data.TaggedError("WebSocketClosed")<{
  readonly code: number
  readonly reason: string
}> {
  override get message(): string {
    return `WebSocket closed with code ${this.code}${this.reason === "" ? "" : ` (${this.reason})`}.`
  }
}
