// WatchAuction over gRPC-Web, kept alive: heartbeats are skipped, stale versions dropped,
// skipped versions (the server conflates for slow watchers) reported as gaps so the page can
// re-read the bid history, and a broken stream is reopened with backoff. The first event of
// every stream is the current state, so resuming needs no cursor.
import { Code, ConnectError } from "@connectrpc/connect";

import { stream } from "./api";
import { AuctionStatus, SaleStatus, type Auction, type Bid } from "./gen/auction/v1/auction_pb";

export type WatchState =
  | { kind: "connecting" }
  | { kind: "live" }
  | { kind: "retrying"; inMs: number; reason: string }
  | { kind: "closed" } // the auction is over: the server sent the final state and closed
  | { kind: "failed"; reason: string }; // retrying cannot help (e.g. no such auction)

export interface WatchHandlers {
  /**
   * A newer state. `gap` says versions were skipped since the last one seen (or the stream was
   * (re)opened on a newer state, whose snapshot names no bid): the history may lack bids.
   */
  onEvent(auction: Auction, bid: Bid | undefined, gap: boolean): void;
  onState(state: WatchState): void;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;
// Codes that a retry cannot fix.
const PERMANENT = new Set([Code.NotFound, Code.InvalidArgument, Code.PermissionDenied]);

/**
 * Nothing about the auction can change any more, as the server judges it: cancelled, or closed
 * with no sale to follow (no winner) or with its sale settled (paid, or unsold after the last
 * offer). ENDED alone is not final: the status follows the clock, and the close that decides
 * the winner comes through the bid log just after the end.
 */
export function isFinal(auction: Auction): boolean {
  if (auction.status === AuctionStatus.CANCELLED) return true;
  if (auction.closedAt === undefined) return false;
  const sale = auction.sale;
  return sale === undefined || sale.status === SaleStatus.PAID || sale.status === SaleStatus.UNSOLD;
}

/**
 * Watches until the auction is over or `signal` aborts. `sinceVersion` is the version the
 * page already shows (with its history), so the first event is compared against it.
 */
export async function watchAuction(
  auctionId: string,
  sinceVersion: bigint,
  handlers: WatchHandlers,
  signal: AbortSignal,
): Promise<void> {
  let last = sinceVersion;
  let failures = 0;
  while (!signal.aborted) {
    handlers.onState({ kind: "connecting" });
    let first = true;
    try {
      for await (const event of stream.watchAuction({ auctionId }, { signal })) {
        if (event.heartbeat || !event.auction) continue;
        if (first) handlers.onState({ kind: "live" });
        failures = 0;
        const auction = event.auction;
        const opening = first;
        first = false;
        if (auction.version <= last) continue; // already shown (e.g. the snapshot after a resume)
        const gap = auction.version > last + 1n || (opening && !event.bid);
        last = auction.version;
        handlers.onEvent(auction, event.bid, gap);
        if (isFinal(auction)) {
          handlers.onState({ kind: "closed" });
          return;
        }
      }
      // The server closed the stream without a final state (e.g. it is draining): resume.
      if (signal.aborted) return;
      failures += 1;
      await retryLater(handlers, failures, "stream closed by the server", signal);
    } catch (error) {
      if (signal.aborted) return;
      const err = ConnectError.from(error);
      if (PERMANENT.has(err.code)) {
        handlers.onState({ kind: "failed", reason: `${Code[err.code]}: ${err.rawMessage}` });
        return;
      }
      failures += 1;
      await retryLater(handlers, failures, `${Code[err.code]}: ${err.rawMessage}`, signal);
    }
  }
}

async function retryLater(handlers: WatchHandlers, failures: number, reason: string, signal: AbortSignal): Promise<void> {
  // Exponential with jitter, so watchers cut off together (a server restart) come back spread out.
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
  const inMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  handlers.onState({ kind: "retrying", inMs, reason });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, inMs);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
