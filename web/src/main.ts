// Entry point: the header's sign-in box, and one page at a time in <main> by hash route.
// Leaving a page aborts its signal, which ends its streams, timers and pending calls.
import "./app.css";

import { onSessionChange } from "./api";
import { h, replace, startCountdowns } from "./dom";
import { auctionPage } from "./pages/auction";
import { homePage } from "./pages/home";
import { myBidsPage, watchingPage } from "./pages/mine";
import { mountNotifications } from "./pages/notifications";
import { mountSessionBox } from "./pages/session";
import { parseRoute } from "./router";

const main = document.getElementById("main") as HTMLElement;
let leave: AbortController | null = null;

function show(): void {
  leave?.abort();
  leave = new AbortController();
  const route = parseRoute(window.location.hash);
  switch (route.page) {
    case "home":
      homePage(main, leave.signal);
      break;
    case "auction":
      auctionPage(main, route.auctionId, leave.signal);
      break;
    case "my-bids":
      void myBidsPage(main, leave.signal);
      break;
    case "watching":
      void watchingPage(main, leave.signal);
      break;
    case "missing":
      replace(main, h("p", {}, "No such page. ", h("a", { href: "#/" }, "See the open auctions.")));
      break;
  }
}

mountSessionBox(document.getElementById("session") as HTMLElement);
mountNotifications(document.getElementById("inbox") as HTMLElement);
startCountdowns();
window.addEventListener("hashchange", show);
// Forms and bid buttons depend on who is signed in: re-render the page on sign-in/out.
onSessionChange(show);
show();
