// `npm run desktop-demo`: a reference desktop app signing in through the portal, the way RFC 8252 describes it
// (OAuth 2.0 for Native Apps): the system browser, a loopback redirect on a port of its own, the authorization code
// with PKCE. It prints who signed in, calls userinfo, refreshes, and signs out (revokes its refresh token).
//   npm run desktop-demo -- [--issuer http://localhost:3000] [--client-id desktop-demo] [--no-browser]
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import * as oidc from "openid-client";

// Registered by `npm run demo` (scripts/demo-seed.ts, DESKTOP_DEMO_CLIENT_ID).
const DEMO_CLIENT_ID = "desktop-demo";
const WAIT_MINUTES = 5;

const { values } = parseArgs({
  options: { issuer: { type: "string" }, "client-id": { type: "string" }, "no-browser": { type: "boolean" } },
  strict: true,
});
const issuer = new URL(values.issuer ?? process.env.PORTAL_URL ?? `http://localhost:${process.env.PORT ?? 3000}`);
const clientId = values["client-id"] ?? DEMO_CLIENT_ID;

/** The system browser, as a desktop app opens it; false when there is none (then the URL is printed only). */
function openBrowser(url: string): Promise<boolean> {
  const [command, ...args] = process.platform === "darwin" ? ["open", url] : process.platform === "win32" ? ["cmd", "/c", "start", "", url] : ["xdg-open", url];
  return new Promise((resolve) => {
    const child = spawn(command!, args, { stdio: "ignore", detached: true });
    child.on("error", () => resolve(false));
    child.on("spawn", () => (child.unref(), resolve(true)));
  });
}

/** The loopback listener: 127.0.0.1 on a port the system picks, waiting for the one redirect back. */
async function listenForRedirect(): Promise<{ redirectUri: string; callback: Promise<URL>; close: () => void }> {
  let deliver!: (url: URL) => void;
  const callback = new Promise<URL>((resolve) => (deliver = resolve));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
    if (url.pathname !== "/callback") return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!DOCTYPE html><title>Desktop demo</title><p>You can close this window and go back to the desktop demo.</p>");
    deliver(new URL(url.pathname + url.search, `http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { redirectUri: `http://127.0.0.1:${port}/callback`, callback, close: () => server.close() };
}

function fail(sentence: string): never {
  console.error(sentence);
  process.exit(1);
}

const describe = (error: unknown) => {
  const e = error as { error?: string; error_description?: string; message?: string };
  return e.error ? `${e.error}${e.error_description ? `: ${e.error_description}` : ""}` : (e.message ?? String(error));
};

let config: oidc.Configuration;
try {
  // Plain http only for a portal on this machine (the demo); anywhere else discovery must be https.
  const local = issuer.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(issuer.hostname);
  config = await oidc.discovery(issuer, clientId, undefined, oidc.None(), local ? { execute: [oidc.allowInsecureRequests] } : undefined);
} catch (error) {
  fail(`The portal at ${issuer.origin} did not answer its discovery (${describe(error)}): start it with \`npm run demo\`, or pass --issuer.`);
}

const listener = await listenForRedirect();
const verifier = oidc.randomPKCECodeVerifier();
const state = oidc.randomState();
const nonce = oidc.randomNonce();
const url = oidc.buildAuthorizationUrl(config, {
  redirect_uri: listener.redirectUri,
  scope: "openid profile email org offline_access",
  code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  state,
  nonce,
});

const opened = !values["no-browser"] && (await openBrowser(url.href));
console.log(opened ? "Your browser opens the portal's sign-in. If it does not, open:" : "Open this URL in a browser to sign in:");
console.log(url.href);
console.log(`Waiting for the sign-in on ${listener.redirectUri} (up to ${WAIT_MINUTES} minutes)…`);

const timer = setTimeout(() => fail(`No sign-in came back within ${WAIT_MINUTES} minutes; run the demo again.`), WAIT_MINUTES * 60_000);
const callback = await listener.callback;
clearTimeout(timer);
listener.close();
if (callback.searchParams.get("error")) {
  fail(
    `The portal refused the sign-in: ${callback.searchParams.get("error")}${callback.searchParams.has("error_description") ? ` (${callback.searchParams.get("error_description")})` : ""}.`,
  );
}

let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
try {
  tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
} catch (error) {
  fail(`The code could not be exchanged for tokens (${describe(error)}).`);
}
// The id_token says who and how (sub, amr, auth_time); the profile comes from userinfo with the access token.
const claims = tokens.claims()!;
const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
const org = info.org as { name?: string } | undefined;
console.log(`\nSigned in as ${String(info.name ?? claims.sub)}${info.email ? ` <${String(info.email)}>` : ""}${org?.name ? ` of ${org.name}` : ""}.`);
console.log(
  `  sub ${claims.sub}, signed in with ${((claims.amr as string[] | undefined) ?? []).join(" + ") || "?"} at ${new Date((claims.auth_time ?? 0) * 1000).toISOString()}`,
);
console.log(`  access token valid ${tokens.expires_in} s, refresh token: ${tokens.refresh_token ? "yes" : "no"}`);
console.log(`\nUserinfo: ${JSON.stringify(info)}`);

if (tokens.refresh_token) {
  try {
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    console.log(`\nRefreshed: a new access token and a new refresh token (the old one is used up).`);
    tokens = refreshed;
  } catch (error) {
    fail(`The refresh was refused (${describe(error)}): the portal ended this sign-in.`);
  }
}

// Signing out of a desktop app: it gives its tokens back, which ends its grant at the portal. The portal session
// in the browser stays (that is the web portal's, signed out there).
await oidc.tokenRevocation(config, tokens.refresh_token ?? tokens.access_token);
console.log(`\nSigned out: the refresh token is revoked, so this app's sign-in has ended.`);
try {
  await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  fail("The revoked refresh token still worked; this is a bug in the portal.");
} catch {
  console.log("  (checked: the revoked refresh token is refused)");
}
