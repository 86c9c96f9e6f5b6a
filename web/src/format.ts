// How the page shows and reads amounts, times and enum values. Amounts travel as int64 minor
// units (bigint here) and are shown in major units with the currency: 1250 EUR → "12.50 EUR".
import { AuctionStatus, BidKind, BidRejectReason, BidStatus } from "./gen/auction/v1/auction_pb";

/** Digits after the decimal point for a currency (EUR 2, JPY 0, BHD 3), as Intl knows them. */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2; // Unknown to this browser: the common case.
  }
}

const grouping = new Intl.NumberFormat("en-US");

/** Exact (bigint arithmetic, no float rounding): formatMoney(1250n, "EUR") === "12.50 EUR". */
export function formatMoney(minor: bigint, currency: string): string {
  const digits = minorDigits(currency);
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  const scale = 10n ** BigInt(digits);
  const whole = grouping.format(abs / scale);
  const fraction = digits > 0 ? "." + (abs % scale).toString().padStart(digits, "0") : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${currency}`;
}

/** "12.5" in EUR → 1250n; throws a message fit to show next to the field. */
export function parseMoney(text: string, currency: string): bigint {
  const digits = minorDigits(currency);
  const match = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) throw new Error(digits > 0 ? `an amount such as 12.50` : `a whole amount such as 1200`);
  const fraction = match[2] ?? "";
  if (fraction.length > digits) throw new Error(`${currency} has ${digits} decimal place${digits === 1 ? "" : "s"}`);
  return BigInt(match[1]) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, "0") || "0");
}

/** "3m 05s", "2h 10m", "4d 3h" until `end`, or "ended". */
export function formatRemaining(end: Date, now: Date = new Date()): string {
  let s = Math.floor((end.getTime() - now.getTime()) / 1000);
  if (s <= 0) return "ended";
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s).padStart(2, "0")}s`;
}

export function formatTime(date: Date): string {
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function auctionStatusText(status: AuctionStatus): string {
  switch (status) {
    case AuctionStatus.SCHEDULED:
      return "scheduled";
    case AuctionStatus.OPEN:
      return "open";
    case AuctionStatus.ENDED:
      return "ended";
    case AuctionStatus.CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

export function bidStatusText(status: BidStatus): string {
  switch (status) {
    case BidStatus.PENDING:
      return "PENDING";
    case BidStatus.ACCEPTED:
      return "ACCEPTED";
    case BidStatus.REJECTED:
      return "REJECTED";
    default:
      return "UNKNOWN";
  }
}

/** The rejection reason in words, as a bidder would say it. */
export function rejectReasonText(reason: BidRejectReason): string {
  switch (reason) {
    case BidRejectReason.BELOW_STARTING_PRICE:
      return "below the starting price";
    case BidRejectReason.NOT_ABOVE_HIGHEST: // no longer given; old histories have it
      return "not above the highest bid";
    case BidRejectReason.BELOW_MIN_BID:
      return "below the minimum bid";
    case BidRejectReason.OUTBID:
      return "outbid by the leader's maximum";
    case BidRejectReason.NOT_ABOVE_OWN_MAX:
      return "not above the bidder's own maximum";
    case BidRejectReason.BUY_NOW_UNAVAILABLE:
      return "Buy It Now is no longer available";
    case BidRejectReason.AUCTION_NOT_STARTED:
      return "the auction has not started yet";
    case BidRejectReason.AUCTION_ENDED:
      return "the auction has ended";
    case BidRejectReason.AUCTION_CANCELLED:
      return "the auction was cancelled";
    default:
      return "rejected";
  }
}

/** How a bid came about, for the history: "" for one the bidder placed. */
export function bidKindText(kind: BidKind): string {
  switch (kind) {
    case BidKind.PROXY:
      return "automatic bid";
    case BidKind.BUY_NOW:
      return "Buy It Now";
    default:
      return "";
  }
}

/** A protobuf Duration's length as "90s", "15m", "2h", "3d" (the largest unit that divides it). */
export function formatDuration(seconds: bigint): string {
  for (const [unit, size] of [["d", 86400n], ["h", 3600n], ["m", 60n]] as const) {
    if (seconds > 0n && seconds % size === 0n) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
