// Hostile input on every endpoint of the OpenID Provider: whatever a client sends, the answer is a refusal (4xx, or
// an error sent to a registered redirect URI), never a 500, never a stack trace, and never a code.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { createUser } from "./helpers.ts";
import { signedInBrowser, startPortal, type OidcBrowser, type Portal } from "./oidc-browser.ts";

let portal: Portal;
let browser: OidcBrowser;
let clientId = "";
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "%00",
    "\u0000",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{}",
    "[]",
    "null",
    "a".repeat(3000),
    "🙂".repeat(200),
  ),
  fc.constantFrom("S256", "plain", "code", "token", "id_token token", "none", "login consent", "openid", "http://127.0.0.1/callback", "javascript:alert(1)"),
);
const PARAMS = [
  "client_id",
  "redirect_uri",
  "response_type",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "prompt",
  "max_age",
  "claims",
  "request",
  "request_uri",
  "response_mode",
  "id_token_hint",
  "login_hint",
];
const TOKEN_PARAMS = [
  "grant_type",
  "code",
  "code_verifier",
  "redirect_uri",
  "refresh_token",
  "client_id",
  "client_secret",
  "token",
  "token_type_hint",
  "scope",
  "username",
  "password",
];

function params(names: string[]) {
  return fc.dictionary(fc.constantFrom(...names), hostile, { maxKeys: 8 });
}

async function noServerError(response: Response) {
  const body = await response.text();
  expect(response.status, body.slice(0, 300)).toBeLessThan(500);
  expect(body).not.toMatch(/\bat .+\.(js|ts):\d+/);
  return body;
}

const RUNS = { numRuns: 40 };

describe("hostile input", () => {
  beforeAll(async () => {
    clientId = (await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] })).app.clientId;
    browser = await signedInBrowser(portal.origin, (await createUser()).user);
  });

  it("the authorization endpoint, signed in, never issues a code for what it cannot accept", async () => {
    await fc.assert(
      fc.asyncProperty(params(PARAMS), fc.boolean(), async (query, ours) => {
        if (ours) query.client_id = clientId;
        const url = `${portal.origin}/oidc/auth?${new URLSearchParams(query)}`;
        const step = await browser.request(url);
        expect(step.status).toBeLessThan(500);
        // Without a valid PKCE challenge nothing reaches the app with a code.
        if (step.location && new URL(step.location).origin !== portal.origin) expect(new URL(step.location).searchParams.get("code")).toBeNull();
      }),
      RUNS,
    );
  });

  it.each(["/oidc/token", "/oidc/token/revocation"])("%s answers a refusal to any form, without Origin", async (path) => {
    await fc.assert(
      fc.asyncProperty(params(TOKEN_PARAMS), async (form) => {
        const response = await fetch(`${portal.origin}${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(form),
        });
        const body = await noServerError(response);
        if (path === "/oidc/token") expect(body).not.toContain("access_token");
      }),
      RUNS,
    );
  });

  it("a NUL character in a client_id, a code or a token is not found, on SQLite and PostgreSQL alike", async () => {
    const nul = "a\u0000b";
    for (const path of [`/oidc/auth?client_id=${encodeURIComponent(nul)}&response_type=code`, `/oidc/session/end?client_id=${encodeURIComponent(nul)}`]) {
      await noServerError(await fetch(`${portal.origin}${path}`, { redirect: "manual" }));
    }
    const forms: Record<string, string>[] = [
      { grant_type: "authorization_code", client_id: nul, code: "x", code_verifier: "y".repeat(43) },
      { grant_type: "authorization_code", client_id: clientId, code: nul, code_verifier: "y".repeat(43), redirect_uri: "http://127.0.0.1/callback" },
      { grant_type: "refresh_token", client_id: clientId, refresh_token: nul },
    ];
    for (const form of forms) {
      const response = await fetch(`${portal.origin}/oidc/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form),
      });
      expect(response.status).toBeGreaterThanOrEqual(400);
      await noServerError(response);
    }
    const revoke = await fetch(`${portal.origin}/oidc/token/revocation`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: clientId, token: nul }),
    });
    await noServerError(revoke);
    await noServerError(await fetch(`${portal.origin}/oidc/me`, { headers: { Authorization: `Bearer ${encodeURIComponent(nul)}` } }));
  });

  it("the token endpoint refuses bodies that are not forms, and duplicated parameters", async () => {
    for (const [type, body] of [
      ["application/json", '{"grant_type":"authorization_code"}'],
      ["text/plain", "grant_type=authorization_code"],
      ["application/x-www-form-urlencoded", "grant_type=authorization_code&grant_type=refresh_token"],
      ["application/x-www-form-urlencoded", "%%%%"],
    ]) {
      const response = await fetch(`${portal.origin}/oidc/token`, { method: "POST", headers: { "Content-Type": type! }, body });
      expect(response.status).toBe(400);
      await noServerError(response);
    }
  });

  it("userinfo refuses any bearer token it did not issue", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 200 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
        async (token) => {
          const response = await fetch(`${portal.origin}/oidc/me`, { headers: { Authorization: `Bearer ${token}` } });
          expect([400, 401]).toContain(response.status);
          await noServerError(response);
        },
      ),
      RUNS,
    );
  });

  it("end session, the interaction and the continue page refuse what they do not know", async () => {
    await fc.assert(
      fc.asyncProperty(
        params(["id_token_hint", "post_logout_redirect_uri", "client_id", "state", "ui_locales", "logout_hint"]),
        hostile,
        async (query, uid) => {
          await noServerError(await fetch(`${portal.origin}/oidc/session/end?${new URLSearchParams(query)}`, { redirect: "manual" }));
          const interaction = await fetch(`${portal.origin}/oidc/interaction/${encodeURIComponent(uid)}`, { redirect: "manual" });
          expect([303, 400, 404]).toContain(interaction.status);
          await noServerError(interaction);
          const page = await fetch(`${portal.origin}/apps/continue?uid=${encodeURIComponent(uid)}`, { redirect: "manual" });
          await noServerError(page);
        },
      ),
      RUNS,
    );
  });
});
