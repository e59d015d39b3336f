/**
 * Number formatting and the text and markdown tables of the runner.
 */

export type Unit = "/s" | "bytes" | "ms" | "us" | "ns" | "x"

const si = (value: number): string => {
  const abs = Math.abs(value)
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 1 : 2)}M`
  if (abs >= 1e3) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`
  return value.toFixed(abs >= 100 ? 0 : 1)
}

export const formatValue = (value: number | undefined, unit: Unit): string => {
  if (value === undefined || Number.isNaN(value)) return "—"
  switch (unit) {
    case "/s":
      return `${si(value)}/s`
    case "bytes":
      return value >= 1024 * 1024 ? `${(value / (1024 * 1024)).toFixed(1)} MB` : `${(value / 1024).toFixed(2)} KB`
    case "ms":
      return `${value.toFixed(value >= 100 ? 0 : 1)} ms`
    case "us":
      return `${value.toFixed(value >= 100 ? 0 : 1)} µs`
    case "ns":
      return `${value.toFixed(value >= 100 ? 0 : 1)} ns`
    case "x":
      return `${value.toFixed(2)}×`
  }
}

export const formatRatio = (ratio: number | undefined): string =>
  ratio === undefined || Number.isNaN(ratio) ? "—" : `${ratio.toFixed(2)}×`

export const textTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

export const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const escapeCell = (cell: string) => cell.replaceAll("|", "\\|")
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map(escapeCell).join(" | ")} |`
  const align = header.map((_, i) => (i === 0 ? ":--" : "--:"))
  return [line(header), `|${align.join("|")}|`, ...rows.map(line)].join("\n")
}
