// The header's notifications: a button with the unread count, and the list under it, newest
// first, kept live by WatchMyNotifications. The stream resumes from the last notification
// seen, so a reconnect (a restart of the service, a network blip) misses nothing and repeats
// nothing. Which ones are read is the browser's to remember (the newest id opened, per user).
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { currentSession, onSessionChange, stream, type Session } from "../api";
import { h, replace, setText } from "../dom";
import { type Notification } from "../gen/auction/v1/auction_pb";

const KEEP = 50;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

export function mountNotifications(root: HTMLElement): void {
  let stop: AbortController | null = null;
  const render = (session: Session | null): void => {
    stop?.abort();
    replace(root);
    if (!session) return;
    stop = new AbortController();
    new Inbox(root, session.userId, stop.signal).start();
  };
  onSessionChange(render);
  render(currentSession());
}

const readKey = (userId: string) => `gavel.notifications.read.${userId}`;

class Inbox {
  private readonly items: Notification[] = [];
  private readonly count = h("span", { class: "count", "data-testid": "unread-count" });
  private readonly button = h("button", { type: "button", class: "link bell", "data-testid": "notifications-button" }, "Notifications ", this.count);
  private readonly list = h("ul", { class: "notifications", "data-testid": "notifications", hidden: true });

  constructor(
    root: HTMLElement,
    private readonly userId: string,
    private readonly signal: AbortSignal,
  ) {
    replace(root, h("div", { class: "inbox" }, this.button, this.list));
    this.button.addEventListener("click", () => {
      this.list.hidden = !this.list.hidden;
      if (!this.list.hidden && this.items.length) localStorage.setItem(readKey(this.userId), this.items[0].notificationId);
      this.render();
    });
  }

  async start(): Promise<void> {
    this.render();
    await this.follow();
  }

  /**
   * Live first, then the kept ones: the stream's first message (a heartbeat) says it is
   * subscribed, and only then is the history read, so a notification kept in between is in
   * one or the other (or both: merged by id). A reconnect resumes after the newest one held.
   */
  private async follow(): Promise<void> {
    let failures = 0;
    while (!this.signal.aborted) {
      try {
        const after = this.items[0]?.notificationId ?? "";
        let listed = after !== ""; // with a cursor, the stream itself brings what was missed
        for await (const n of stream.watchMyNotifications({ after }, { signal: this.signal })) {
          failures = 0;
          if (n.heartbeat) {
            this.list.dataset.live = "true";
            if (!listed) {
              const kept = await stream.listMyNotifications({ pageSize: KEEP }, { signal: this.signal });
              kept.notifications.forEach((k) => this.add(k));
              listed = true;
              this.render();
            }
            continue;
          }
          this.add(n);
          this.render();
        }
      } catch {
        if (this.signal.aborted) return;
      }
      this.list.dataset.live = "false";
      failures += 1;
      const wait = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Newest first, each once, the last KEEP. */
  private add(n: Notification): void {
    if (this.items.some((m) => m.notificationId === n.notificationId)) return;
    this.items.push(n);
    this.items.sort((a, b) => (BigInt(b.notificationId) > BigInt(a.notificationId) ? 1 : -1));
    this.items.length = Math.min(this.items.length, KEEP);
  }

  private unread(): number {
    const read = BigInt(localStorage.getItem(readKey(this.userId)) ?? "0");
    return this.items.filter((n) => BigInt(n.notificationId) > read).length;
  }

  private render(): void {
    const unread = this.unread();
    setText(this.count, unread ? `(${unread})` : "");
    this.count.dataset.unread = String(unread);
    if (this.items.length === 0) {
      replace(this.list, h("li", { class: "muted" }, "Nothing yet: you are told here when you are outbid, win, or an auction you watch ends soon."));
      return;
    }
    replace(
      this.list,
      ...this.items.map((n) =>
        h(
          "li",
          { "data-testid": "notification", "data-kind": String(n.kind) },
          h("a", { href: `#/auctions/${n.auctionId}` }, n.text),
          n.createdAt ? h("small", { class: "muted" }, " · ", timestampDate(n.createdAt).toLocaleString()) : null,
        ),
      ),
    );
  }
}
