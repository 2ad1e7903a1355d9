// Signing in, linking and re-authenticating with Microsoft, on top of the plain client in app/lib/microsoft/:
// where to send a person for each reason, and what a callback means. The completion returns a closed set of
// named outcomes; pages and audit details use the same codes.
import type { User } from "~/generated/prisma/client.ts";
import { audit } from "../audit.server.ts";
import { db } from "../db.server.ts";
import { createLink } from "../links.server.ts";
import { bindBrowser } from "../microsoft/flow-cookie.server.ts";
import { completeMicrosoftFlow, startMicrosoftFlow, type FlowData, type FlowPurpose, type VerifiedIdentity } from "../microsoft/signin.server.ts";
import { safeRedirectPath } from "../security.server.ts";
import type { LiveSession } from "../session.server.ts";
import { consumeTokenById } from "../tokens.server.ts";
import { completeSignIn, type Next } from "./complete.server.ts";
import { metrics } from "../metrics.server.ts";
import { linkOfferIgnoringDecline, microsoftIdentityOf, signInStrategyFor, userForMicrosoftIdentity, whatIf } from "./methods.server.ts";
import { freshness, markReauthenticated, RECENT_AUTH_SECONDS } from "./step-up.server.ts";

/** Identifier-first (and invitations): a user whose method is Microsoft goes straight there, with their account as the hint. */
export async function microsoftSignInFor(user: User, returnTo: string, options: { invitation?: string } = {}) {
  const strategy = await signInStrategyFor(user);
  if (strategy.method !== "microsoft") return null;
  const identity = await microsoftIdentityOf(user, strategy);
  if (!identity) return null;
  const { binding, setCookie } = await bindBrowser();
  const url = await startMicrosoftFlow({
    purpose: "signin",
    binding,
    authority: identity.tenantId,
    userId: user.id,
    loginHint: identity.upn ?? user.email,
    returnTo,
    invitation: options.invitation,
  });
  return { url, setCookie };
}

/** The "Sign in with Microsoft" button: any work or school account; the callback finds the user by (tid, oid). */
export async function microsoftSignInAnyone(returnTo: string, address: string) {
  const { binding, setCookie } = await bindBrowser();
  const url = await startMicrosoftFlow({ purpose: "signin", binding, authority: "organizations", returnTo, address });
  return { url, setCookie };
}

/** Linking: the org's tenant when it has one integration, otherwise "organizations" with a domain hint. */
export async function microsoftLinkFor(session: LiveSession, returnTo: string, options: { lockoutConfirmed?: boolean } = {}) {
  const integrations = await db.integration.findMany({ where: { orgId: session.user.orgId, status: "active" } });
  const domain = session.user.email?.split("@")[1] ?? null;
  const single = integrations.length === 1 ? integrations[0]! : null;
  const hinted = domain ? integrations.find((i) => i.tenantDomain === domain) : undefined;
  return startMicrosoftFlow({
    purpose: "link",
    binding: session.id,
    authority: single ? single.tenantId : "organizations",
    userId: session.userId,
    loginHint: session.user.email,
    domainHint: single ? null : hinted ? domain : null,
    returnTo,
    lockoutConfirmed: options.lockoutConfirmed,
  });
}

/** Re-authentication before changing a factor, with the account the user signs in with: a fresh sign-in at Microsoft. */
export async function microsoftReauthFor(session: LiveSession, returnTo: string) {
  const strategy = await signInStrategyFor(session.user);
  const identity = await microsoftIdentityOf(session.user, strategy);
  if (!identity) return null;
  return startMicrosoftFlow({
    purpose: "reauth",
    binding: session.id,
    authority: identity.tenantId,
    userId: session.userId,
    loginHint: identity.upn ?? session.user.email,
    returnTo,
    maxAgeSeconds: RECENT_AUTH_SECONDS,
  });
}

/** Why a Microsoft callback did not succeed. */
export type MicrosoftFailure =
  /** The person cancelled at Microsoft, or Microsoft answered with an error. */
  | "cancelled"
  /** The state is unknown, used, expired, or bound to another browser or session. */
  | "state_unknown"
  /** The code could not be redeemed, or the id_token failed a check (signature, issuer, audience, nonce). */
  | "token_invalid"
  | "microsoft_unavailable"
  /** No active user of an org with that tenant active has this (tid, oid). */
  | "identity_unknown"
  /** The user exists but their method is not Microsoft with this identity. */
  | "method_not_microsoft"
  /** The sign-in was for a given user (identifier-first, invitation, re-authentication) and another account came back. */
  | "identity_not_expected"
  /** Linking: the tenant is not an active integration of the user's org. */
  | "tenant_not_active"
  /** Linking: the identity already belongs to another user. */
  | "identity_taken"
  | "already_linked"
  /** Linking would leave no admin on password, and the user did not confirm it. */
  | "lockout_not_confirmed"
  /** Re-authentication: Microsoft's answer does not show a fresh sign-in (auth_time). */
  | "reauth_not_fresh";

export type MicrosoftOutcome =
  | { kind: "signed_in"; next: Next }
  | { kind: "linked"; passwordRemoved: boolean }
  | { kind: "reauthenticated"; returnTo: string }
  /** A tenant admin's sign-in for registering a tenant: verified and bound to this session; the integration decides. */
  | { kind: "tenant_admin"; session: LiveSession; flow: FlowData; identity: VerifiedIdentity }
  | { kind: "failed"; code: MicrosoftFailure; purpose: FlowPurpose | null };

/** Allowed clock difference between Microsoft and the portal when comparing auth_time. */
const CLOCK_SKEW_SECONDS = 60;

type Callback = { request: Request; query: URLSearchParams; session: LiveSession | null; browserBinding: string | null; address: string };

/** Redeems a callback and does what its flow was for. */
export async function completeMicrosoft(callback: Callback): Promise<MicrosoftOutcome> {
  const outcome = await microsoftCallback(callback);
  // Sign-ins only (not linking or re-authentication); successes are counted by completeSignIn.
  if (outcome.kind === "failed" && outcome.purpose === "signin") metrics.signIns.inc({ method: "microsoft", outcome: "failure" });
  return outcome;
}

async function microsoftCallback({ request, query, session, browserBinding, address }: Callback): Promise<MicrosoftOutcome> {
  const outcome = await completeMicrosoftFlow(query, session ? session.id : (browserBinding ?? "none"));
  const purpose = "flow" in outcome ? (outcome.flow?.purpose ?? null) : null;
  const failed = async (code: MicrosoftFailure, detail: Record<string, unknown> = {}, user?: User | null): Promise<MicrosoftOutcome> => {
    await audit({
      action: purpose === "link" ? "link.created" : purpose === "reauth" ? "reauth.microsoft" : "signin.microsoft.failed",
      orgId: user?.orgId ?? session?.user.orgId ?? null,
      actorId: user?.id ?? session?.userId ?? null,
      result: "failure",
      ipAddress: address,
      detail: { code, ...detail },
    });
    return { kind: "failed", code, purpose };
  };

  if (outcome.kind === "cancelled") return { kind: "failed", code: "cancelled", purpose };
  if (outcome.kind === "bad_state") return { kind: "failed", code: "state_unknown", purpose };
  if (outcome.kind === "unavailable") return { kind: "failed", code: "microsoft_unavailable", purpose };
  if (outcome.kind === "invalid_token") return failed("token_invalid", { reason: outcome.reason });

  const { flow, identity } = outcome;
  const who = { tenantId: identity.tenantId, objectId: identity.objectId };
  if (flow.purpose === "signin") {
    const user = await userForMicrosoftIdentity(identity.tenantId, identity.objectId);
    if (!user) return failed("identity_unknown", who);
    // Identifier-first and invitations expect one user: another account of the tenant does not stand in for them.
    if (flow.userId && flow.userId !== user.id) return failed("identity_not_expected", { ...who, expectedUserId: flow.userId }, user);
    const strategy = await signInStrategyFor(user);
    const expected = await microsoftIdentityOf(user, strategy);
    if (strategy.method !== "microsoft" || expected?.tenantId !== identity.tenantId || expected.objectId !== identity.objectId) {
      return failed("method_not_microsoft", who, user);
    }
    if (flow.invitation) await acceptInvitation(flow, user, address);
    const next = await completeSignIn(request, user, { factor: "microsoft", tenantId: identity.tenantId }, address, flow.returnTo);
    return { kind: "signed_in", next };
  }

  // Linking and re-authentication happen inside the session that started them.
  if (!session || session.userId !== flow.userId) return { kind: "failed", code: "state_unknown", purpose };
  if (flow.purpose === "tenant_admin") return { kind: "tenant_admin", session, flow, identity };

  if (flow.purpose === "link") {
    const result = await createLink(session.user, identity, address, { lockoutConfirmed: flow.lockoutConfirmed });
    if (result.ok) return { kind: "linked", passwordRemoved: result.passwordRemoved };
    const code = (
      { wrong_tenant: "tenant_not_active", taken: "identity_taken", already_linked: "already_linked", confirm_lockout: "lockout_not_confirmed" } as const
    )[result.reason];
    return { kind: "failed", code, purpose };
  }

  const strategy = await signInStrategyFor(session.user);
  const expected = await microsoftIdentityOf(session.user, strategy);
  if (expected?.tenantId !== identity.tenantId || expected.objectId !== identity.objectId) return failed("identity_not_expected", who);
  const startedAt = Math.floor((flow.startedAt ?? 0) / 1000);
  if (identity.authTime === null || identity.authTime < startedAt - CLOCK_SKEW_SECONDS)
    return failed("reauth_not_fresh", { ...who, authTime: identity.authTime, startedAt });
  await markReauthenticated(session.id);
  await audit({ action: "reauth.microsoft", orgId: session.user.orgId, actorId: session.userId, ipAddress: address });
  return { kind: "reauthenticated", returnTo: safeRedirectPath(flow.returnTo, "/") };
}

/** The invitation is accepted by the invited identity only, once its sign-in succeeded (docs/decisions/007). */
async function acceptInvitation(flow: FlowData, user: User, address: string) {
  const token = await consumeTokenById("invitation", flow.invitation);
  if (!token || token.target !== user.id) return;
  await audit({
    action: "invitation.accepted",
    orgId: user.orgId,
    actorId: user.id,
    targetType: "user",
    targetId: user.id,
    ipAddress: address,
    detail: { method: "microsoft" },
  });
}

/** Whether linking a Microsoft account would take this user's org to no admin on password (they are the last one). */
export async function linkingLocksOut(user: User): Promise<boolean> {
  const integration = await db.integration.findFirst({ where: { orgId: user.orgId, status: "active" }, select: { id: true } });
  if (!integration) return false;
  return (await whatIf(user.orgId, { kind: "link", userId: user.id, integrationId: integration.id })).locksOut;
}

export type StartLink = { kind: "redirect"; url: string } | { kind: "not_offered" } | { kind: "step_up" } | { kind: "confirm_lockout" };

/**
 * "Use Microsoft" (the prompt after sign-in, or My Profile): a factor change, so it needs a recent sign-in
 * with the current method, and the last admin on password must say yes first. `ignoreDecline`: My Profile
 * still offers the link after "Don't ask again".
 */
export async function startLink(
  session: LiveSession,
  returnTo: string,
  options: { lockoutConfirmed?: boolean; ignoreDecline?: boolean } = {},
): Promise<StartLink> {
  const offered = options.ignoreDecline ? await linkOfferIgnoringDecline(session.user) : (await signInStrategyFor(session.user)).offerLink;
  if (!offered) return { kind: "not_offered" };
  if (!(await freshness(session)).recent) return { kind: "step_up" };
  if (!options.lockoutConfirmed && (await linkingLocksOut(session.user))) return { kind: "confirm_lockout" };
  if (session.user.linkPrompt === "declined") await db.user.update({ where: { id: session.userId }, data: { linkPrompt: "ask" } });
  return { kind: "redirect", url: await microsoftLinkFor(session, returnTo, { lockoutConfirmed: options.lockoutConfirmed }) };
}

/** "Don't ask again" after sign-in. */
export async function declineLinkPrompt(session: LiveSession) {
  await db.user.update({ where: { id: session.userId }, data: { linkPrompt: "declined" } });
  await audit({ action: "link.prompt.declined", orgId: session.user.orgId, actorId: session.userId });
}
