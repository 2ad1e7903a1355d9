// Signing in with Microsoft (authorization code + PKCE). The callback trusts nothing it is handed:
// state is single-use and bound to this browser or session, the code is redeemed with the PKCE verifier,
// and the id_token's signature, issuer, audience, expiry, nonce and tenant are checked here with jose.
import { CryptoProvider } from "@azure/msal-node";
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from "jose";
import { env } from "../env.server.ts";
import { consumeToken, issueTokenKeepingNewest } from "../tokens.server.ts";
import { clientId, msalFor } from "./config.server.ts";
import { MicrosoftUnavailableError, outcomeOf } from "./http.server.ts";
import { measureMicrosoft } from "../metrics.server.ts";

/** `tenant_admin`: an org admin registering a tenant proves, by signing in there, that they are its admin. */
export type FlowPurpose = "signin" | "link" | "reauth" | "tenant_admin";

export type FlowData = {
  purpose: FlowPurpose;
  authority: string;
  verifier: string;
  nonce: string;
  returnTo: string;
  /** The user the flow was started for (link, reauth) or expected (sign-in after identifier-first, invitation). */
  userId: string | null;
  /** When the flow started (ms): a re-authentication's auth_time must not be older. */
  startedAt?: number;
  /** The user confirmed that linking leaves no admin on password (the link prompt's warning). */
  lockoutConfirmed?: boolean;
  /** The row id (never the token) of an invitation this sign-in accepts when it succeeds, as the invited user. */
  invitation?: string;
  /** The session id or browser binding the callback must come back with (older states: the row's target). */
  binding?: string;
  /** tenant_admin: the integration being registered (its org is the session's). */
  integrationId?: string;
};

const FLOW_MINUTES = 10;
/** Live flow states kept per user (identifier-first, invitations, linking, re-authentication): the newest win. */
export const FLOW_STATES_PER_USER = 10;
/** Live flow states kept per client address for "Sign in with Microsoft" (no user known yet): an office shares one. */
export const FLOW_STATES_PER_ADDRESS = 100;
const SCOPES = ["openid", "profile", "email"];
const crypto = new CryptoProvider();

export const microsoftRedirectUri = () => `${env().APP_ORIGIN}/auth/microsoft/callback`;

export type StartOptions = {
  purpose: FlowPurpose;
  /** The bound session id (link, reauth) or the hash of the anonymous browser's flow cookie (sign-in). */
  binding: string;
  authority: string;
  userId?: string | null;
  loginHint?: string | null;
  domainHint?: string | null;
  returnTo?: string;
  lockoutConfirmed?: boolean;
  invitation?: string;
  integrationId?: string;
  /** Re-authentication: ask Microsoft for a fresh sign-in no older than this many seconds (prompt=login + max_age). */
  maxAgeSeconds?: number;
  /** The client's address: flows for no known user are limited per address. */
  address?: string;
};

/**
 * Whom a flow state counts against: the user it is for, or else the client's address. Each keeps its newest
 * states only, so a loop of identifier POSTs (or button presses) replaces rows instead of adding them; a flow
 * is lost only when that many newer ones start for the same user or address while it is at Microsoft.
 */
function flowKey(options: StartOptions): { target: string; keep: number } {
  if (options.userId) return { target: `user:${options.userId}`, keep: FLOW_STATES_PER_USER };
  return { target: `address:${(options.address ?? "unknown").slice(0, 64)}`, keep: FLOW_STATES_PER_ADDRESS };
}

/** The URL of Microsoft's sign-in page for this flow. Throws MicrosoftUnavailableError when it can't be reached. */
export async function startMicrosoftFlow(options: StartOptions): Promise<string> {
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const nonce = crypto.createNewGuid();
  const data: FlowData = {
    purpose: options.purpose,
    authority: options.authority,
    verifier,
    nonce,
    returnTo: options.returnTo ?? "/",
    userId: options.userId ?? null,
    startedAt: Date.now(),
    ...(options.lockoutConfirmed ? { lockoutConfirmed: true } : {}),
    ...(options.invitation ? { invitation: options.invitation } : {}),
    binding: options.binding,
    ...(options.integrationId ? { integrationId: options.integrationId } : {}),
  };
  const key = flowKey(options);
  const state = await issueTokenKeepingNewest("oauth_state", key.target, FLOW_MINUTES, data, key.keep);
  try {
    return await msalFor(options.authority).getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: microsoftRedirectUri(),
      state,
      nonce,
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
      responseMode: "query",
      ...(options.loginHint ? { loginHint: options.loginHint } : {}),
      ...(options.domainHint ? { domainHint: options.domainHint } : {}),
      ...(options.purpose === "link" || options.purpose === "tenant_admin" ? { prompt: "select_account" } : {}),
      ...(options.maxAgeSeconds !== undefined ? { prompt: "login", extraQueryParameters: { max_age: String(options.maxAgeSeconds) } } : {}),
    });
  } catch (error) {
    throw asUnavailable(error);
  }
}

export type VerifiedIdentity = {
  tenantId: string;
  objectId: string;
  name: string | null;
  upn: string | null;
  email: string | null;
  /** When the person last authenticated at Microsoft (seconds), when the token says. */
  authTime: number | null;
  /**
   * The `wids` claim: template IDs of the tenant-wide directory roles the person holds. Null when the token has
   * no such claim (the app registration's groupMembershipClaims does not include directory roles).
   */
  directoryRoles?: string[] | null;
};

export type CallbackOutcome =
  | { kind: "ok"; flow: FlowData; identity: VerifiedIdentity }
  | { kind: "cancelled"; flow: FlowData | null; description: string }
  | { kind: "bad_state" }
  | { kind: "invalid_token"; flow: FlowData; reason: string }
  | { kind: "unavailable"; flow: FlowData | null };

const jwksByTenant = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function tenantKeys(tenantId: string) {
  let keys = jwksByTenant.get(tenantId);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(`${env().ENTRA_AUTHORITY_HOST}/${tenantId}/discovery/v2.0/keys`), {
      timeoutDuration: env().MICROSOFT_TIMEOUT_MS,
      cooldownDuration: 30_000,
      cacheMaxAge: 60 * 60_000,
      // jose fetches the keys itself: timed and counted like every other request to Microsoft.
      [customFetch]: (url, init) => measureMicrosoft("keys", () => fetch(url, init), outcomeOf),
    });
    jwksByTenant.set(tenantId, keys);
  }
  return keys;
}

/** Tests and restarts: fetch every tenant's keys afresh. */
export function forgetTenantKeys() {
  jwksByTenant.clear();
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks everything about an id_token that MSAL does not: signature, iss for its tid, aud, exp, nonce. */
export async function verifyIdToken(idToken: string, expectedNonce: string): Promise<VerifiedIdentity> {
  const [, body] = idToken.split(".");
  const unverified = JSON.parse(Buffer.from(body ?? "", "base64url").toString("utf8") || "{}") as JWTPayload & { tid?: unknown };
  const tid = typeof unverified.tid === "string" && GUID.test(unverified.tid) ? unverified.tid.toLowerCase() : null;
  if (!tid) throw new InvalidTokenError("the token names no tenant");
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, tenantKeys(tid), {
      issuer: `${env().ENTRA_AUTHORITY_HOST}/${tid}/v2.0`,
      audience: clientId(),
      algorithms: ["RS256"],
      clockTolerance: 60,
      requiredClaims: ["exp", "iat", "oid", "tid", "nonce"],
    }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    // No published key for the token even after a refresh: a key rotation Microsoft has not finished, or a
    // forgery; refused either way, and worded as "try again later" because the former is what people meet.
    if (
      code === "ERR_JWKS_TIMEOUT" ||
      code === "ERR_JWKS_NO_MATCHING_KEY" ||
      /fetch failed|ECONNREFUSED|ENOTFOUND/.test(String((error as Error).message)) ||
      code === "ERR_JOSE_GENERIC"
    ) {
      throw new MicrosoftUnavailableError(`keys could not be fetched (${code || (error as Error).message})`);
    }
    throw new InvalidTokenError(code ? `${code}: ${(error as Error).message}` : (error as Error).message);
  }
  if (payload.nonce !== expectedNonce) throw new InvalidTokenError("nonce mismatch");
  const oid = typeof payload.oid === "string" && GUID.test(payload.oid) ? payload.oid.toLowerCase() : null;
  if (!oid || (payload.tid as string).toLowerCase() !== tid) throw new InvalidTokenError("missing oid or tid");
  const str = (v: unknown) => (typeof v === "string" ? v.slice(0, 320) : null);
  const authTime = typeof payload.auth_time === "number" && Number.isFinite(payload.auth_time) ? payload.auth_time : null;
  const wids = Array.isArray(payload.wids) ? payload.wids.filter((w): w is string => typeof w === "string" && GUID.test(w)).map((w) => w.toLowerCase()) : null;
  return {
    tenantId: tid,
    objectId: oid,
    name: str(payload.name),
    upn: str(payload.preferred_username),
    email: str(payload.email),
    authTime,
    directoryRoles: wids,
  };
}

export class InvalidTokenError extends Error {}

function asUnavailable(error: unknown): Error {
  for (let e = error as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof MicrosoftUnavailableError) return e;
  }
  const code = (error as { errorCode?: string }).errorCode ?? "";
  if (/network|timed_out|endpoints_resolution|openid_config|authority/i.test(code)) return new MicrosoftUnavailableError(code);
  return error as Error;
}

/** Redeems the callback: state first (single use, bound), then the code, then the token checks. */
export async function completeMicrosoftFlow(query: URLSearchParams, binding: string): Promise<CallbackOutcome> {
  const token = await consumeToken("oauth_state", query.get("state"));
  const flow = token && ((token.data as FlowData).binding ?? token.target) === binding ? (token.data as FlowData) : null;
  const error = query.get("error");
  if (error) {
    // A cancelled or failed sign-in at Microsoft: no token to check, nothing to change.
    return { kind: "cancelled", flow, description: (query.get("error_description") ?? error).slice(0, 500) };
  }
  if (!flow) return { kind: "bad_state" };
  const code = query.get("code");
  if (!code || code.length > 4096) return { kind: "invalid_token", flow, reason: "no authorization code" };

  const client = msalFor(flow.authority);
  let idToken: string;
  try {
    const result = await client.acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri: microsoftRedirectUri(),
      codeVerifier: flow.verifier,
      nonce: flow.nonce,
    });
    idToken = result.idToken;
    // MSAL caches every account in memory; the portal keeps its own session, so drop it.
    if (result.account) await client.getTokenCache().removeAccount(result.account);
  } catch (err) {
    const unavailable = asUnavailable(err);
    if (unavailable instanceof MicrosoftUnavailableError) return { kind: "unavailable", flow };
    return { kind: "invalid_token", flow, reason: (err as Error).message.split("\n")[0]!.slice(0, 300) };
  }
  try {
    return { kind: "ok", flow, identity: await verifyIdToken(idToken, flow.nonce) };
  } catch (err) {
    if (err instanceof MicrosoftUnavailableError) return { kind: "unavailable", flow };
    return { kind: "invalid_token", flow, reason: (err as Error).message.slice(0, 300) };
  }
}
