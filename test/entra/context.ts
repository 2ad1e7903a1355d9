// What every route of the stand-in shares: the live directory, the app registration, the token issuer,
// the faults, and short-lived flow state (sign-in and consent requests, authorization codes, refresh tokens).
import { randomBytes } from "node:crypto";
import type { Directory, Tenant } from "./directory.ts";
import type { Faults } from "./faults.ts";
import type { AppRegistration } from "./fixture.ts";
import type { TokenIssuer } from "./tokens.ts";

/** A map whose entries expire; `take` removes as it reads (single use). */
export class Expiring<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  constructor(private readonly ttlMs: number) {}

  /** Stores `value` under a new random key and returns the key. */
  put(value: T, key = randomBytes(32).toString("base64url")): string {
    this.sweep();
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
    return key;
  }

  get(key: string | null | undefined): T | undefined {
    const entry = key ? this.entries.get(key) : undefined;
    if (!entry || entry.expires < Date.now()) return undefined;
    return entry.value;
  }

  delete(key: string) {
    this.entries.delete(key);
  }

  private sweep() {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expires < now) this.entries.delete(key);
  }
}

export type SignInRequest = {
  /** The tenant ID, or "organizations"/"common", from the authorize path. */
  authority: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  scope: string[];
  responseMode: "query" | "form_post" | "fragment";
  loginHint: string | null;
  domainHint: string | null;
  /** `prompt` and `max_age` as sent: whether a remembered Microsoft session may answer (its auth_time). */
  prompt: string | null;
  maxAge: number | null;
};

export type CodeGrant = {
  tenantId: string;
  oid: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string;
  scope: string[];
  issuedAt: number;
  /** When the user last signed in interactively at Microsoft (the id_token's auth_time). */
  authTime: number;
  redeemed: boolean;
};

export type ConsentRequest = {
  authority: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | null;
  /** The account chosen on the first page. */
  tenantId: string | null;
  oid: string | null;
};

export type RefreshGrant = { tenantId: string; oid: string; clientId: string; scope: string[]; authTime: number };

export class Flows {
  readonly signIns = new Expiring<SignInRequest>(10 * 60_000);
  /** Codes live 5 minutes; a redeemed code stays known so that a replay gets Entra's "already redeemed". */
  readonly codes = new Expiring<CodeGrant>(5 * 60_000);
  readonly consents = new Expiring<ConsentRequest>(10 * 60_000);
  readonly refreshTokens = new Expiring<RefreshGrant>(24 * 3600_000);
}

/**
 * The most a delta page holds, whatever `odata.maxpagesize` asks: Graph serves about 100–200 users a page on
 * users/delta and about 500 directory links (group members) on groups/delta.
 */
export type PageLimits = { users: number; members: number };
export const GRAPH_PAGE_LIMITS: PageLimits = { users: 100, members: 500 };

export type Context = {
  /** https://localhost:PORT — also the Graph base URL. */
  baseUrl: string;
  app: AppRegistration;
  readonly directory: Directory;
  readonly flows: Flows;
  tokens: TokenIssuer;
  faults: Faults;
  /** Shared with the Standin object, so that tests and benches can change it while the stand-in runs. */
  readonly pageLimits: PageLimits;
};

export const MULTI_TENANT = ["organizations", "common"] as const;

export type Authority = { kind: "tenant"; tenant: Tenant; name: string } | { kind: "multi"; name: string } | { kind: "unknown"; name: string };

/** The tenant a path segment names: a tenant ID, one of its domains, or organizations/common. */
export function resolveAuthority(ctx: Context, segment: string): Authority {
  const name = decodeURIComponent(segment).toLowerCase();
  if ((MULTI_TENANT as readonly string[]).includes(name)) return { kind: "multi", name };
  const tenant = ctx.directory.tenant(name);
  return tenant ? { kind: "tenant", tenant, name } : { kind: "unknown", name };
}

/** The tenants whose users may sign in through an authority (organizations/common: all of them). */
export function tenantsOf(ctx: Context, authority: string): Tenant[] {
  const tenant = ctx.directory.tenant(authority);
  return tenant ? [tenant] : ctx.directory.tenants;
}

export function knownClient(ctx: Context, clientId: string | null): boolean {
  return !!clientId && clientId.toLowerCase() === ctx.app.clientId.toLowerCase();
}

/** Registered redirect URIs, or (when the fixture lists none) any http(s) URI on localhost/127.0.0.1. */
export function allowedRedirect(ctx: Context, uri: string | null): boolean {
  if (!uri) return false;
  if (ctx.app.redirectUris) return ctx.app.redirectUris.includes(uri);
  try {
    const url = new URL(uri);
    return ["http:", "https:"].includes(url.protocol) && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) && !url.hash;
  } catch {
    return false;
  }
}
