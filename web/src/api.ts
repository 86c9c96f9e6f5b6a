// The page's one connection to Gavel: a gRPC-Web transport to the gateway that served the page
// (same origin, so no CORS), the service clients, and the dev session whose bearer token an
// interceptor adds to every call.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { AuctionService, BidService, DevAuthService, StreamService } from "./gen/auction/v1/auction_pb";

export interface Session {
  userId: string;
  token: string;
  /** Epoch milliseconds; a stale session is dropped rather than sent and refused. */
  expiresAt: number;
}

const SESSION_KEY = "gavel.session";
const listeners = new Set<(session: Session | null) => void>();

export function currentSession(): Session | null {
  const raw = localStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (typeof session.token === "string" && session.expiresAt > Date.now()) return session;
  } catch {
    // A damaged entry is treated as signed out.
  }
  localStorage.removeItem(SESSION_KEY);
  return null;
}

function setSession(session: Session | null): void {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
  for (const listener of listeners) listener(session);
}

/** Called with the new session on every sign-in and sign-out (also from other tabs). */
export function onSessionChange(listener: (session: Session | null) => void): void {
  listeners.add(listener);
}

window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY) for (const listener of listeners) listener(currentSession());
});

const bearer: Interceptor = (next) => async (request) => {
  const session = currentSession();
  if (session) request.header.set("authorization", `Bearer ${session.token}`);
  try {
    return await next(request);
  } catch (error) {
    // A refused token (expired, or minted by a stack with another secret) is useless: sign out,
    // so the page asks for a new sign-in instead of failing every call.
    if (session && ConnectError.from(error).code === Code.Unauthenticated) setSession(null);
    throw error;
  }
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  // Binary protobuf frames: what Envoy's grpc_web filter passes straight to the services.
  useBinaryFormat: true,
  interceptors: [bearer],
});

export const auctions: Client<typeof AuctionService> = createClient(AuctionService, transport);
export const bids: Client<typeof BidService> = createClient(BidService, transport);
export const stream: Client<typeof StreamService> = createClient(StreamService, transport);
const devAuth: Client<typeof DevAuthService> = createClient(DevAuthService, transport);

/** Dev sign-in: the gateway's DevAuthService mints a token for any valid user name. */
export async function signIn(userId: string): Promise<Session> {
  const reply = await devAuth.issueDevToken({ userId });
  const expiresAt = reply.expiresAt ? timestampDate(reply.expiresAt).getTime() : Date.now() + 3600_000;
  const session: Session = { userId, token: reply.token, expiresAt };
  setSession(session);
  return session;
}

export function signOut(): void {
  setSession(null);
}
