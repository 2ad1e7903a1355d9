// Tests that talk to "Microsoft" start the stand-in (test/entra) and point the app at it; these helpers
// also play the person at Microsoft's pages: pick an account, approve or refuse consent, cancel.
import { afterAll, afterEach, beforeAll, beforeEach, inject } from "vitest";
import { reloadEnv } from "~/lib/env.server.ts";
import { resetMicrosoftClients } from "~/lib/microsoft/config.server.ts";
import { forgetTenantKeys } from "~/lib/microsoft/signin.server.ts";
import { startStandin, type Standin } from "./entra/server.ts";

/** Starts one stand-in for the test file, fresh directory and no faults for every test. */
export function useStandin(options: { timeoutMs?: number } = {}): { readonly current: Standin } {
  let standin: Standin | undefined;
  beforeAll(async () => {
    standin = await startStandin({ certDir: inject("standinCertDir") });
    Object.assign(process.env, {
      ENTRA_CLIENT_ID: standin.app.clientId,
      ENTRA_CLIENT_SECRET: standin.app.clientSecret,
      ENTRA_AUTHORITY_HOST: standin.url,
      GRAPH_BASE_URL: standin.url,
      MICROSOFT_TIMEOUT_MS: String(options.timeoutMs ?? 1500),
    });
    reloadEnv();
    resetMicrosoftClients();
  });
  beforeEach(() => {
    standin?.reset();
    forgetTenantKeys();
  });
  afterEach(() => {
    standin?.faults.clear();
  });
  afterAll(async () => {
    await standin?.close();
    for (const name of ["ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET", "ENTRA_AUTHORITY_HOST", "GRAPH_BASE_URL", "MICROSOFT_TIMEOUT_MS"]) delete process.env[name];
    reloadEnv();
    resetMicrosoftClients();
  });
  return {
    get current() {
      if (!standin) throw new Error("the stand-in is not running (useStandin must be called at the top of the file)");
      return standin;
    },
  };
}

export type Page = { status: number; location: string | null; html: string; url: string };

async function fetchPage(url: string, form?: URLSearchParams): Promise<Page> {
  const response = await fetch(url, {
    method: form ? "POST" : "GET",
    body: form,
    headers: form ? { "Content-Type": "application/x-www-form-urlencoded" } : undefined,
    redirect: "manual",
  });
  return { status: response.status, location: response.headers.get("Location"), html: await response.text(), url };
}

/** The first POST form of a page: its absolute action and its hidden fields. */
export function formOf(page: Page): { action: string; fields: URLSearchParams } {
  const form = page.html.match(/<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) throw new Error(`no form on the page (${page.status}):\n${page.html.slice(0, 2000)}`);
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = input[0].match(/name="([^"]*)"/)?.[1];
    const value = input[0].match(/value="([^"]*)"/)?.[1] ?? "";
    if (name) fields.set(name, unescape(value));
  }
  return { action: new URL(unescape(form[1]!), page.url).toString(), fields };
}

const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

async function submit(page: Page, extra: Record<string, string>): Promise<Page> {
  const { action, fields } = formOf(page);
  for (const [k, v] of Object.entries(extra)) fields.set(k, v);
  return fetchPage(action, fields);
}

/** Opens Microsoft's sign-in page and picks the account: returns the redirect back to the app. */
export async function signInAtMicrosoft(authorizeUrl: string, login: string): Promise<string> {
  const chooser = await fetchPage(authorizeUrl);
  const back = await submit(chooser, { login });
  if (!back.location) throw new Error(`Microsoft did not send the browser back (${back.status}):\n${back.html.slice(0, 2000)}`);
  return back.location;
}

/** Opens Microsoft's sign-in page and presses Cancel. */
export async function cancelAtMicrosoft(authorizeUrl: string): Promise<string> {
  const back = await submit(await fetchPage(authorizeUrl), { action: "cancel" });
  if (!back.location) throw new Error(`Microsoft did not send the browser back (${back.status})`);
  return back.location;
}

/**
 * Walks the admin-consent pages as `login`: accept or cancel. Returns the redirect back to the app, or the
 * page Microsoft stopped at (a non-admin sees "Need admin approval").
 */
export async function consentAtMicrosoft(
  consentUrl: string,
  login: string,
  decision: "accept" | "cancel" = "accept",
): Promise<{ location: string | null; page: Page }> {
  const picked = await submit(await fetchPage(consentUrl), { login });
  if (picked.location) return { location: picked.location, page: picked };
  if (!/name="decision"/.test(picked.html)) return { location: null, page: picked };
  const done = await submit(picked, { decision });
  return { location: done.location, page: done };
}

/** The path and query of an absolute URL on the app, as the test Browser wants them. */
export const appPath = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};
