// What My Profile shows about the signed-in user: the method is the rule's answer for the user as they are now
// (signInStrategyFor), never a guess from which columns are filled in.
import { audit } from "./audit.server.ts";
import { db } from "./db.server.ts";
import { describeDevice } from "./device.ts";
import { endOtherSessions, type LiveSession } from "./session.server.ts";
import { signInStrategyFor, type SignInMethod } from "./signin/methods.server.ts";

/** The sentence "How you sign in" for each method. */
export function methodSentence(method: SignInMethod, totpSetUp: boolean, identity: "link" | "sync" | null): string {
  if (method === "microsoft")
    return identity === "sync" ? "Your Microsoft work account (your organization turned on Microsoft sign-in for you)" : "Your linked Microsoft work account";
  if (method === "password") return `Password and a code from your authenticator app${totpSetUp ? "" : " (not set up yet)"}`;
  return "No way to sign in yet: ask your administrator for a set-password link";
}

/** The frame of every signed-in page: who, which org, and which settings tabs apply to their method. */
export async function shellOf(session: LiveSession) {
  const [org, strategy] = await Promise.all([
    db.organization.findUniqueOrThrow({ where: { id: session.user.orgId }, select: { name: true } }),
    signInStrategyFor(session.user),
  ]);
  return { name: session.user.name, orgName: org.name, isAdmin: session.user.role === "admin", method: strategy.method };
}

export async function profileOf(session: LiveSession) {
  const { user } = session;
  const strategy = await signInStrategyFor(user);
  return {
    name: user.name,
    email: user.email,
    phone: user.phone,
    role: user.role,
    method: strategy.method,
    howYouSignIn: methodSentence(strategy.method, Boolean(user.totpEnrolledAt), strategy.identity),
    passwordChangedAt: strategy.method === "password" ? (user.passwordChangedAt?.toISOString() ?? null) : null,
  };
}

const methodLabel: Record<string, string> = {
  password_totp: "Password + authenticator code",
  password_recovery_code: "Password + recovery code",
  microsoft: "Microsoft account",
};

/** The user's live sessions, newest first, with a short handle for "Sign out" (the stored id is a hash). */
export async function sessionsOf(session: LiveSession) {
  const sessions = await db.session.findMany({ where: { userId: session.userId, stage: "active" }, orderBy: { lastSeenAt: "desc" } });
  return sessions.map((s, index) => ({
    handle: s.id.slice(0, 16),
    position: index,
    current: s.id === session.id,
    device: describeDevice(s.userAgent),
    ipAddress: s.ipAddress,
    method: methodLabel[s.authMethod ?? ""] ?? "—",
    signedInAt: s.createdAt.toISOString(),
    lastSeenAt: s.lastSeenAt.toISOString(),
  }));
}

/** Ends one of the user's own sessions (never the current one: that is "Sign out"), or all the others. */
export async function endOwnSessions(session: LiveSession, which: { handle: string } | "others", address: string): Promise<number> {
  const count =
    which === "others"
      ? (await endOtherSessions(session.userId, session.id)).count
      : (await db.session.deleteMany({ where: { userId: session.userId, id: { startsWith: which.handle, not: session.id } } })).count;
  if (count) await audit({ action: "sessions.ended", orgId: session.user.orgId, actorId: session.userId, ipAddress: address, detail: { count } });
  return count;
}
