import type {
  CapacityLedger,
  LedgerObservation,
  LedgerReservation,
  LedgerReserveRequest,
  LedgerReserveResult,
  LedgerUsage,
} from '../ports/capacity-ledger.js'
import type { WindowBook } from './window-book.js'
import { emptyBook, observeIn, reserveIn, settleIn, usageOf } from './window-book.js'

/**
 * The rate windows of one process: the ledger of a pool that shares its sources with no other
 * process. They are not durable state: a restart begins with empty windows, as the vendor's own
 * windows have mostly moved on by then.
 */
export class InProcessCapacityLedger implements CapacityLedger {
  private readonly books = new Map<string, WindowBook>()
  private seq = 0

  private book(source: string): WindowBook {
    let b = this.books.get(source)
    if (!b) this.books.set(source, (b = emptyBook()))
    return b
  }

  reserve(o: LedgerReserveRequest): Promise<LedgerReserveResult> {
    return Promise.resolve(reserveIn(this.book(o.source), { ...o, id: String(++this.seq) }))
  }

  settle(o: { source: string; reservation: LedgerReservation; tokens: number }): Promise<void> {
    settleIn(this.book(o.source), o.reservation, o.tokens)
    return Promise.resolve()
  }

  observe(o: LedgerObservation): Promise<void> {
    observeIn(this.book(o.source), o, () => String(++this.seq))
    return Promise.resolve()
  }

  usage(o: { source: string; now: number; slackMs: number }): Promise<LedgerUsage> {
    return Promise.resolve(usageOf(this.book(o.source), o.now, o.slackMs))
  }
}
