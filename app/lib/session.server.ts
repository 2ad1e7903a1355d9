// Sessions live in the database; the cookie carries only a random id, and the table stores its hash.
// A new id is issued at every step of a sign-in, so a planted cookie never becomes authenticated.
import { createCookie, redirect } from "@remix-run/node";
import type { Prisma, Session, User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { randomToken, sha256 } from "./crypto.server.ts";
import { env } from "./env.server.ts";
import { safeRedirectPath } from "./security.server.ts";
import { noteRequestUser } from "./log.server.ts";

export type SessionStage = "pending_totp" | "pending_enrolment" | "active";
export type AuthMethod = "password_totp" | "password_recovery_code" | "microsoft";

/** How long a sign-in that is half done (waiting for the code or the enrolment) lasts. */
export const PENDING_MINUTES = 10;
const TOUCH_EVERY_MS = 60_000;

let cookie: ReturnType<typeof createCookie> | undefined;
function sessionCookie() {
  const secure = env().APP_ORIGIN.startsWith("https:");
  return (cookie ??= createCookie(secure ? "__Host-session" : "__session", {
    httpOnly: true,
    sameSite: "lax",
    secure,
    path: "/",
    secrets: env().SESSION_SECRET.split(","),
  }));
}

async function readCookieId(request: Request): Promise<string | null> {
  const value = await sessionCookie().parse(request.headers.get("Cookie"));
  return typeof value === "string" && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
}

export type LiveSession = Session & { user: User };

/** The session named by the cookie, if it is still within its idle and absolute lifetimes. */
export async function getSession(request: Request): Promise<LiveSession | null> {
  const id = await readCookieId(request);
  if (!id) return null;
  const session = await db.session.findUnique({ where: { id: sha256(id) }, include: { user: true } });
  if (!session) return null;
  const now = Date.now();
  const idleLimit = session.lastSeenAt.getTime() + env().SESSION_IDLE_MINUTES * 60_000;
  if (session.expiresAt.getTime() <= now || idleLimit <= now || session.user.status !== "active") {
    await db.session.deleteMany({ where: { id: session.id } });
    return null;
  }
  noteRequestUser(session.user);
  if (now - session.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await db.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date(now) } });
  }
  return session;
}

type NewSession = {
  userId: string;
  stage: SessionStage;
  authMethod?: AuthMethod;
  microsoftTenantId?: string;
  clientAddress: string;
};

/** Replaces whatever session the request carried with a new one; returns the Set-Cookie header. */
export async function startSession(request: Request, s: NewSession): Promise<string> {
  const previous = await readCookieId(request);
  const id = randomToken();
  const now = new Date();
  const lifetime = s.stage === "active" ? env().SESSION_ABSOLUTE_MINUTES : PENDING_MINUTES;
  // Every column, so that a replaced row keeps nothing of the session it was (the type fails when one is added).
  const row: Required<Prisma.SessionUncheckedCreateInput> = {
    id: sha256(id),
    userId: s.userId,
    stage: s.stage,
    authMethod: s.authMethod ?? null,
    authenticatedAt: s.stage === "active" ? now : null,
    microsoftTenantId: s.microsoftTenantId ?? null,
    totpPendingSecret: null,
    userAgent: request.headers.get("User-Agent")?.slice(0, 512) ?? null,
    ipAddress: s.clientAddress,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + lifetime * 60_000),
  };
  // The previous row, when there is one, becomes the new session under its new id: one write instead of delete + insert.
  const replaced = previous ? (await db.session.updateMany({ where: { id: sha256(previous) }, data: row })).count : 0;
  if (!replaced) await db.session.create({ data: row });
  return sessionCookie().serialize(id, { maxAge: lifetime * 60 });
}

export async function endSession(request: Request): Promise<string> {
  const id = await readCookieId(request);
  if (id) await db.session.deleteMany({ where: { id: sha256(id) } });
  return sessionCookie().serialize("", { maxAge: 0 });
}

export async function endOtherSessions(userId: string, keep?: string) {
  return db.session.deleteMany({ where: { userId, ...(keep ? { id: { not: keep } } : {}) } });
}

function loginRedirect(request: Request) {
  const url = new URL(request.url);
  const back = safeRedirectPath(url.pathname + url.search, "");
  return redirect(back && back !== "/" ? `/login?redirectTo=${encodeURIComponent(back)}` : "/login");
}

/** The signed-in user's session, or a redirect to sign in. */
export async function requireUser(request: Request): Promise<LiveSession> {
  const session = await getSession(request);
  if (session?.stage === "active") return session;
  throw loginRedirect(request);
}

export async function requireAdmin(request: Request): Promise<LiveSession> {
  const session = await requireUser(request);
  if (session.user.role !== "admin") throw new Response("Not found", { status: 404 });
  return session;
}

/** A half-finished sign-in at the given stage, or back to the start. */
export async function requirePending(request: Request, stage: Exclude<SessionStage, "active">): Promise<LiveSession> {
  const session = await getSession(request);
  if (session?.stage === stage) return session;
  if (session?.stage === "active") throw redirect("/");
  throw redirect("/login");
}

export async function requireAnonymous(request: Request) {
  const session = await getSession(request);
  if (session?.stage === "active") throw redirect("/");
}
