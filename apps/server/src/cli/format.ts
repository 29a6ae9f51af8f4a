import type { EventView } from '@shiioo/orchestrator'

const DATA_WIDTH = 160

function compact(data: unknown): string {
  const text = JSON.stringify(data) ?? ''
  return text.length > DATA_WIDTH ? text.slice(0, DATA_WIDTH - 1) + '…' : text
}

/** A run's events as aligned columns: seq, time, type, actor, data (compact JSON, clipped). */
export function formatEventTable(events: readonly EventView[]): string {
  const rows = [
    ['SEQ', 'TIME', 'TYPE', 'ACTOR', 'DATA'],
    ...events.map((e) => [String(e.seq), e.at, e.type, `${e.actor.kind}:${e.actor.id}`, compact(e.data)]),
  ]
  const widths = [0, 1, 2, 3].map((col) => Math.max(...rows.map((row) => row[col]!.length)))
  return rows
    .map((row) =>
      row
        .map((cell, col) => (col === 0 ? cell.padStart(widths[0]!) : col < 4 ? cell.padEnd(widths[col]!) : cell))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

/** `162,000`: grouped digits for rates and counts meant to be read at a glance. */
export function grouped(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/**
 * `$0.0064`, and a cost under a hundredth of a cent with two significant digits (`$0.000012`)
 * instead of `$0.0000`: a cheap model's calls cost that little, and they add up.
 */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0'
  if (usd >= 0.0001) return `$${usd.toFixed(4)}`
  const decimals = Math.min(12, 1 - Math.floor(Math.log10(usd)))
  return `$${usd.toFixed(decimals)}`
}

export function plural(n: number, word: string): string {
  return `${grouped(n)} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Rows as aligned columns under a header; the last column is not padded. `right` names columns
 * aligned to the right (numbers).
 */
export function formatTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  right: readonly number[] = [],
): string {
  const all = [header, ...rows]
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)))
  const last = header.length - 1
  return all
    .map((row) =>
      row
        .map((cell, col) => {
          if (right.includes(col)) return cell.padStart(widths[col]!)
          return col === last ? cell : cell.padEnd(widths[col]!)
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

/** A span of time for a person: `0.12 s`, `12.3 s`, `2m05s`, `3h02m`, `2d03h`. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, ms) / 1000
  if (s < 10) return `${s.toFixed(2)} s`
  if (s < 60) return `${s.toFixed(1)} s`
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${two((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d${two((s % 86400) / 3600)}h`
}

/** An instant without milliseconds, `2026-11-24T09:00:01Z`. */
export function formatInstant(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z')
}

/** Text clipped to `width` characters with an ellipsis. */
export function clip(text: string, width: number): string {
  return text.length > width ? text.slice(0, width - 1) + '…' : text
}
