// The portal as the OpenID Provider of the company's apps (docs/decisions/019-openid-provider.md), on oidc-provider.
// Issuer: APP_ORIGIN itself, discovery at /.well-known/openid-configuration, every endpoint under /oidc/.
// Authorization code with PKCE S256 only; refresh tokens rotate, a reused one ends its grant; the interaction is
// the portal's own sign-in (interaction.server.ts); every registered app is first-party, so there is no consent page.
import { createHmac } from "node:crypto";
import Provider, { interactionPolicy, type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import { db } from "../db.server.ts";
import { env } from "../env.server.ts";
import { getSession } from "../session.server.ts";
import { adapterFor } from "./adapter.server.ts";
import { noteGrantSuccess, writeNoted } from "./audit.server.ts";
import { compareSecret } from "./clients.server.ts";
import { errorPage, logoutPage } from "./pages.server.ts";
import { INTERACTION_PREFIX, OIDC_PREFIX } from "./paths.ts";
import { log } from "../log.server.ts";
import { countTokenFailure, tokenFailuresBlockedUntil } from "../throttle.server.ts";

/** Lifetimes in seconds (the decision record gives the reasons). */
export const LIFETIMES = {
  AuthorizationCode: 60,
  AccessToken: 10 * 60,
  IdToken: 10 * 60,
  /** A refresh token unused this long expires; each refresh issues a new one, never past its grant. */
  RefreshToken: 14 * 24 * 3600,
  /** An app grant's absolute lifetime: after it the app signs the user in again. */
  Grant: 30 * 24 * 3600,
  Interaction: 30 * 60,
  Session: 12 * 3600,
};

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

export const SCOPES = ["openid", "offline_access", "profile", "email", "org"];

/** What oidc-provider needs to know of how the user signed in to the portal (RFC 8176 values). */
export function amrOf(authMethod: string | null): string[] {
  if (authMethod === "microsoft") return ["fed"];
  return ["pwd", "otp", "mfa"];
}

/** The portal's sign-in session in the request's cookies, if it is signed in (the same rules as every page). */
export async function portalSessionOf(cookie: string | undefined) {
  const session = await getSession(new Request(`${env().APP_ORIGIN}/`, { headers: { Cookie: cookie ?? "" } }));
  return session?.stage === "active" ? session : null;
}

// Every key of SESSION_SECRET, turned into a key of its own for the provider's cookies (the first signs).
const cookieKeys = () =>
  env()
    .SESSION_SECRET.split(",")
    .map((secret) => createHmac("sha256", secret).update("oidc-provider cookies").digest("base64url"));

/**
 * The provider's own session remembers who signed in through it; it counts only while the portal session in the
 * same browser is signed in as the same user. Signing out of the portal, or another user signing in, brings the
 * next app sign-in back to the portal's pages.
 */
const portalSessionCheck = new interactionPolicy.Check(
  "portal_session",
  "the portal session of this browser is not signed in as this user",
  "login_required",
  async (ctx) => {
    if (ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const portal = await portalSessionOf(ctx.get("cookie"));
    const session = ctx.oidc.session;
    // The same sign-in, too: after a re-authentication in the portal, the provider learns its time (auth_time, max_age).
    const same = portal && portal.userId === session?.accountId && epoch(portal.authenticatedAt ?? portal.createdAt) === session.loginTs;
    return same ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
  },
);

function policy() {
  const base = interactionPolicy.base();
  base.get("login")!.checks.add(portalSessionCheck);
  // The library asks native apps for consent at every sign-in; the portal's apps are first-party (decision 019
  // says what that gives up, RFC 8252 §8.6).
  base.get("consent")!.checks.remove("native_client_prompt");
  return base;
}

async function findAccount(_ctx: KoaContextWithOIDC, sub: string) {
  const user = await db.user.findUnique({ where: { id: sub }, include: { org: { select: { id: true, name: true } } } });
  if (!user || user.status !== "active") return undefined;
  return {
    accountId: user.id,
    async claims() {
      return { sub: user.id, name: user.name, ...(user.email ? { email: user.email } : {}), org: { id: user.org.id, name: user.org.name } };
    },
  };
}

export function providerConfiguration(): Configuration {
  return {
    adapter: adapterFor,
    findAccount,
    jwks: { keys: env().OIDC_JWKS as never },
    cookies: {
      keys: cookieKeys(),
      long: { sameSite: "lax", httpOnly: true, secure: env().APP_ORIGIN.startsWith("https:") },
      short: { sameSite: "lax", httpOnly: true, secure: env().APP_ORIGIN.startsWith("https:"), path: "/" },
      names: { session: "oidc_session", interaction: "oidc_interaction", resume: "oidc_resume" },
    },
    routes: {
      authorization: `${OIDC_PREFIX}/auth`,
      token: `${OIDC_PREFIX}/token`,
      userinfo: `${OIDC_PREFIX}/me`,
      jwks: `${OIDC_PREFIX}/jwks`,
      revocation: `${OIDC_PREFIX}/token/revocation`,
      end_session: `${OIDC_PREFIX}/session/end`,
    },
    scopes: SCOPES,
    // auth_time and amr in every id_token: apps that need a recent or a multi-factor sign-in check them.
    claims: { openid: ["sub", "auth_time", "amr"], profile: ["name"], email: ["email"], org: ["org"], acr: null, sid: null, iss: null },
    responseTypes: ["code"],
    pkce: { required: () => true },
    clientDefaults: { grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], id_token_signed_response_alg: env().OIDC_JWKS[0]!.alg },
    clientAuthMethods: ["none", "client_secret_basic"],
    enabledJWA: { idTokenSigningAlgValues: ["ES256", "RS256"] },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      introspection: { enabled: false },
      registration: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource: logoutPage, postLogoutSuccessSource: logoutPage },
    },
    interactions: { url: (_ctx, interaction) => `${INTERACTION_PREFIX}${interaction.uid}`, policy: policy() },
    // First-party apps only: the grant an authorization needs is made here, so no consent page is ever shown. Each
    // sign-in of an app is a grant of its own (what the user sees as one app session); the one made before an
    // interaction is kept through it.
    async loadExistingGrant(ctx) {
      const { client, session, provider, entities } = ctx.oidc;
      const earlier = ctx.oidc.result?.consent?.grantId ?? (entities.Interaction as { grantId?: string } | undefined)?.grantId;
      const existing = earlier ? await provider.Grant.find(earlier) : undefined;
      if (existing && existing.accountId === session!.accountId && existing.clientId === client!.clientId) return existing;
      // Made for someone who then signed in as another user: it never issued anything.
      await existing?.destroy();
      const grant = new provider.Grant({ clientId: client!.clientId, accountId: session!.accountId! });
      grant.addOIDCScope(SCOPES.join(" "));
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: true,
    // An app grant lives on its own (its lifetimes below, ended by revocation or by the portal's rules), not as long
    // as the provider's browser session, which the interaction re-creates from the portal session as needed.
    expiresWithSession: async () => false,
    ttl: {
      AuthorizationCode: LIFETIMES.AuthorizationCode,
      AccessToken: LIFETIMES.AccessToken,
      IdToken: LIFETIMES.IdToken,
      Interaction: LIFETIMES.Interaction,
      Session: LIFETIMES.Session,
      Grant: LIFETIMES.Grant,
      RefreshToken(ctx) {
        const grant = ctx?.oidc.entities.Grant;
        const left = grant?.exp ? grant.exp - Math.floor(Date.now() / 1000) : LIFETIMES.RefreshToken;
        return Math.max(1, Math.min(LIFETIMES.RefreshToken, left));
      },
    },
    renderError: errorPage,
    // The id_token carries who the user is; the rest comes from userinfo with the access token.
    conformIdTokenClaims: true,
  };
}

/** Errors that say a client's secret, code or refresh token did not hold: what the address throttle counts. */
const COUNTED_ERRORS = new Set(["invalid_client", "invalid_grant"]);

/**
 * A failed token request counts on its address; past the limit, a failure is answered 429 slow_down with
 * Retry-After instead of what went wrong, until the address's window ends. The request was handled as usual, so
 * a success (a refresh of a fleet behind one address) and a reuse that ends a grant are never held back.
 */
async function throttleFailure(ctx: KoaContextWithOIDC, blockedUntil: Date | null) {
  const error = (ctx.body as { error?: string } | undefined)?.error;
  if (ctx.status < 400 || !error || !COUNTED_ERRORS.has(error)) return;
  if (blockedUntil) {
    ctx.status = 429;
    ctx.remove("WWW-Authenticate");
    ctx.set("Retry-After", String(Math.max(1, Math.ceil((blockedUntil.getTime() - Date.now()) / 1000))));
    ctx.body = { error: "slow_down", error_description: "too many failed requests from this address; try again later" };
    return;
  }
  await countTokenFailure(ctx.ip).catch((err: unknown) => log.error({ err }, "Could not count a failed token request."));
}

let provider: Provider | undefined;

/** The provider, made once per process from the validated configuration. */
export function oidcProvider(): Provider {
  if (provider) return provider;
  provider = new Provider(env().APP_ORIGIN, providerConfiguration());
  // The portal decides what the request's origin is (APP_ORIGIN), as for its pages: server/app.ts says so in the
  // forwarded headers it hands over, whatever the client wrote.
  provider.proxy = true;
  // A confidential app's secret is stored as a hash: compare what it sends with that hash.
  provider.Client.prototype.compareClientSecret = function (this: { clientSecret?: string }, actual: string) {
    return Boolean(this.clientSecret) && compareSecret(this.clientSecret!, actual);
  };
  // Apps' sign-ins and refreshes, and reuses that end a grant, in the audit log before the answer leaves.
  provider.on("grant.success", noteGrantSuccess);
  provider.use(async (ctx, next) => {
    const tokenRequest = ctx.method === "POST" && ctx.path === `${OIDC_PREFIX}/token`;
    const blockedUntil = tokenRequest ? await tokenFailuresBlockedUntil(ctx.ip) : null;
    await next();
    await writeNoted(ctx as KoaContextWithOIDC);
    if (tokenRequest) await throttleFailure(ctx as KoaContextWithOIDC, blockedUntil);
  });
  // The library answers its own 500s (server_error) and says nothing: the operator must hear of them.
  provider.on("server_error", (ctx: KoaContextWithOIDC, error: Error) => {
    log.error({ err: error, method: ctx.method, path: ctx.path }, "OpenID Provider error.");
  });
  return provider;
}
