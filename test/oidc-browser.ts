// For the OpenID Provider's tests: the portal in this process on a real port (server/app.ts with the production
// build), a browser that follows redirects with its own cookies and stops at the app's redirect URI, and an app
// registered the way the operator does it.
import type { Server } from "node:http";
import * as oidc from "openid-client";
import { expect } from "vitest";
import { PASSWORD, totpCode } from "./helpers.ts";
import { ensureBuild, freePort } from "./processes.ts";

export type Portal = { origin: string; close: () => Promise<void> };

/** The portal on 127.0.0.1 with APP_ORIGIN set to it (call before anything reads the environment). */
export async function startPortal(): Promise<Portal> {
  ensureBuild();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  process.env.APP_ORIGIN = origin;
  const { reloadEnv, env } = await import("~/lib/env.server.ts");
  reloadEnv();
  const { createApp } = await import("../server/app.ts");
  const app = await createApp(env());
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
  });
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export type Step = { status: number; url: string; location: string | null; body: string };

/** A browser: cookies by name (enough here), Origin on POSTs, redirects followed on the portal's origin only. */
export class OidcBrowser {
  cookies = new Map<string, string>();
  constructor(readonly origin: string) {}

  private store(response: Response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1);
      const expired = attrs.some((a) => /^\s*max-age=0\b/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, form?: Record<string, string>): Promise<Step> {
    const headers: Record<string, string> = { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 oidc-test" };
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const init: RequestInit = { method: form ? "POST" : "GET", headers, redirect: "manual" };
    if (form) {
      headers.Origin = this.origin;
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = new URLSearchParams(form).toString();
    }
    const response = await fetch(new URL(url, this.origin), init);
    this.store(response);
    const location = response.headers.get("Location");
    return {
      status: response.status,
      url: new URL(url, this.origin).href,
      location: location && new URL(location, url.startsWith("http") ? url : this.origin + url).href,
      body: await response.text(),
    };
  }

  /**
   * Follows redirects (and the portal's "Returning to the app" page) while they stay on the portal; returns the
   * last portal answer, or the URL the browser was sent to outside it (the app's redirect URI).
   */
  async follow(url: string, form?: Record<string, string>): Promise<{ last: Step; left?: URL }> {
    let step = await this.request(url, form);
    for (let hops = 0; hops < 20; hops++) {
      let next = step.location;
      const refresh = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(step.body);
      if (!next && step.status === 200 && refresh) next = new URL(refresh[1]!.replaceAll("&amp;", "&"), this.origin).href;
      if (!next) return { last: step };
      if (new URL(next).origin !== this.origin) return { last: step, left: new URL(next) };
      step = await this.request(next);
    }
    throw new Error(`Too many redirects, last at ${step.url}`);
  }

  /** Password, then the code, from the sign-in page the browser was sent to; returns where it left the portal. */
  async signIn(at: Step, identifier: string, secret: string): Promise<{ last: Step; left?: URL }> {
    expect(new URL(at.url).pathname, at.body.slice(0, 300)).toBe("/login");
    const redirectTo = new URL(at.url).searchParams.get("redirectTo") ?? "";
    const password = await this.request("/login?index", { intent: "password", identifier, password: PASSWORD, redirectTo });
    expect(password.status, password.body.slice(0, 500)).toBe(302);
    return this.follow(password.location!, undefined).then(async ({ last }) => {
      expect(new URL(last.url).pathname).toBe("/login/totp");
      return this.follow(last.url, { code: await totpCode(secret), redirectTo });
    });
  }
}

export type App = { clientId: string; redirectUri: string; config: oidc.Configuration };

/** Discovery through openid-client, as an app would, over plain http (the test's origin). */
export async function appConfig(origin: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(origin), clientId, secret, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

export type Started = { url: URL; verifier: string; state: string; nonce: string };

/** An authorization request with PKCE S256, state and nonce, as the desktop app makes it. */
export async function authorizationRequest(config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}): Promise<Started> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile email org offline_access",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

export const redeem = (config: oidc.Configuration, started: Started, callback: URL) =>
  oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });

/** A browser already signed in to the portal as `user` (an active session, as after password + TOTP). */
export async function signedInBrowser(origin: string, user: { id: string }, authMethod: "password_totp" | "microsoft" = "password_totp") {
  const { startSession } = await import("~/lib/session.server.ts");
  const browser = new OidcBrowser(origin);
  const setCookie = await startSession(new Request(`${origin}/`), { userId: user.id, stage: "active", authMethod, clientAddress: "203.0.113.9" });
  const [pair] = setCookie.split(";");
  const eq = pair!.indexOf("=");
  browser.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  return browser;
}

/** The error an openid-client call failed with (its OAuth error code), or "ok". */
export async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    // A 401 with WWW-Authenticate carries the code in its challenge.
    const challenge = (error as { cause?: { parameters?: { error?: string } }[] }).cause;
    const fromChallenge = Array.isArray(challenge) ? challenge[0]?.parameters?.error : undefined;
    return (error as { error?: string }).error ?? fromChallenge ?? (error as { code?: string }).code ?? String(error);
  }
}
