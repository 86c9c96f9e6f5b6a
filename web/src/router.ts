// Hash routes (#/, #/auctions/<id>, #/me/bids, #/me/watching): the gateway serves the page only at `/`, because paths
// such as /auctions/... are the REST API on the same origin.

export type Route =
  | { page: "home" }
  | { page: "auction"; auctionId: string }
  | { page: "my-bids" }
  | { page: "watching" }
  | { page: "missing"; hash: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/") return { page: "home" };
  if (path === "/me/bids") return { page: "my-bids" };
  if (path === "/me/watching") return { page: "watching" };
  const auction = /^\/auctions\/([^/]+)$/.exec(path);
  if (auction) return { page: "auction", auctionId: decodeURIComponent(auction[1]) };
  return { page: "missing", hash };
}

export function navigate(hash: string): void {
  window.location.hash = hash;
}
