// Signing keys and the tokens the stand-in issues: id_tokens (v2.0, like Entra's), delegated and app-only
// access tokens for Graph (v1.0, like Entra's for Graph), and their verification by the stand-in's Graph.
import { createHash, randomUUID } from "node:crypto";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, type JWK, type JWTPayload, type CryptoKey } from "jose";
import type { DirectoryUser } from "./directory.ts";

/** Graph's application ID and resource URI; a token for either is a Graph token. */
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
export const GRAPH_RESOURCE = "https://graph.microsoft.com";

type KeyPair = { kid: string; privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: JWK };

async function makeKey(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, kty: "RSA", use: "sig", alg: "RS256" } };
}

export type IdTokenOptions = {
  clientId: string;
  nonce?: string | null;
  scopes?: string[];
  /** Claims to add or override (tests forge bad tokens this way). */
  claims?: Record<string, unknown>;
  lifetimeSeconds?: number;
  /** The user's last interactive sign-in (seconds); now when absent. */
  authTime?: number;
  /** The `wids` claim (directory role template IDs), when the app registration asks for it. */
  wids?: string[];
};

export type AppTokenOptions = { clientId: string; roles?: string[]; audience?: string; claims?: Record<string, unknown>; lifetimeSeconds?: number };

export type SignOptions = { lifetimeSeconds?: number; /** Sign with a key the stand-in never publishes. */ foreignKey?: boolean; kid?: string };

export class TokenIssuer {
  private constructor(
    private readonly baseUrl: string,
    private readonly signing: KeyPair,
    private readonly foreign: KeyPair,
  ) {}

  static async create(baseUrl: string): Promise<TokenIssuer> {
    const [signing, foreign] = await Promise.all([makeKey(), makeKey()]);
    return new TokenIssuer(baseUrl, signing, foreign);
  }

  get kid(): string {
    return this.signing.kid;
  }

  /** The v2.0 issuer of a tenant, exactly as Entra writes it but on the stand-in's host. */
  issuer(tenantId: string): string {
    return `${this.baseUrl}/${tenantId}/v2.0`;
  }

  /** The published key set; without the signing key when the jwksWithoutKey fault is on. */
  jwks(options: { withoutSigningKey?: boolean } = {}): { keys: JWK[] } {
    return { keys: options.withoutSigningKey ? [this.foreign.publicJwk] : [this.signing.publicJwk] };
  }

  /** Entra's pairwise subject: stable per (user, app), different for every app. */
  static pairwiseSub(oid: string, clientId: string): string {
    return createHash("sha256").update(`${oid}|${clientId}`).digest("base64url");
  }

  async sign(claims: JWTPayload & Record<string, unknown>, options: SignOptions = {}): Promise<string> {
    const key = options.foreignKey ? this.foreign : this.signing;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iat: now, nbf: now, exp: now + (options.lifetimeSeconds ?? 3600), ...claims })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: options.kid ?? key.kid })
      .sign(key.privateKey);
  }

  async idToken(tenantId: string, user: DirectoryUser, options: IdTokenOptions): Promise<string> {
    const scopes = options.scopes ?? ["openid", "profile", "email"];
    const claims: Record<string, unknown> = {
      ver: "2.0",
      iss: this.issuer(tenantId),
      aud: options.clientId,
      tid: tenantId,
      oid: user.oid,
      sub: TokenIssuer.pairwiseSub(user.oid, options.clientId),
      uti: randomUUID().replaceAll("-", "").slice(0, 22),
      rh: "0.stand-in.",
      sid: randomUUID(),
      auth_time: options.authTime ?? Math.floor(Date.now() / 1000),
    };
    if (options.nonce) claims.nonce = options.nonce;
    if (options.wids) claims.wids = options.wids;
    if (scopes.includes("profile")) Object.assign(claims, { name: user.displayName, preferred_username: user.userPrincipalName });
    if (scopes.includes("email") && user.mail) claims.email = user.mail;
    return this.sign({ ...claims, ...options.claims }, { lifetimeSeconds: options.lifetimeSeconds });
  }

  /** A delegated token for Graph (what the authorization code flow returns besides the id_token). */
  async delegatedToken(tenantId: string, user: DirectoryUser, options: { clientId: string; scp: string }): Promise<string> {
    return this.sign({
      ver: "1.0",
      iss: `https://sts.windows.net/${tenantId}/`,
      aud: GRAPH_RESOURCE,
      tid: tenantId,
      oid: user.oid,
      sub: TokenIssuer.pairwiseSub(user.oid, GRAPH_APP_ID),
      appid: options.clientId,
      idtyp: "user",
      scp: options.scp,
      upn: user.userPrincipalName,
      name: user.displayName,
    });
  }

  /** An app-only (client credentials) token for Graph, as the stand-in's /token issues after admin consent. */
  async appToken(tenantId: string, options: AppTokenOptions): Promise<string> {
    const servicePrincipal = createHash("sha256").update(`${tenantId}|${options.clientId}`).digest("hex");
    const spOid = `${servicePrincipal.slice(0, 8)}-${servicePrincipal.slice(8, 12)}-4${servicePrincipal.slice(13, 16)}-8${servicePrincipal.slice(17, 20)}-${servicePrincipal.slice(20, 32)}`;
    return this.sign(
      {
        ver: "1.0",
        iss: `https://sts.windows.net/${tenantId}/`,
        idp: `https://sts.windows.net/${tenantId}/`,
        aud: options.audience ?? GRAPH_RESOURCE,
        tid: tenantId,
        oid: spOid,
        sub: spOid,
        appid: options.clientId,
        appidacr: "1",
        idtyp: "app",
        roles: options.roles ?? ["User.Read.All"],
        uti: randomUUID().replaceAll("-", "").slice(0, 22),
        ...options.claims,
      },
      { lifetimeSeconds: options.lifetimeSeconds },
    );
  }

  /** Verifies a bearer token presented to Graph: signature, lifetime and a Graph audience. */
  async verifyGraphToken(token: string, graphBaseUrl: string): Promise<JWTPayload & Record<string, unknown>> {
    const { payload } = await jwtVerify(token, this.signing.publicKey, {
      algorithms: ["RS256"],
      audience: [GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, GRAPH_APP_ID, graphBaseUrl, `${graphBaseUrl}/`],
      clockTolerance: 30,
    });
    return payload as JWTPayload & Record<string, unknown>;
  }
}
