// What My Profile shows about the signed-in user: the method is the rule's answer for the user as they are now
// (signInStrategyFor), never a guess from which columns are filled in.
import { audit } from "./audit.server.ts";
import { db } from "./db.server.ts";
import { describeDevice } from "./device.ts";
import { endOtherSessions, type LiveSession } from "./session.server.ts";
import { appGrantsOf, endAppGrant, endAppGrantsOf } from "./oidc/grants.server.ts";
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

/** The apps signed in through the portal (issue 14), as the Sessions page lists them. */
export async function appSessionsOf(userId: string) {
  return (await appGrantsOf(userId)).map((g) => ({
    grantId: g.grantId,
    appName: g.appName,
    signedInAt: g.signedInAt.toISOString(),
    lastUsedAt: g.lastUsedAt.toISOString(),
  }));
}

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

/**
 * Ends one of the user's own sessions (never the current one: that is "Sign out"), one app's sign-in, or all the
 * others, apps included.
 */
export async function endOwnSessions(session: LiveSession, which: { handle: string } | { grantId: string } | "others", address: string): Promise<number> {
  let count: number;
  let apps = 0;
  if (which === "others") {
    count = (await endOtherSessions(session.userId, session.id)).count;
    apps = (await endAppGrantsOf(session.userId)).grants;
  } else if ("grantId" in which) {
    count = 0;
    apps = (await endAppGrant(session.userId, which.grantId)) ? 1 : 0;
  } else {
    count = (await db.session.deleteMany({ where: { userId: session.userId, id: { startsWith: which.handle, not: session.id } } })).count;
  }
  if (count + apps) {
    await audit({ action: "sessions.ended", orgId: session.user.orgId, actorId: session.userId, ipAddress: address, detail: { count, apps } });
  }
  return count + apps;
}

/** An admin signs one of their org's users out of one app; returns the app's name, or null if it had ended. */
export async function endAppSessionOf(admin: LiveSession, user: { id: string; orgId: string }, grantId: string, address: string): Promise<string | null> {
  if (user.orgId !== admin.user.orgId) return null;
  const app = (await appSessionsOf(user.id)).find((a) => a.grantId === grantId);
  if (!app || !(await endAppGrant(user.id, grantId))) return null;
  await audit({
    action: "app.signed_out",
    orgId: user.orgId,
    actorId: admin.userId,
    targetType: "user",
    targetId: user.id,
    ipAddress: address,
    detail: { app: app.appName },
  });
  return app.appName;
}
