import type { StoredEvent } from '@shiioo/core'

const DATA_WIDTH = 160

function compact(data: unknown): string {
  const text = JSON.stringify(data) ?? ''
  return text.length > DATA_WIDTH ? text.slice(0, DATA_WIDTH - 1) + '…' : text
}

/** A run's events as aligned columns: seq, time, type, actor, data (compact JSON, clipped). */
export function formatEventTable(events: readonly StoredEvent[]): string {
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

export function plural(n: number, word: string): string {
  return `${grouped(n)} ${word}${n === 1 ? '' : 's'}`
}
