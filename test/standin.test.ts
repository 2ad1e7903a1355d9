// The stand-in for Entra ID + Graph (test/entra) behaves like Microsoft where the app depends on it:
// discovery, sign-in with code + PKCE, client credentials and admin consent, Graph delta, faults.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CONTOSO, FABRIKAM, NORTHWIND, STANDIN_APP, syntheticTenant } from "./entra/fixture.ts";
import { startStandin, type Standin } from "./entra/server.ts";

const REDIRECT = "http://localhost:3000/auth/microsoft/callback";
const CONSENT_REDIRECT = "http://localhost:3000/admin/integrations/consent";
const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
const PORTAL_GROUP = FABRIKAM.groups![0]!.id;
const oidOf = (tenant: typeof CONTOSO, upn: string) => tenant.users.find((u) => u.userPrincipalName === upn)!.oid;

let standin: Standin;
let certDir: string;
let ca: Buffer;

beforeAll(async () => {
  certDir = mkdtempSync(path.join(tmpdir(), "standin-test-"));
  standin = await startStandin({ certDir, port: 0 });
  ca = readFileSync(standin.certPath);
});
afterAll(async () => {
  await standin?.close();
  rmSync(certDir, { recursive: true, force: true });
});
beforeEach(() => standin.reset());

type Reply = { status: number; headers: IncomingHttpHeaders; text: string; json: () => any };
type Call = { method?: string; headers?: Record<string, string>; body?: string | URLSearchParams | object };

/** An HTTPS request that trusts the stand-in's certificate (Node reads NODE_EXTRA_CA_CERTS only at start). */
function call(target: string, init: Call = {}): Promise<Reply> {
  const url = new URL(target, standin.url);
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body instanceof URLSearchParams) {
    body = init.body.toString();
    headers["Content-Type"] ??= "application/x-www-form-urlencoded";
  } else if (typeof init.body === "object") {
    body = JSON.stringify(init.body);
    headers["Content-Type"] ??= "application/json";
  } else body = init.body;
  const options: RequestOptions = { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, ca, agent: false };
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const hidden = (html: string, name: string) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
const location = (reply: Reply) => new URL(reply.headers.location!);
const clientAuth = { client_id: STANDIN_APP.clientId, client_secret: STANDIN_APP.clientSecret };

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Opens the sign-in page and picks `login`: the code, state and PKCE verifier the app would hold. */
async function signIn(login: string, authority = "organizations", scope = "openid profile email offline_access") {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString("hex");
  const nonce = randomBytes(8).toString("hex");
  const query = new URLSearchParams({
    client_id: STANDIN_APP.clientId,
    response_type: "code",
    redirect_uri: REDIRECT,
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const chooser = await call(`/${authority}/oauth2/v2.0/authorize?${query}`);
  expect(chooser.status).toBe(200);
  const back = await call(`/${authority}/oauth2/v2.0/authorize`, { body: form({ request: hidden(chooser.text, "request")!, login }) });
  expect(back.status).toBe(302);
  const to = location(back);
  expect(to.origin + to.pathname).toBe(REDIRECT);
  expect(to.searchParams.get("state")).toBe(state);
  return { code: to.searchParams.get("code")!, verifier, nonce };
}

function redeem(code: string, verifier: string, authority = "organizations", extra: Record<string, string> = {}) {
  return call(`/${authority}/oauth2/v2.0/token`, {
    body: form({
      grant_type: "authorization_code",
      ...clientAuth,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      scope: "openid profile email offline_access",
      ...extra,
    }),
  });
}

function clientCredentials(tenant: string, scope = GRAPH_SCOPE, auth: Record<string, string> = clientAuth) {
  return call(`/${tenant}/oauth2/v2.0/token`, { body: form({ grant_type: "client_credentials", scope, ...auth }) });
}

async function appToken(tenant: string): Promise<string> {
  const reply = await clientCredentials(tenant);
  expect(reply.status, reply.text).toBe(200);
  return reply.json().access_token;
}

function graphGet(target: string, token: string, headers: Record<string, string> = {}) {
  return call(target, { headers: { Authorization: `Bearer ${token}`, ...headers } });
}

/** Follows nextLinks to the deltaLink: every item of the round, the pages and the deltaLink. */
async function deltaRound(first: string, token: string, pageSize?: number) {
  const headers: Record<string, string> = pageSize ? { Prefer: `odata.maxpagesize=${pageSize}` } : {};
  const items: any[] = [];
  let pages = 0;
  let next: string = first;
  for (;;) {
    const reply = await graphGet(next, token, headers);
    expect(reply.status, reply.text).toBe(200);
    const body = reply.json();
    pages++;
    for (const item of body.value) items.push(item);
    if (body["@odata.deltaLink"]) return { items, pages, deltaLink: body["@odata.deltaLink"] as string };
    next = body["@odata.nextLink"];
    expect(next).toBeTruthy();
  }
}

/** Walks the admin-consent pages as `login`; returns the page after picking the account. */
async function consentPicked(login: string, tenant: string, state = "consent-state") {
  const query = new URLSearchParams({ client_id: STANDIN_APP.clientId, scope: GRAPH_SCOPE, redirect_uri: CONSENT_REDIRECT, state });
  const chooser = await call(`/${tenant}/v2.0/adminconsent?${query}`);
  expect(chooser.status).toBe(200);
  return call(`/${tenant}/v2.0/adminconsent`, { body: form({ request: hidden(chooser.text, "request")!, login }) });
}

async function consentDecision(page: Reply, tenant: string, decision: "accept" | "cancel") {
  expect(page.text).toContain('name="decision"');
  const reply = await call(`/${tenant}/v2.0/adminconsent`, { body: form({ request: hidden(page.text, "request")!, decision }) });
  expect(reply.status).toBe(302);
  return location(reply);
}

describe("discovery", () => {
  it("serves the OpenID configuration by tenant ID, by domain and for organizations", async () => {
    const byId = await call(`/${CONTOSO.id}/v2.0/.well-known/openid-configuration`);
    expect(byId.status).toBe(200);
    const config = byId.json();
    expect(config.issuer).toBe(`${standin.url}/${CONTOSO.id}/v2.0`);
    expect(config.token_endpoint).toBe(`${standin.url}/${CONTOSO.id}/oauth2/v2.0/token`);
    expect(config.jwks_uri).toBe(`${standin.url}/${CONTOSO.id}/discovery/v2.0/keys`);

    const byDomain = (await call("/contoso.com/v2.0/.well-known/openid-configuration")).json();
    expect(byDomain.issuer).toBe(config.issuer);
    expect(byDomain.authorization_endpoint).toBe(config.authorization_endpoint);

    const multi = (await call("/organizations/v2.0/.well-known/openid-configuration")).json();
    expect(multi.issuer).toBe(`${standin.url}/{tenantid}/v2.0`);
  });

  it("answers an unknown tenant with 400 invalid_tenant", async () => {
    const reply = await call("/nosuchtenant.example/v2.0/.well-known/openid-configuration");
    expect(reply.status).toBe(400);
    expect(reply.json()).toMatchObject({ error: "invalid_tenant", error_codes: [90002] });
  });
});

describe("sign-in: authorization code + PKCE", () => {
  it("issues an id_token that verifies against the key set, with Entra's claims", async () => {
    const { code, verifier, nonce } = await signIn("adele@contoso.com");
    const reply = await redeem(code, verifier);
    expect(reply.status, reply.text).toBe(200);
    const body = reply.json();
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number), ext_expires_in: expect.any(Number) });
    expect(body.access_token).toBeTruthy();
    expect(body.refresh_token).toBeTruthy();
    expect(body.scope.split(" ")).toEqual(expect.arrayContaining(["openid", "profile", "email"]));
    const adele = oidOf(CONTOSO, "adele@contoso.com");
    expect(JSON.parse(Buffer.from(body.client_info, "base64url").toString())).toEqual({ uid: adele, utid: CONTOSO.id });

    const jwks = (await call(`/${CONTOSO.id}/discovery/v2.0/keys`)).json() as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(body.id_token, createLocalJWKSet(jwks), {
      issuer: `${standin.url}/${CONTOSO.id}/v2.0`,
      audience: STANDIN_APP.clientId,
      algorithms: ["RS256"],
    });
    expect(protectedHeader.kid).toBe(standin.tokens.kid);
    expect(payload).toMatchObject({
      tid: CONTOSO.id,
      oid: adele,
      nonce,
      ver: "2.0",
      preferred_username: "adele@contoso.com",
      name: "Adele Vance",
      email: "adele@contoso.com",
    });
    expect(payload.sub).not.toBe(adele);
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);

    const refreshed = await call(`/${CONTOSO.id}/oauth2/v2.0/token`, {
      body: form({ grant_type: "refresh_token", ...clientAuth, refresh_token: body.refresh_token }),
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(decodeJwt(refreshed.json().id_token)).toMatchObject({ tid: CONTOSO.id, oid: adele });
  });

  it("refuses a code replay, a wrong verifier, another tenant's endpoint and another redirect URI", async () => {
    const first = await signIn("alex@contoso.com", CONTOSO.id);
    expect((await redeem(first.code, first.verifier, CONTOSO.id)).status).toBe(200);
    const replay = await redeem(first.code, first.verifier, CONTOSO.id);
    expect(replay.status).toBe(400);
    expect(replay.json()).toMatchObject({ error: "invalid_grant", error_codes: [54005] });

    const second = await signIn("alex@contoso.com");
    const wrong = await redeem(second.code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.json()).toMatchObject({ error: "invalid_grant", error_codes: [501481] });

    const third = await signIn("alex@contoso.com");
    expect((await redeem(third.code, third.verifier, FABRIKAM.id)).json()).toMatchObject({ error: "invalid_grant", error_codes: [700005] });

    const fourth = await signIn("alex@contoso.com");
    expect((await redeem(fourth.code, fourth.verifier, "organizations", { redirect_uri: "http://localhost:3000/other" })).json()).toMatchObject({
      error: "invalid_grant",
    });
  });

  it("checks the client secret, in the body or as HTTP Basic", async () => {
    const { code, verifier } = await signIn("megan@contoso.com");
    const wrong = await redeem(code, verifier, "organizations", { client_secret: "not-the-secret" });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: "invalid_client", error_codes: [7000215] });

    const basic = Buffer.from(`${encodeURIComponent(STANDIN_APP.clientId)}:${encodeURIComponent(STANDIN_APP.clientSecret)}`).toString("base64");
    const again = await signIn("megan@contoso.com");
    const reply = await call("/organizations/oauth2/v2.0/token", {
      headers: { Authorization: `Basic ${basic}` },
      body: form({ grant_type: "authorization_code", code: again.code, redirect_uri: REDIRECT, code_verifier: again.verifier, scope: "openid profile" }),
    });
    expect(reply.status, reply.text).toBe(200);

    const unknown = await call("/organizations/oauth2/v2.0/token", { body: form({ grant_type: "password", ...clientAuth }) });
    expect(unknown.json()).toMatchObject({ error: "unsupported_grant_type" });
  });
});

describe("client credentials and admin consent", () => {
  it("issues an app-only token for a consented tenant only", async () => {
    const token = decodeJwt(await appToken(CONTOSO.id));
    expect(token).toMatchObject({ tid: CONTOSO.id, appid: STANDIN_APP.clientId, idtyp: "app", roles: ["User.Read.All", "GroupMember.Read.All"] });
    expect((await clientCredentials("contoso.com", `${standin.url}/.default`)).status).toBe(200);

    const refused = await clientCredentials(NORTHWIND.id);
    expect(refused.status).toBe(400);
    expect(refused.json().error).toBe("invalid_client");
    expect(refused.json().error_description).toMatch(/^AADSTS7000229: .*The user or administrator has not consented to use the application/);

    expect((await clientCredentials("organizations")).json()).toMatchObject({ error: "invalid_request" });
    expect((await clientCredentials(CONTOSO.id, "openid profile")).json()).toMatchObject({ error: "invalid_scope" });
  });

  it("turns client credentials on once an admin accepts", async () => {
    const page = await consentPicked("nancy@northwindtraders.com", NORTHWIND.id);
    expect(page.text).toContain("Permissions requested");
    const back = await consentDecision(page, NORTHWIND.id, "accept");
    expect(back.origin + back.pathname).toBe(CONSENT_REDIRECT);
    expect(Object.fromEntries(back.searchParams)).toEqual({ admin_consent: "True", tenant: NORTHWIND.id, scope: GRAPH_SCOPE, state: "consent-state" });
    expect(standin.directory.hasConsent(NORTHWIND.id)).toBe(true);
    expect((await clientCredentials(NORTHWIND.id)).status).toBe(200);
  });

  it("shows a non-admin the need-admin page, and Cancel ends in access_denied", async () => {
    const page = await consentPicked("andrew@northwindtraders.com", "northwindtraders.com");
    expect(page.status).toBe(200);
    expect(page.text).toContain("Need admin approval");
    expect(page.text).not.toContain('name="decision"');
    const links = [...page.text.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll("&amp;", "&"));
    expect(links.some((l) => l.includes("/v2.0/adminconsent?"))).toBe(true);
    const giveUp = new URL(links.find((l) => l.startsWith(CONSENT_REDIRECT))!);
    expect(giveUp.searchParams.get("error")).toBe("access_denied");
    expect(giveUp.searchParams.get("state")).toBe("consent-state");

    const cancelled = await consentDecision(await consentPicked("nancy@northwindtraders.com", NORTHWIND.id), NORTHWIND.id, "cancel");
    expect(cancelled.searchParams.get("error")).toBe("access_denied");
    expect(cancelled.searchParams.get("error_description")).toMatch(/^AADSTS65004/);
    expect(standin.directory.hasConsent(NORTHWIND.id)).toBe(false);
  });

  it("consentRefused: Accept ends in AADSTS65004 and nothing is stored", async () => {
    standin.faults.set({ consentRefused: true });
    const back = await consentDecision(await consentPicked("nancy@northwindtraders.com", NORTHWIND.id), NORTHWIND.id, "accept");
    expect(Object.fromEntries(back.searchParams)).toEqual({
      error: "access_denied",
      error_description: "AADSTS65004: User declined to consent to access the app.",
      state: "consent-state",
    });
    expect(standin.directory.hasConsent(NORTHWIND.id)).toBe(false);
  });

  it("callbackTenant: the callback reports another tenant than the one consented", async () => {
    standin.faults.set({ callbackTenant: CONTOSO.id });
    const back = await consentDecision(await consentPicked("nancy@northwindtraders.com", "organizations"), "organizations", "accept");
    expect(back.searchParams.get("tenant")).toBe(CONTOSO.id);
    expect(standin.directory.hasConsent(NORTHWIND.id)).toBe(true);
  });

  it("answers an unknown tenant with an error page", async () => {
    const reply = await call(`/nowhere.example/v2.0/adminconsent?client_id=${STANDIN_APP.clientId}&redirect_uri=${encodeURIComponent(CONSENT_REDIRECT)}`);
    expect(reply.status).toBe(400);
    expect(reply.text).toContain("AADSTS90002");
  });
});

describe("Graph", () => {
  it("serves /organization for the token's tenant and refuses bad tokens", async () => {
    const token = await appToken(FABRIKAM.id);
    const org = (await graphGet("/v1.0/organization", token)).json().value[0];
    expect(org).toMatchObject({ id: FABRIKAM.id, displayName: "Fabrikam" });
    expect(org.verifiedDomains).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "fabrikam.onmicrosoft.com", isInitial: true, isDefault: false }),
        expect.objectContaining({ name: "fabrikam.com", isInitial: false, isDefault: true }),
      ]),
    );

    expect((await call("/v1.0/organization")).json().error.code).toBe("InvalidAuthenticationToken");
    const forged = await standin.tokens.appToken(FABRIKAM.id, { clientId: STANDIN_APP.clientId });
    expect((await graphGet("/v1.0/organization", `${forged.slice(0, -4)}AAAA`)).status).toBe(401);
    const expired = await standin.tokens.appToken(FABRIKAM.id, { clientId: STANDIN_APP.clientId, lifetimeSeconds: -120 });
    expect((await graphGet("/v1.0/organization", expired)).status).toBe(401);
    const noRoles = await standin.tokens.appToken(FABRIKAM.id, { clientId: STANDIN_APP.clientId, roles: [] });
    expect((await graphGet("/v1.0/users/delta", noRoles)).json().error.code).toBe("Authorization_RequestDenied");
    expect((await graphGet("/v1.0/nothing", token)).status).toBe(404);
  });

  it("pages /users/delta, then reports only what changed since the deltaLink", async () => {
    const token = await appToken(FABRIKAM.id);
    const full = await deltaRound("/v1.0/users/delta?$select=displayName,mail,accountEnabled", token, 2);
    expect(full.pages).toBe(3);
    expect(full.items.map((u) => u.id)).toEqual(FABRIKAM.users.map((u) => u.oid));
    expect(full.items[0]).toEqual({ id: FABRIKAM.users[0]!.oid, displayName: "Nestor Wilke", mail: "nestor@fabrikam.com", accountEnabled: true });
    expect(full.items.find((u) => u.displayName === "Lidia Holloway").mail).toBeNull();

    expect((await deltaRound(full.deltaLink, token)).items).toEqual([]);

    const patti = oidOf(FABRIKAM, "patti@fabrikam.com");
    const johanna = oidOf(FABRIKAM, "johanna@fabrikam.com");
    const pradeep = oidOf(FABRIKAM, "pradeep@fabrikam.com");
    standin.directory.updateUser(FABRIKAM.id, patti, { displayName: "Patti F.", jobTitle: "CEO" });
    standin.directory.deleteUser(FABRIKAM.id, johanna);
    standin.directory.deleteUser(FABRIKAM.id, pradeep, { permanent: true });
    const added = standin.directory.addUser(FABRIKAM.id, { displayName: "New Person", userPrincipalName: "new@fabrikam.com", mail: "new@fabrikam.com" });

    const changes = await deltaRound(full.deltaLink, token, 2);
    expect(changes.pages).toBe(2);
    expect(changes.items).toEqual([
      { id: patti, displayName: "Patti F." },
      { id: johanna, "@removed": { reason: "changed" } },
      { id: pradeep, "@removed": { reason: "deleted" } },
      { id: added.oid, displayName: "New Person", mail: "new@fabrikam.com", accountEnabled: true },
    ]);
    expect((await deltaRound(changes.deltaLink, token)).items).toEqual([]);

    const again = await deltaRound("/v1.0/users/delta", token);
    expect(again.items.map((u) => u.id)).toEqual([FABRIKAM.users[0]!.oid, patti, FABRIKAM.users[4]!.oid, added.oid]);
  });

  it("answers 410 resyncRequired for expired tokens and tokens from before a reset", async () => {
    let token = await appToken(FABRIKAM.id);
    const first = (await graphGet("/v1.0/users/delta", token, { Prefer: "odata.maxpagesize=2" })).json();
    const { deltaLink } = await deltaRound("/v1.0/users/delta", token);
    standin.directory.expireDeltaTokens(FABRIKAM.id);
    for (const link of [first["@odata.nextLink"], deltaLink]) {
      const reply = await graphGet(link, token);
      expect(reply.status).toBe(410);
      expect(reply.json().error.code).toBe("resyncRequired");
    }
    const fresh = await deltaRound("/v1.0/users/delta", token);
    standin.reset();
    token = await appToken(FABRIKAM.id);
    expect((await graphGet(fresh.deltaLink, token)).status).toBe(410);
    expect((await graphGet("/v1.0/users/delta?$deltatoken=garbage", token)).status).toBe(400);
  });

  it("reports group membership through /groups/delta members@delta", async () => {
    const token = await appToken(FABRIKAM.id);
    const first = await deltaRound(`/v1.0/groups/delta?$filter=${encodeURIComponent(`id eq '${PORTAL_GROUP}'`)}&$select=members`, token, 2);
    expect(first.pages).toBe(2);
    const members = first.items.flatMap((g) => g["members@delta"]);
    expect(first.items.every((g) => g.id === PORTAL_GROUP)).toBe(true);
    expect(members.map((m) => m.id).sort()).toEqual([...FABRIKAM.groups![0]!.members].sort());
    expect(members[0]["@odata.type"]).toBe("#microsoft.graph.user");

    const nestor = oidOf(FABRIKAM, "nestor@fabrikam.com");
    const patti = oidOf(FABRIKAM, "patti@fabrikam.com");
    const lidia = oidOf(FABRIKAM, "lidia@fabrikam.com");
    standin.directory.addGroupMember(FABRIKAM.id, PORTAL_GROUP, nestor);
    standin.directory.removeGroupMember(FABRIKAM.id, PORTAL_GROUP, patti);
    standin.directory.deleteUser(FABRIKAM.id, lidia, { permanent: true });
    const next = await deltaRound(first.deltaLink, token);
    expect(next.items).toEqual([
      {
        id: PORTAL_GROUP,
        "members@delta": [
          { "@odata.type": "#microsoft.graph.user", id: nestor },
          { "@odata.type": "#microsoft.graph.user", id: patti, "@removed": { reason: "deleted" } },
          { "@odata.type": "#microsoft.graph.user", id: lidia, "@removed": { reason: "deleted" } },
        ],
      },
    ]);
    expect((await deltaRound(next.deltaLink, token)).items).toEqual([]);
    standin.directory.addGroupMember(FABRIKAM.id, PORTAL_GROUP, patti);
    expect((await deltaRound(next.deltaLink, token)).items[0]["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id: patti }]);
  });

  it("walks a 100,000-user tenant in pages of at most 100, as Graph does, even when asked for 999", async () => {
    const big = syntheticTenant({ id: "0b1e5a5e-7a11-4f00-9c00-00000000b16b", displayName: "Big Corp", domain: "bigcorp.example", users: 100_000 });
    standin.directory.addTenant(big);
    const token = await appToken(big.id);
    const round = await deltaRound("/v1.0/users/delta?$select=displayName,userPrincipalName,mail,accountEnabled", token, 999);
    expect(round.items.length).toBe(100_000);
    expect(round.pages).toBe(Math.ceil(100_000 / 100));
    expect(new Set(round.items.map((u) => u.id)).size).toBe(100_000);
  });
});

describe("faults", () => {
  it("answers 5xx in the area's shape, and switches off after `times`", async () => {
    const token = await appToken(CONTOSO.id);
    standin.faults.set({ status5xx: { status: 503, paths: ["graph"], times: 1 } });
    const failed = await graphGet("/v1.0/organization", token);
    expect(failed.status).toBe(503);
    expect(failed.json().error.code).toBeTruthy();
    expect((await graphGet("/v1.0/organization", token)).status).toBe(200);

    standin.faults.set({ status5xx: 500 });
    const entra = await call(`/${CONTOSO.id}/v2.0/.well-known/openid-configuration`);
    expect(entra.status).toBe(500);
    expect(entra.json().error).toBe("temporarily_unavailable");
  });

  it("throttles with 429 and Retry-After", async () => {
    standin.faults.set({ rateLimit: { retryAfterSeconds: 7, paths: ["token"] } });
    const reply = await clientCredentials(CONTOSO.id);
    expect(reply.status).toBe(429);
    expect(reply.headers["retry-after"]).toBe("7");
    expect((await call(`/${CONTOSO.id}/discovery/v2.0/keys`)).status).toBe(200);
  });

  it("drops connections when unreachable, and delays when slow", async () => {
    standin.faults.set({ unreachable: { paths: ["/v1.0/"], times: 1 } });
    const token = await appToken(CONTOSO.id);
    await expect(graphGet("/v1.0/organization", token)).rejects.toThrow();
    expect((await graphGet("/v1.0/organization", token)).status).toBe(200);

    standin.faults.set({ slowMs: { ms: 150, paths: ["keys"], times: 1 } });
    let started = Date.now();
    expect((await call(`/${CONTOSO.id}/discovery/v2.0/keys`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    started = Date.now();
    await call(`/${CONTOSO.id}/discovery/v2.0/keys`);
    expect(Date.now() - started).toBeLessThan(140);
  });

  it("are set, read and cleared over HTTP", async () => {
    expect((await call("/_standin/faults", { body: { status5xx: { status: 502, paths: ["graph"] } } })).status).toBe(200);
    expect((await call("/v1.0/organization")).status).toBe(502);
    expect((await call("/_standin/faults", { body: { rateLimit: { paths: ["nowhere"] } } })).status).toBe(400);
    expect((await call("/_standin/faults", { body: "{not json", headers: { "Content-Type": "application/json" } })).status).toBe(400);
    expect((await call("/_standin/faults")).json().status5xx).toMatchObject({ status: 502, paths: ["graph"] });
    expect((await call("/_standin/health")).status).toBe(200);
    expect((await call("/_standin/faults", { method: "DELETE" })).json().status5xx).toBeNull();
    expect(standin.faults.current.status5xx).toBeNull();
  });
});

describe("bad input", () => {
  it("answers with a 4xx, never a crash", async () => {
    expect((await call("/nowhere")).status).toBe(404);
    expect((await call("/%zz/v2.0/.well-known/openid-configuration")).status).toBe(400);
    expect((await call("/organizations/oauth2/v2.0/token")).status).toBe(405);
    const huge = "x".repeat(2 * 1024 * 1024);
    expect((await call("/organizations/oauth2/v2.0/token", { body: huge })).status).toBe(413);
    expect((await call("/organizations/oauth2/v2.0/token", { body: huge, headers: { "Transfer-Encoding": "chunked" } })).status).toBe(413);
    expect((await call("/organizations/oauth2/v2.0/token", { body: "%%%&&&==" })).status).toBe(400);
    expect((await call("/organizations/oauth2/v2.0/authorize", { body: form({ request: "unknown" }) })).status).toBe(400);
    expect((await call("/organizations/v2.0/adminconsent", { body: form({ request: "unknown", decision: "accept" }) })).status).toBe(400);
    expect((await call("/v1.0/organization", { headers: { Authorization: "Bearer not.a.jwt" } })).status).toBe(401);
    expect((await call("/_standin/health")).json().status).toBe("ok");
  });
});
