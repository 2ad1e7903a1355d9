// The audit events of apps' sign-ins (decision 019): each authorization code and each refresh that gives an app
// tokens, and each reuse of a code or refresh token that ends its grant. Noted while the provider handles the
// token request (the reuse by the adapter, which ends the grant), written by the provider's middleware before the
// response leaves: one user lookup (the org) per event, nothing else.
import type { KoaContextWithOIDC } from "oidc-provider";
import { audit } from "../audit.server.ts";
import { db } from "../db.server.ts";
import { log } from "../log.server.ts";

type Noted = { action: "app.signed_in" | "app.token_refreshed" | "app.grant_revoked_on_reuse"; userId: string | null; clientId: string | null };

const noted = new WeakMap<object, Noted[]>();

function note(ctx: object, event: Noted) {
  const list = noted.get(ctx) ?? [];
  list.push(event);
  noted.set(ctx, list);
}

/** The provider's `grant.success`: tokens issued for a code (a sign-in) or a refresh token. */
export function noteGrantSuccess(ctx: KoaContextWithOIDC) {
  const grantType = ctx.oidc.params?.grant_type;
  const action = grantType === "authorization_code" ? "app.signed_in" : grantType === "refresh_token" ? "app.token_refreshed" : null;
  if (!action) return;
  note(ctx, { action, userId: ctx.oidc.account?.accountId ?? null, clientId: ctx.oidc.client?.clientId ?? null });
}

/** A code or refresh token came back after its use and its grant ended (found by the adapter). */
export function noteReuse(ctx: KoaContextWithOIDC, grant: { accountId: string | null; clientId: string | null }) {
  if (ctx.oidc?.route !== "token") return;
  note(ctx, { action: "app.grant_revoked_on_reuse", userId: grant.accountId, clientId: grant.clientId ?? ctx.oidc.client?.clientId ?? null });
}

/**
 * Writes what the request noted. A failure to write is logged, not answered: the tokens are issued by now, and an
 * app that got an error would redeem its used code again, which ends its grant.
 */
export async function writeNoted(ctx: KoaContextWithOIDC) {
  const events = noted.get(ctx);
  if (!events?.length) return;
  noted.delete(ctx);
  const clientName = (ctx.oidc.client?.metadata().client_name as string | undefined) ?? null;
  for (const event of events) {
    try {
      const user = event.userId ? await db.user.findUnique({ where: { id: event.userId }, select: { orgId: true } }) : null;
      await audit({
        action: event.action,
        orgId: user?.orgId ?? null,
        actorId: user ? event.userId : null,
        targetType: "app",
        targetId: event.clientId ?? undefined,
        result: event.action === "app.grant_revoked_on_reuse" ? "failure" : "success",
        detail: { clientId: event.clientId, clientName: clientName ?? event.clientId },
        ipAddress: ctx.ip || undefined,
      });
    } catch (err) {
      log.error({ err, action: event.action }, "Could not write an app sign-in's audit event.");
    }
  }
}
