// Where to send a user to Microsoft, for each reason the portal has to.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";
import { signInStrategyFor, microsoftIdentityOf } from "../sign-in-method.server.ts";
import type { LiveSession } from "../session.server.ts";
import { bindBrowser } from "./flow-cookie.server.ts";
import { startMicrosoftFlow } from "./signin.server.ts";

/** Identifier-first: a user whose method is Microsoft goes straight there, with their account as the hint. */
export async function microsoftSignInFor(user: User, returnTo: string) {
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
  });
  return { url, setCookie };
}

/** The "Sign in with Microsoft" button: any work or school account; the callback finds the user by (tid, oid). */
export async function microsoftSignInAnyone(returnTo: string) {
  const { binding, setCookie } = await bindBrowser();
  const url = await startMicrosoftFlow({ purpose: "signin", binding, authority: "organizations", returnTo });
  return { url, setCookie };
}

/** Linking: the org's tenant when it has one integration, otherwise "organizations" with a domain hint. */
export async function microsoftLinkFor(session: LiveSession, returnTo: string) {
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
  });
}

/** Re-authentication before a sensitive change (unlink), with the account the user is linked to. */
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
  });
}
