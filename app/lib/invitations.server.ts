// Invitations (docs/decisions/007-invitations.md): an invited person is a User of the admin's org with no
// password, plus a one-time "invitation" token. Which email they get, and what the link offers, is the strategy's call.
import { Prisma, type User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { env } from "./env.server.ts";
import { audit } from "./audit.server.ts";
import { createUser, InputError } from "./orgs.server.ts";
import { hashPassword } from "./passwords.server.ts";
import { queueEmail } from "./mail/outbox.server.ts";
import { microsoftSignInFor } from "./signin/microsoft.server.ts";
import { orgMethods, signInStrategyFor, strategyUserSelect } from "./signin/methods.server.ts";
import { changeMethods } from "./signin/change.server.ts";
import type { SignInMethod } from "./signin/methods.server.ts";
import { forgetAccount } from "./throttle.server.ts";
import { consumeToken, issueToken, peekToken, revokeTokens } from "./tokens.server.ts";
import { LINK_MINUTES } from "./link-lifetimes.ts";

const INVITATION_MINUTES = LINK_MINUTES.invitation;
export const INVITATION_DAYS = INVITATION_MINUTES / (24 * 60);
const LIST_LIMIT = 200;

export type InvitationStatus = "pending" | "accepted" | "expired" | "revoked";

/** Kept in the token's data: who invited, whether the invitation created the user, and whether it was revoked. */
type InvitationData = { invitedBy: string | null; created: boolean; revoked?: boolean };

type Admin = { userId: string; user: { orgId: string; name: string } };
type TokenRow = { id: string; target: string; data: string | null; expiresAt: Date; usedAt: Date | null; createdAt: Date };
export type Outcome = { ok: true; message: string } | { ok: false; error: string };

function readData(raw: string | null): InvitationData {
  const parsed = raw ? (JSON.parse(raw) as Partial<InvitationData>) : {};
  return { invitedBy: parsed.invitedBy ?? null, created: parsed.created === true, revoked: parsed.revoked === true };
}

/** The status the admin sees, from the user's latest invitation token. */
export function invitationStatus(token: TokenRow, user: Pick<User, "passwordHash">, now = new Date()): InvitationStatus {
  if (token.usedAt) return readData(token.data).revoked ? "revoked" : "accepted";
  // A password set another way (a reset link) means the person already has a way in.
  if (user.passwordHash) return "accepted";
  return token.expiresAt <= now ? "expired" : "pending";
}

function latestInvitation(userId: string) {
  return db.oneTimeToken.findFirst({ where: { type: "invitation", target: userId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

/** Issues a new link (the previous one stops working) and emails it with the template the strategy calls for. */
async function sendLink(user: User, admin: Admin, created: boolean, address: string, resent: boolean) {
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { name: true } });
  await revokeTokens("invitation", user.id);
  const data: InvitationData = { invitedBy: admin.userId, created };
  const token = await issueToken("invitation", user.id, INVITATION_MINUTES, data);
  const url = `${env().APP_ORIGIN}/invite?token=${token}`;
  const { method } = await signInStrategyFor(user);
  const common = { name: user.name, orgName: org.name, inviterName: admin.user.name, expiresDays: INVITATION_DAYS };
  if (method === "microsoft") await queueEmail(user.email!, "sso-invitation", { ...common, signInUrl: url });
  else await queueEmail(user.email!, "invitation", { ...common, acceptUrl: url });
  await audit({
    action: resent ? "invitation.resent" : "invitation.sent",
    orgId: user.orgId,
    actorId: admin.userId,
    targetType: "user",
    targetId: user.id,
    ipAddress: address,
    detail: { email: user.email, method },
  });
}

export type NewInvitation = { email: string; name: string; role: "admin" | "member" };

/** Creates the user in the admin's org and sends the invitation. The email must not belong to anyone yet. */
export async function inviteNewUser(
  admin: Admin,
  input: NewInvitation,
  address: string,
): Promise<{ ok: true; user: User } | { ok: false; errors: Record<string, string> }> {
  const existing = await db.user.findUnique({ where: { email: input.email }, select: { orgId: true } });
  // The email column is unique across the portal: say nothing about which organization has it.
  const taken = "That email address can't be invited: it already belongs to an account.";
  if (existing) {
    const mine = existing.orgId === admin.user.orgId;
    const inOrg =
      "That email address already belongs to a user of your organization. Users without a password are listed below, where you can send them an invitation.";
    return { ok: false, errors: { email: mine ? inOrg : taken } };
  }
  let user: User;
  try {
    user = await createUser({ orgId: admin.user.orgId, email: input.email, name: input.name, role: input.role, actorId: admin.userId });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return { ok: false, errors: /already exists/.test(error.message) ? { email: taken } : { form: error.message } };
  }
  await sendLink(user, admin, true, address, false);
  return { ok: true, user };
}

/** Finds a user of the admin's own org; null for anyone else (the route answers 404). */
function orgUser(admin: Admin, userId: string) {
  return db.user.findFirst({ where: { id: userId, orgId: admin.user.orgId } });
}

/** Where a user of the admin's org stands with invitations, for their page: null when they have never been invited. */
export async function invitationStatusOf(user: User): Promise<InvitationStatus | null> {
  const latest = await latestInvitation(user.id);
  return latest ? invitationStatus(latest, user) : null;
}

/** Sends again (new link, the old one stops working), or invites an existing user who has no password. Null: not in the admin's org. */
export async function resendInvitation(admin: Admin, userId: string, address: string): Promise<Outcome | null> {
  const user = await orgUser(admin, userId);
  if (!user) return null;
  const latest = await latestInvitation(user.id);
  const status = latest ? invitationStatus(latest, user) : null;
  const created = latest ? readData(latest.data).created : false;
  if (!user.email) return { ok: false, error: `${user.name} has no email address, so no invitation can be sent.` };
  if (status === "accepted") return { ok: false, error: `${user.name} has already accepted the invitation.` };
  if (!latest && user.passwordHash) return { ok: false, error: `${user.name} already signs in with a password; there is nothing to invite them to.` };
  if (user.status === "disabled" && status === "revoked" && created) {
    // Re-inviting undoes the revoke: the account was disabled only because its invitation was withdrawn.
    await db.user.update({ where: { id: user.id }, data: { status: "active" } });
  } else if (user.status !== "active") {
    return { ok: false, error: `${user.name}'s account is ${user.status}; no invitation can be sent to it.` };
  }
  await sendLink(user, admin, created, address, Boolean(latest));
  return { ok: true, message: `A new invitation was sent to ${user.email}; earlier links no longer work.` };
}

/** Withdraws an open (pending or expired) invitation. An account the invitation created is disabled with it. */
export async function revokeInvitation(admin: Admin, userId: string, address: string): Promise<Outcome | null> {
  const user = await orgUser(admin, userId);
  if (!user) return null;
  const latest = await latestInvitation(user.id);
  const status = latest ? invitationStatus(latest, user) : null;
  if (!latest || (status !== "pending" && status !== "expired")) return { ok: false, error: `${user.name} has no open invitation to revoke.` };
  const data = readData(latest.data);
  // Conditional on usedAt: an acceptance racing this revoke wins or loses as a whole.
  const { count } = await db.oneTimeToken.updateMany({
    where: { id: latest.id, usedAt: null },
    data: { usedAt: new Date(), data: JSON.stringify({ ...data, revoked: true } satisfies InvitationData) },
  });
  if (count !== 1) return { ok: false, error: `${user.name}'s invitation was used a moment ago; reload the page.` };
  await revokeTokens("invitation", user.id);
  // Without a password the account could still be reached with "forgot password": disable it instead of leaving it open.
  const disable = data.created && !user.passwordHash && user.status === "active";
  if (disable) {
    const actor = { userId: admin.userId, orgId: user.orgId, address };
    // An invited account without a password is no admin who can sign in: disabling it cannot lock anyone out.
    await changeMethods(
      actor,
      { kind: "disable", userId: user.id },
      { lockoutConfirmed: true, endSessions: { userId: user.id, all: true }, audit: { action: "user.disabled", detail: { reason: "invitation revoked" } } },
      (tx) => tx.user.update({ where: { id: user.id }, data: { status: "disabled" } }),
    );
  }
  await audit({
    action: "invitation.revoked",
    orgId: user.orgId,
    actorId: admin.userId,
    targetType: "user",
    targetId: user.id,
    ipAddress: address,
    detail: { email: user.email, disabled: disable },
  });
  return { ok: true, message: `The invitation of ${user.name} was revoked; its link no longer works.` };
}

export type InvitationRow = {
  userId: string;
  name: string;
  email: string | null;
  role: string;
  method: SignInMethod;
  status: InvitationStatus;
  sentAt: string;
  expiresAt: string;
};

/** The org's invitations (the latest per user, newest first). */
export async function listInvitations(orgId: string) {
  // OneTimeToken has no relation to User (its target is any id), so join in SQL that SQLite and PostgreSQL both read.
  const ids = await db.$queryRaw<{ id: string }[]>`
    SELECT t."id" FROM "OneTimeToken" t JOIN "User" u ON u."id" = t."target"
    WHERE t."type" = 'invitation' AND u."orgId" = ${orgId}`;
  const tokens = await db.oneTimeToken.findMany({ where: { id: { in: ids.map((r) => r.id) } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
  const latest = new Map<string, TokenRow>();
  for (const token of tokens) if (!latest.has(token.target)) latest.set(token.target, token);
  const invited = [...latest.keys()].slice(0, LIST_LIMIT);
  const [rows, { strategyOf }] = await Promise.all([
    db.user.findMany({ where: { orgId, id: { in: invited } }, include: { microsoftLink: { select: { integrationId: true } } } }),
    orgMethods(orgId),
  ]);
  const users = new Map(rows.map((u) => [u.id, u]));
  const now = new Date();
  const invitations: InvitationRow[] = [];
  for (const userId of invited) {
    const user = users.get(userId);
    const token = latest.get(userId)!;
    if (!user) continue;
    invitations.push({
      userId,
      name: user.name,
      email: user.email,
      role: user.role,
      method: strategyOf(user).method,
      status: invitationStatus(token, user, now),
      sentAt: token.createdAt.toISOString(),
      expiresAt: token.expiresAt.toISOString(),
    });
  }
  return { invitations };
}

export const NOT_INVITED_PAGE = 50;

/** LIKE's own characters typed by the admin match themselves. */
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The org's active users with an email and no password who were never invited (e.g. synced users), by name;
 * `q` searches name and email, `after` (a user id from the previous page) continues after that user. One page
 * and the total, however many thousand there are.
 */
export async function listNotInvited(orgId: string, { q = "", after = null }: { q?: string; after?: string | null } = {}) {
  const cursor = after ? await db.user.findFirst({ where: { id: after, orgId }, select: { id: true, name: true } }) : null;
  const filter = Prisma.sql`u."orgId" = ${orgId} AND u."status" = 'active' AND u."email" IS NOT NULL AND u."passwordHash" IS NULL
    AND NOT EXISTS (SELECT 1 FROM "OneTimeToken" t WHERE t."type" = 'invitation' AND t."target" = u."id")
    ${q ? Prisma.sql`AND (LOWER(u."name") LIKE ${likePattern(q)} ESCAPE '\\' OR LOWER(u."email") LIKE ${likePattern(q)} ESCAPE '\\')` : Prisma.empty}`;
  const [page, [{ total }]] = await Promise.all([
    db.$queryRaw<{ id: string }[]>`SELECT u."id" FROM "User" u WHERE ${filter}
      ${cursor ? Prisma.sql`AND (u."name" > ${cursor.name} OR (u."name" = ${cursor.name} AND u."id" > ${cursor.id}))` : Prisma.empty}
      ORDER BY u."name" ASC, u."id" ASC LIMIT ${NOT_INVITED_PAGE + 1}`,
    db.$queryRaw<[{ total: number | bigint }]>`SELECT COUNT(*) AS "total" FROM "User" u WHERE ${filter}`,
  ]);
  const ids = page.slice(0, NOT_INVITED_PAGE).map((r) => r.id);
  const [users, { strategyOf }] = await Promise.all([
    db.user.findMany({ where: { id: { in: ids } }, select: { ...strategyUserSelect, name: true, email: true } }),
    orgMethods(orgId),
  ]);
  const byId = new Map(users.map((u) => [u.id, u]));
  const rows = ids.flatMap((id) => {
    const u = byId.get(id);
    return u ? [{ userId: u.id, name: u.name, email: u.email, source: u.source, method: strategyOf(u).method }] : [];
  });
  return { rows, total: Number(total), next: page.length > NOT_INVITED_PAGE ? ids.at(-1)! : null };
}

/** What an invitation link opens: null when it is unknown, used, revoked or expired, or its account is not active. */
export async function openInvitation(token: unknown) {
  const found = await peekToken("invitation", token);
  if (!found) return null;
  const user = await db.user.findUnique({ where: { id: found.target }, include: { org: { select: { name: true } } } });
  if (!user || user.status !== "active") return null;
  const { method } = await signInStrategyFor(user);
  return { user, orgName: user.org.name, method: method === "microsoft" ? ("microsoft" as const) : ("password" as const) };
}

/**
 * Sets the invited user's password and uses the link up. TOTP comes at the first sign-in (enrolment).
 * "microsoft": the strategy says this user signs in with Microsoft, so no password is set.
 */
export async function acceptWithPassword(token: string, password: string, address: string): Promise<"done" | "invalid" | "microsoft"> {
  const invitation = await openInvitation(token);
  if (!invitation) return "invalid";
  if (invitation.method === "microsoft") return "microsoft";
  // Hash first: argon2 is slow, and the token is used up only when everything else is ready.
  const passwordHash = await hashPassword(password);
  if (!(await consumeToken("invitation", token))) return "invalid";
  const { user } = invitation;
  const outcome = await changeMethods(
    { userId: user.id, orgId: user.orgId, address },
    { kind: "password", userId: user.id, hasPassword: true },
    { endSessions: { userId: user.id, all: true }, audit: { action: "invitation.accepted", detail: { method: "password" } } },
    (tx) => tx.user.update({ where: { id: user.id }, data: { passwordHash, passwordChangedAt: new Date(), passwordLockedAt: null } }),
  );
  if (outcome.kind === "refused") return "microsoft";
  await forgetAccount(user.id);
  await revokeTokens("invitation", user.id);
  return "done";
}

/**
 * Starts the Microsoft sign-in for the invited user, with their account as the hint. The link is used up
 * only when that sign-in comes back as the invited identity (tid, oid): another account of the tenant neither
 * signs in nor accepts it (docs/decisions/007). May throw MicrosoftUnavailableError before anything changes.
 */
export async function acceptWithMicrosoft(
  token: string,
): Promise<{ kind: "invalid" } | { kind: "password" } | { kind: "redirect"; url: string; setCookie?: string }> {
  const invitation = await openInvitation(token);
  if (!invitation) return { kind: "invalid" };
  if (invitation.method !== "microsoft") return { kind: "password" };
  const found = await peekToken("invitation", token);
  if (!found) return { kind: "invalid" };
  const start = await microsoftSignInFor(invitation.user, "/", { invitation: found.id });
  return start ? { kind: "redirect", url: start.url, setCookie: start.setCookie } : { kind: "redirect", url: "/login" };
}
