// Step-up: changing a factor (link, unlink, password, authenticator app, recovery codes) needs a sign-in
// within RECENT_AUTH_MINUTES with the user's current method. The link prompt right after a sign-in counts.
import { redirect } from "@remix-run/node";
import { db } from "../db.server.ts";
import { requireUser, type LiveSession } from "../session.server.ts";
import { signInStrategyFor, type SignInMethod } from "./methods.server.ts";
import { checkPasswordOf, checkSecondFactor, type StepFailure } from "./steps.server.ts";

export const RECENT_AUTH_MINUTES = 15;
export const RECENT_AUTH_SECONDS = RECENT_AUTH_MINUTES * 60;

const methodOfSession = (authMethod: string | null): SignInMethod | null =>
  authMethod === "microsoft" ? "microsoft" : authMethod === "password_totp" || authMethod === "password_recovery_code" ? "password" : null;

export type Freshness = { recent: true } | { recent: false; method: SignInMethod };

/**
 * Whether the session proved who the user is within the last 15 minutes — or since `since` (epoch ms), when an app
 * asks for a sign-in after a moment of its own (prompt=login, max_age) — with the method the user has now.
 */
export async function freshness(session: LiveSession, now = Date.now(), since?: number): Promise<Freshness> {
  const { method } = await signInStrategyFor(session.user);
  const at = session.authenticatedAt?.getTime();
  const inTime = at !== undefined && (since === undefined ? now - at <= RECENT_AUTH_SECONDS * 1000 : at >= since);
  const recent = inTime && methodOfSession(session.authMethod) === method;
  return recent ? { recent: true } : { recent: false, method };
}

/** A re-authentication with Microsoft passed (auth_time checked by the callback): the session is fresh again. */
export async function markReauthenticated(sessionId: string) {
  await db.session.update({ where: { id: sessionId }, data: { authenticatedAt: new Date(), authMethod: "microsoft" } });
}

export type ConfirmResult = StepFailure | { kind: "ok" };

/** Password + code again, inside the session (throttled like a sign-in): the session is fresh again. */
export async function confirmWithPassword(session: LiveSession, password: string, code: string, address: string): Promise<ConfirmResult> {
  const first = await checkPasswordOf(session.user, password, address);
  if (first.kind !== "ok") return first;
  const second = await checkSecondFactor(session.user, code, address);
  if (second.kind !== "ok") return second;
  await db.session.update({ where: { id: session.id }, data: { authenticatedAt: new Date(), authMethod: second.method } });
  return { kind: "ok" };
}

/** Where a factor page sends a session that is not fresh: "Confirm it's you", then back to `path`. */
export const confirmPath = (path: string) => `/settings/confirm?redirectTo=${encodeURIComponent(path)}`;

/**
 * The guard of every page that changes a factor: a signed-in session whose sign-in is recent, or a redirect
 * to "Confirm it's you" that comes back to the page the request was for.
 */
export async function requireRecentSignIn(request: Request): Promise<LiveSession> {
  const session = await requireUser(request);
  await ensureRecentSignIn(session, request);
  return session;
}

/** The same for a session already loaded: a redirect to "Confirm it's you" unless its sign-in is recent. */
export async function ensureRecentSignIn(session: LiveSession, request: Request): Promise<void> {
  if ((await freshness(session)).recent) return;
  const url = new URL(request.url);
  throw redirect(confirmPath(url.pathname + url.search));
}
