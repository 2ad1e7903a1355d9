// The apps that sign their users in through the portal, registered by the operator. Redirect URIs follow RFC 8252
// (OAuth 2.0 for Native Apps): loopback, private-use URI schemes and claimed https for desktop and mobile apps; https
// for confidential (server-side) apps. Every app uses the authorization code with PKCE S256; nothing else is offered.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { OidcClient } from "~/generated/prisma/client.ts";
import { sha256 } from "../crypto.server.ts";
import { db } from "../db.server.ts";
import { InputError } from "../orgs.server.ts";

export const GRANT_TYPES = ["authorization_code", "refresh_token"] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]"]);
/** Schemes a browser or the system handles itself: an app cannot claim them (RFC 8252 §7.1, §8.4). */
const FORBIDDEN_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "ftp:", "ws:", "wss:", "mailto:", "tel:"]);

/** What the operator typed cannot be registered; the message is one sentence saying why. */
export class AppRegistrationError extends InputError {}

/**
 * Why a redirect URI cannot be registered, in one sentence, or null when it can. A native app may use a loopback
 * address on any port (the port is left out of the comparison, §7.3), a reverse-domain private-use scheme with a
 * single slash (§7.1), or a claimed https URI (§7.2); a confidential app only https.
 */
export function redirectUriProblem(uri: string, type: "native" | "web"): string | null {
  const url = URL.parse(uri);
  if (!url || uri.length > 2000 || /\s/.test(uri)) return `"${uri.slice(0, 100)}" is not a URI.`;
  if (url.hash || uri.includes("#")) return `"${uri}" has a fragment (#…), which a redirect URI must not have.`;
  if (url.username || url.password) return `"${uri}" carries a user name or password, which a redirect URI must not.`;
  if (url.protocol === "https:") {
    if (LOOPBACK_HOSTS.has(url.hostname) || url.hostname === "localhost")
      return `"${uri}" uses https on a loopback address: use http://127.0.0.1:PORT/… for a loopback redirect.`;
    return null;
  }
  if (type === "web") return `"${uri}" is not https: a confidential app's redirect URIs must be https.`;
  if (url.protocol === "http:") {
    if (url.hostname === "localhost")
      return `"${uri}" uses localhost: use http://127.0.0.1:PORT/… or http://[::1]:PORT/… (RFC 8252 §8.3), since localhost can resolve elsewhere.`;
    if (!LOOPBACK_HOSTS.has(url.hostname)) return `"${uri}" is http on another host than 127.0.0.1 or [::1]: only loopback redirects may be http.`;
    return null;
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `"${uri}" uses the ${url.protocol.slice(0, -1)} scheme, which no app can claim.`;
  const scheme = url.protocol.slice(0, -1);
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme)) {
    return `"${uri}" uses the scheme "${scheme}": a private-use scheme must be a reverse domain name the company owns, e.g. com.example.portal:/callback.`;
  }
  if (!uri.startsWith(`${scheme}:/`) || uri.startsWith(`${scheme}://`)) {
    return `"${uri}" must have a single slash after the scheme, e.g. ${scheme}:/callback (RFC 8252 §7.1).`;
  }
  return null;
}

export type NewApp = {
  name: string;
  redirectUris: string[];
  confidential?: boolean;
  grantTypes?: string[];
  /** A client ID of one's choosing (the demo's "desktop-demo"); a random one otherwise. */
  clientId?: string;
};

/** Registers an app; the secret of a confidential app is returned here once and kept only as a hash. */
export async function createApp(input: NewApp): Promise<{ app: OidcClient; secret?: string }> {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new AppRegistrationError("The app needs a name of 1 to 100 characters (--name).");
  if (!input.redirectUris.length) throw new AppRegistrationError("The app needs at least one redirect URI (--redirect-uri).");
  const type = input.confidential ? "web" : "native";
  for (const uri of input.redirectUris) {
    const problem = redirectUriProblem(uri, type);
    if (problem) throw new AppRegistrationError(problem);
  }
  const grantTypes = [...new Set(input.grantTypes?.length ? input.grantTypes : GRANT_TYPES)];
  for (const grant of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      throw new AppRegistrationError(`The grant type "${grant}" is not offered: apps use ${GRANT_TYPES.join(" and ")} (no implicit, no password grant).`);
    }
  }
  if (!grantTypes.includes("authorization_code")) throw new AppRegistrationError("Every app signs in with authorization_code; add it to --grant-types.");
  if (input.clientId !== undefined && !/^[A-Za-z0-9._-]{3,64}$/.test(input.clientId)) {
    throw new AppRegistrationError("A client ID is 3 to 64 letters, digits, dots, dashes or underscores.");
  }
  const secret = input.confidential ? randomBytes(32).toString("base64url") : undefined;
  const app = await db.oidcClient.create({
    data: {
      clientId: input.clientId ?? randomBytes(16).toString("base64url"),
      name,
      applicationType: type,
      redirectUris: JSON.stringify([...new Set(input.redirectUris)]),
      logoutUris: JSON.stringify([...new Set(input.redirectUris)]),
      grantTypes: JSON.stringify(grantTypes),
      secretHash: secret ? sha256(secret) : null,
    },
  });
  return { app, secret };
}

export const listApps = () => db.oidcClient.findMany({ orderBy: { createdAt: "asc" } });

/** Removes an app and every grant, code and token issued to it. */
export async function removeApp(clientId: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    await tx.oidcPayload.deleteMany({ where: { clientId } });
    return (await tx.oidcClient.deleteMany({ where: { clientId } })).count === 1;
  });
}

export const appRedirectUris = (app: OidcClient) => JSON.parse(app.redirectUris) as string[];
export const appGrantTypes = (app: OidcClient) => JSON.parse(app.grantTypes) as string[];

/** What oidc-provider needs to know of an app (its client metadata). */
export function clientMetadata(app: OidcClient) {
  return {
    client_id: app.clientId,
    client_name: app.name,
    application_type: app.applicationType,
    redirect_uris: appRedirectUris(app),
    post_logout_redirect_uris: JSON.parse(app.logoutUris) as string[],
    grant_types: appGrantTypes(app),
    response_types: ["code"],
    // A public app proves itself with PKCE alone; a confidential one with its secret as well (HTTP Basic).
    token_endpoint_auth_method: app.secretHash ? "client_secret_basic" : "none",
    // The provider compares this with what the app sends through compareSecret below, never as the secret itself.
    ...(app.secretHash ? { client_secret: app.secretHash } : {}),
  };
}

/** A confidential app's secret against the stored hash, in constant time. */
export function compareSecret(storedHash: string, presented: string): boolean {
  const a = Buffer.from(sha256(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
