// Microsoft tenant integrations of an organization: add, consent, prove ownership, confirm, remove.
// Every query is scoped by orgId: an admin can never reach another org's integration. A tenant turns active
// only after a sign-in by an admin of that tenant in the same flow (decision 015).
import type { Integration } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { audit } from "./audit.server.ts";
import { issueToken, consumeToken } from "./tokens.server.ts";
import type { LiveSession } from "./session.server.ts";
import { parseTenantInput, resolveTenantId } from "./microsoft/tenants.server.ts";
import { adminConsentUrl, appToken, tenantDisplayName } from "./microsoft/consent.server.ts";
import { isUniqueViolation } from "./db-errors.server.ts";
import { consentAdminRole, roleName } from "./microsoft/directory-roles.ts";
import { MicrosoftUnavailableError } from "./microsoft/http.server.ts";
import { missingPermissions, missingPermissionsSentence, type IntegrationUse } from "./microsoft/permissions.ts";
import { startMicrosoftFlow, type FlowData, type VerifiedIdentity } from "./microsoft/signin.server.ts";
import { whatIf } from "./signin/methods.server.ts";
import { actorOf, changeMethods } from "./signin/change.server.ts";

const STATE_MINUTES = 15;

export type IntegrationStatus = "pending_consent" | "active" | "failed" | "removed";

export async function listIntegrations(orgId: string) {
  const rows = await db.integration.findMany({
    where: { orgId },
    orderBy: { createdAt: "asc" },
    include: { addedBy: { select: { name: true } }, _count: { select: { links: true } } },
  });
  return rows.map((i) => ({
    id: i.id,
    tenantId: i.tenantId,
    tenantDomain: i.tenantDomain,
    displayName: i.displayName,
    status: i.status as IntegrationStatus,
    failureReason: i.failureReason,
    addedBy: i.addedBy?.name ?? null,
    createdAt: i.createdAt.toISOString(),
    consentedAt: i.consentedAt?.toISOString() ?? null,
    linkedUsers: i._count.links,
    ownershipProven: ownershipProven(i),
  }));
}

/** Whether a sign-in by an admin of the tenant proved that this org holds it (and the claim is still this row's). */
export function ownershipProven(integration: Pick<Integration, "ownerProvenAt" | "claimedTenantId" | "tenantId">): boolean {
  return integration.ownerProvenAt !== null && integration.claimedTenantId === integration.tenantId;
}

/** What the org uses the integration for: sign-in only, or as its sync connection (and with which scope). */
export async function integrationUse(integration: Integration): Promise<IntegrationUse> {
  const org = await db.organization.findUnique({ where: { id: integration.orgId }, select: { syncIntegrationId: true } });
  return org?.syncIntegrationId === integration.id ? { sync: true, groupScope: integration.syncScope === "group" } : { sync: false };
}

/**
 * The Graph permissions the org's use needs and the tenant's last app-only token lacked, with the sentence
 * for the admin; null while no token was read yet.
 */
export async function permissionGap(integration: Integration): Promise<{ missing: string[]; sentence: string | null } | null> {
  if (integration.grantedRoles === null) return null;
  const use = await integrationUse(integration);
  const missing = missingPermissions(use, integration.grantedRoles.split(" ").filter(Boolean));
  return { missing, sentence: missing.length ? missingPermissionsSentence(use, missing) : null };
}

export async function findIntegration(orgId: string, id: string): Promise<Integration | null> {
  if (typeof id !== "string" || id.length > 64) return null;
  return db.integration.findFirst({ where: { id, orgId } });
}

export type AddResult = { ok: true; consentUrl: string } | { ok: false; error: string };

/** Registers a tenant for the admin's org (waiting for consent) and returns where to send the admin. */
export async function addIntegration(session: LiveSession, typed: string, address: string): Promise<AddResult> {
  const orgId = session.user.orgId;
  const input = parseTenantInput(typed);
  if (!input)
    return { ok: false, error: "Enter a tenant ID (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47) or a tenant domain such as contoso.onmicrosoft.com." };
  let tenantId: string | null;
  try {
    tenantId = await resolveTenantId(input);
  } catch (error) {
    if (error instanceof MicrosoftUnavailableError)
      return { ok: false, error: "Microsoft could not be reached to look up that tenant. Nothing was saved; try again in a few minutes." };
    throw error;
  }
  if (!tenantId) {
    return {
      ok: false,
      error:
        input.kind === "domain"
          ? `Microsoft knows no tenant for the domain ${input.value}. Check the spelling, or use the tenant ID.`
          : `Microsoft knows no tenant with the ID ${input.value}.`,
    };
  }
  // Another org holds the tenant once its admin proved it (or it was active before proofs existed). A row of
  // another org still waiting for its proof blocks nobody: the tenant goes to the org whose tenant admin signs in.
  const owner = await db.integration.findFirst({
    where: { orgId: { not: orgId }, OR: [{ claimedTenantId: tenantId }, { tenantId, status: "active" }] },
    select: { id: true },
  });
  if (owner) {
    await audit({
      action: "integration.add",
      orgId,
      actorId: session.userId,
      result: "failure",
      detail: { tenantId, reason: "owned by another organization" },
      ipAddress: address,
    });
    return {
      ok: false,
      error: "That tenant is already registered by another organization. A tenant can belong to one organization only; contact support if it should be yours.",
    };
  }
  const existing = await db.integration.findUnique({ where: { orgId_tenantId: { orgId, tenantId } } });
  if (existing && existing.status === "active") return { ok: false, error: "That tenant is already registered and active for your organization." };

  const integration = existing
    ? await db.integration.update({
        where: { id: existing.id },
        data: { status: "pending_consent", failureReason: null, removedAt: null, addedById: session.userId },
      })
    : await db.integration
        .create({ data: { orgId, tenantId, tenantDomain: input.kind === "domain" ? input.value : null, addedById: session.userId } })
        .catch(async (error: unknown) => {
          // Two admins of the org added it at once: both continue with the one row.
          if (!isUniqueViolation(error)) throw error;
          return db.integration.findUniqueOrThrow({ where: { orgId_tenantId: { orgId, tenantId } } });
        });
  await audit({
    action: "integration.add",
    orgId,
    actorId: session.userId,
    targetType: "integration",
    targetId: integration.id,
    detail: { tenantId, typed: input.value },
    ipAddress: address,
  });
  return { ok: true, consentUrl: await consentUrlFor(session, integration) };
}

/** A fresh consent URL whose state is bound to this admin session and used once. */
export async function consentUrlFor(session: LiveSession, integration: Integration): Promise<string> {
  const state = await issueToken("consent_state", session.id, STATE_MINUTES, { integrationId: integration.id });
  return adminConsentUrl(integration.tenantId, state);
}

export type CallbackParams = { state: string | null; error: string | null; errorDescription: string | null; tenant: string | null };

export type CallbackResult =
  | { kind: "bad_state" }
  | { kind: "refused"; integration: Integration; error: string; description: string }
  | { kind: "active"; integration: Integration }
  | { kind: "waiting"; integration: Integration; message: string }
  | { kind: "unavailable"; integration: Integration }
  | { kind: "confirm_lockout"; integration: Integration }
  /** Consent is done; next, an admin of the tenant signs in (the browser goes to `url`). */
  | { kind: "prove_owner"; integration: Integration; url: string }
  /** The tenant's admin has not signed in yet: nothing can turn active. */
  | { kind: "ownership_needed"; integration: Integration };

export async function handleConsentCallback(session: LiveSession, params: CallbackParams, address: string): Promise<CallbackResult> {
  const token = await consumeToken("consent_state", params.state);
  const integrationId = (token?.data as { integrationId?: string } | null)?.integrationId;
  // The state must have been issued to this very session, for an integration of this org.
  const integration = token && token.target === session.id && integrationId ? await findIntegration(session.user.orgId, integrationId) : null;
  if (!integration) {
    await audit({
      action: "integration.consent",
      orgId: session.user.orgId,
      actorId: session.userId,
      result: "failure",
      detail: { reason: "bad state" },
      ipAddress: address,
    });
    return { kind: "bad_state" };
  }
  const base = { orgId: session.user.orgId, actorId: session.userId, targetType: "integration", targetId: integration.id, ipAddress: address };
  if (params.error) {
    const description = (params.errorDescription ?? "").slice(0, 1000);
    // Losing the integration never locks anyone out, so the door always lets this through.
    const updated = (await setStatus(
      session,
      integration,
      address,
      { status: "failed", failureReason: `${params.error}: ${description}`.slice(0, 1000) },
      {
        action: "integration.consent",
        result: "failure",
        detail: { tenantId: integration.tenantId, error: params.error, description },
      },
    ))!;
    return { kind: "refused", integration: updated, error: params.error.slice(0, 100), description };
  }
  if (params.tenant && params.tenant.toLowerCase() !== integration.tenantId) {
    // Not trusted either way; recorded because it means someone consented in another tenant.
    await audit({
      ...base,
      action: "integration.consent.tenant_mismatch",
      result: "failure",
      detail: { expected: integration.tenantId, reported: params.tenant.slice(0, 100) },
    });
  }
  if (!ownershipProven(integration)) {
    try {
      return { kind: "prove_owner", integration, url: await tenantAdminSignInUrl(session, integration) };
    } catch (error) {
      if (error instanceof MicrosoftUnavailableError) return { kind: "unavailable", integration };
      throw error;
    }
  }
  return confirmIntegration(session, integration, address);
}

/**
 * Microsoft's sign-in page in the integration's tenant, for its admin. The state is single-use and bound to
 * this portal session (so to this admin and org) and to the integration; PKCE and nonce as for every sign-in.
 */
export function tenantAdminSignInUrl(session: LiveSession, integration: Integration): Promise<string> {
  return startMicrosoftFlow({
    purpose: "tenant_admin",
    binding: session.id,
    authority: integration.tenantId,
    userId: session.userId,
    integrationId: integration.id,
    returnTo: `/admin/integrations/${integration.id}`,
  });
}

/** Why a tenant admin's sign-in did not prove ownership (the page and the audit detail use the same code). */
export type OwnershipFailure =
  /** The portal user is no longer an admin, or the integration is gone or removed. */
  | "not_allowed"
  /** The Microsoft account is not of the tenant being registered. */
  | "wrong_tenant"
  /** The id_token carries no `wids` claim: the app registration does not emit directory roles. */
  | "roles_not_in_token"
  /** The account holds none of the directory roles that can grant consent. */
  | "not_tenant_admin"
  /** Another organization holds the tenant (it proved ownership first). */
  | "claimed_by_other_org";

export type OwnershipResult = { kind: "failed"; code: OwnershipFailure; integration: Integration | null } | ConfirmResult;

/**
 * The tenant admin's sign-in came back (verified, bound to this session): record who proved the tenant, claim
 * it for the org (one org per tenant, atomically), then confirm consent as "Check again" does.
 */
export async function proveOwnership(session: LiveSession, flow: FlowData, identity: VerifiedIdentity, address: string): Promise<OwnershipResult> {
  const found = session.user.role === "admin" && flow.integrationId ? await findIntegration(session.user.orgId, flow.integrationId) : null;
  const integration = found && found.status !== "removed" ? found : null;
  const who = { tenantId: integration?.tenantId ?? null, signedInTenantId: identity.tenantId, objectId: identity.objectId, upn: identity.upn };
  const fail = async (code: OwnershipFailure, detail: Record<string, unknown> = {}): Promise<OwnershipResult> => {
    await audit({
      action: "integration.ownership",
      orgId: session.user.orgId,
      actorId: session.userId,
      targetType: integration ? "integration" : undefined,
      targetId: integration?.id,
      result: "failure",
      detail: { code, ...who, ...detail },
      ipAddress: address,
    });
    return { kind: "failed", code, integration };
  };
  if (!integration) return fail("not_allowed", { integrationId: flow.integrationId ?? null });
  if (identity.tenantId !== integration.tenantId) return fail("wrong_tenant");
  if (identity.directoryRoles == null) return fail("roles_not_in_token");
  const role = consentAdminRole(identity.directoryRoles);
  if (!role) return fail("not_tenant_admin", { roles: identity.directoryRoles.slice(0, 50) });

  const provenAt = new Date();
  let proven: Integration;
  try {
    proven = await db.integration.update({
      where: { id: integration.id, orgId: session.user.orgId, status: { not: "removed" } },
      data: {
        claimedTenantId: integration.tenantId,
        ownerProvenAt: provenAt,
        ownerProvenById: session.userId,
        ownerObjectId: identity.objectId,
        ownerUpn: identity.upn,
        ownerRole: role.id,
      },
    });
  } catch (error) {
    if (isUniqueViolation(error)) return fail("claimed_by_other_org");
    throw error;
  }
  await audit({
    action: "integration.ownership",
    orgId: session.user.orgId,
    actorId: session.userId,
    targetType: "integration",
    targetId: integration.id,
    detail: { ...who, role: role.id, roleName: role.name, provenAt: provenAt.toISOString() },
    ipAddress: address,
  });
  if (proven.status === "active") return { kind: "active", integration: proven };
  return confirmIntegration(session, proven, address, { lockoutConfirmed: false });
}

/** The proof of ownership as the integration page shows it. */
export function ownershipProof(integration: Integration & { ownerProvenBy?: { name: string | null } | null }) {
  if (!ownershipProven(integration)) return null;
  return {
    provenAt: integration.ownerProvenAt!.toISOString(),
    upn: integration.ownerUpn,
    objectId: integration.ownerObjectId,
    role: roleName(integration.ownerRole),
  };
}

type StatusData = { status: "active" | "pending_consent" | "failed"; failureReason: string | null; consentedAt?: Date; displayName?: string | null };
type StatusAudit = { action: string; result?: "failure"; detail: Record<string, unknown> };

/**
 * The integration's status changes through the method-change path: users linked through it (or synced, when
 * it is the sync connection) move to or from Microsoft with it. Losing the integration can only add admins on
 * password; gaining it back can take the last one to Microsoft, which needs `lockoutConfirmed`.
 */
async function setStatus(
  session: LiveSession,
  integration: Integration,
  address: string,
  data: StatusData,
  event: StatusAudit,
  options: { lockoutConfirmed?: boolean } = {},
) {
  const outcome = await changeMethods(
    actorOf(session, address),
    { kind: "integration", integrationId: integration.id, active: data.status === "active" },
    { lockoutConfirmed: options.lockoutConfirmed, audit: { ...event, targetType: "integration", targetId: integration.id } },
    (tx) => tx.integration.update({ where: { id: integration.id }, data }),
  );
  return outcome.kind === "done" ? outcome.value : null;
}

export type ConfirmResult = Exclude<CallbackResult, { kind: "bad_state" | "refused" | "prove_owner" }>;

/**
 * Turns the integration active if its tenant's admin proved ownership and an app-only token for the tenant can
 * be had now. Without the proof nothing is asked of Microsoft and nothing changes.
 */
export async function confirmIntegration(
  session: LiveSession,
  integration: Integration,
  address: string,
  options: { lockoutConfirmed?: boolean } = {},
): Promise<ConfirmResult> {
  const base = { orgId: session.user.orgId, actorId: session.userId, targetType: "integration", targetId: integration.id, ipAddress: address };
  const token = await appToken(integration.tenantId);
  if (token.kind === "unavailable") {
    await audit({ ...base, action: "integration.confirm", result: "failure", detail: { tenantId: integration.tenantId, reason: token.message } });
    return { kind: "unavailable", integration };
  }
  if (token.kind === "refused") {
    const updated = await setStatus(
      session,
      integration,
      address,
      { status: "pending_consent", failureReason: token.message },
      { action: "integration.confirm", result: "failure", detail: { tenantId: integration.tenantId, reason: token.message } },
    );
    return { kind: "waiting", integration: updated ?? integration, message: token.message };
  }
  // Losing consent may always be recorded; gaining the tenant needs its admin's proof.
  if (!ownershipProven(integration)) {
    await audit({ ...base, action: "integration.confirm", result: "failure", detail: { tenantId: integration.tenantId, reason: "ownership not proven" } });
    return { kind: "ownership_needed", integration };
  }
  const displayName = await tenantDisplayName(token.accessToken);
  const granted = { grantedRoles: token.roles.join(" "), grantedRolesAt: new Date() };
  await db.integration.update({ where: { id: integration.id }, data: granted });
  if (integration.status === "active") return { kind: "active", integration: { ...integration, ...granted } };
  const updated = await setStatus(
    session,
    integration,
    address,
    { status: "active", failureReason: null, consentedAt: new Date(), displayName: displayName ?? integration.displayName },
    { action: "integration.activated", detail: { tenantId: integration.tenantId, displayName, permissions: token.roles } },
    options,
  );
  return updated ? { kind: "active", integration: updated } : { kind: "confirm_lockout", integration };
}

/** Who loses what if the integration goes: the users linked through it, and (by the strategy) where they end up. */
export async function removalPreview(integration: Integration) {
  const [links, preview] = await Promise.all([
    db.microsoftLink.findMany({
      where: { integrationId: integration.id },
      include: { user: { select: { id: true, name: true, email: true } } },
      orderBy: { createdAt: "asc" },
    }),
    whatIf(integration.orgId, { kind: "integration", integrationId: integration.id }),
  ]);
  const linked = links.map((l) => ({ id: l.user.id, name: l.user.name, email: l.user.email, upn: l.upn }));
  return { linked, toPassword: preview.toPassword, toNone: preview.toNone };
}

/**
 * Revokes the links and marks the integration removed, through the method-change path: every user whose
 * method was Microsoft through this tenant (linked, or synced when it is the sync connection) loses their
 * Microsoft sessions. Asks for `lockoutConfirmed` when no admin would be left on password.
 */
export async function removeIntegration(session: LiveSession, integration: Integration, address: string, options: { lockoutConfirmed?: boolean } = {}) {
  const preview = await removalPreview(integration);
  const outcome = await changeMethods(
    actorOf(session, address),
    { kind: "integration", integrationId: integration.id },
    {
      lockoutConfirmed: options.lockoutConfirmed,
      audit: {
        action: "integration.removed",
        targetType: "integration",
        targetId: integration.id,
        detail: { tenantId: integration.tenantId, linksRevoked: preview.linked.length, leftWithoutMethod: preview.toNone.length },
      },
    },
    async (tx) => {
      await tx.microsoftLink.deleteMany({ where: { integrationId: integration.id } });
      // The tenant is free again: its next registration, by this org or another, needs a new proof.
      await tx.integration.update({
        where: { id: integration.id },
        data: { status: "removed", removedAt: new Date(), claimedTenantId: null, ownerProvenAt: null, ownerObjectId: null, ownerUpn: null, ownerRole: null },
      });
    },
  );
  if (outcome.kind !== "done") return { kind: "confirm_lockout" as const, preview };
  return { kind: "done" as const, preview: { ...preview, toPassword: outcome.preview.toPassword, toNone: outcome.preview.toNone } };
}
