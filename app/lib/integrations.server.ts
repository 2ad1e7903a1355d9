// Microsoft tenant integrations of an organization: add, consent, confirm, remove.
// Every query is scoped by orgId: an admin can never reach another org's integration.
import type { Integration } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { audit } from "./audit.server.ts";
import { issueToken, consumeToken } from "./tokens.server.ts";
import type { LiveSession } from "./session.server.ts";
import { parseTenantInput, resolveTenantId } from "./microsoft/tenants.server.ts";
import { adminConsentUrl, appToken, tenantDisplayName } from "./microsoft/consent.server.ts";
import { MicrosoftUnavailableError } from "./microsoft/http.server.ts";
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
  }));
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
  const existing = await db.integration.findUnique({ where: { tenantId } });
  if (existing && existing.orgId !== orgId) {
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
  if (existing && existing.status === "active") return { ok: false, error: "That tenant is already registered and active for your organization." };

  const integration = existing
    ? await db.integration.update({
        where: { id: existing.id },
        data: { status: "pending_consent", failureReason: null, removedAt: null, addedById: session.userId },
      })
    : await db.integration.create({ data: { orgId, tenantId, tenantDomain: input.kind === "domain" ? input.value : null, addedById: session.userId } });
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
  | { kind: "confirm_lockout"; integration: Integration };

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
  return confirmIntegration(session, integration, address);
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

export type ConfirmResult = Exclude<CallbackResult, { kind: "bad_state" | "refused" }>;

/** Turns the integration active if an app-only token for its tenant can be had now. */
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
  const displayName = await tenantDisplayName(token.accessToken);
  const updated = await setStatus(
    session,
    integration,
    address,
    { status: "active", failureReason: null, consentedAt: new Date(), displayName: displayName ?? integration.displayName },
    { action: "integration.activated", detail: { tenantId: integration.tenantId, displayName } },
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
      await tx.integration.update({ where: { id: integration.id }, data: { status: "removed", removedAt: new Date() } });
    },
  );
  if (outcome.kind !== "done") return { kind: "confirm_lockout" as const, preview };
  return { kind: "done" as const, preview: { ...preview, toPassword: outcome.preview.toPassword, toNone: outcome.preview.toNone } };
}
