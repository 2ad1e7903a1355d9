// Registering apps for the OpenID Provider: RFC 8252's redirect URIs, the grant types offered, the secret of a
// confidential app, and the operator's CLI (app:create, app:list, app:remove).
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { AppRegistrationError, compareSecret, createApp, redirectUriProblem, removeApp } from "~/lib/oidc/clients.server.ts";
import { cli } from "./processes.ts";

describe("redirect URIs (RFC 8252)", () => {
  it.each([
    ["http://127.0.0.1/callback", "native"],
    ["http://127.0.0.1:8400/callback", "native"],
    ["http://[::1]/callback", "native"],
    ["com.example.portal:/callback", "native"],
    ["com.example.portal:/oauth2redirect/portal", "native"],
    ["https://app.example.com/callback", "native"],
    ["https://app.example.com/callback", "web"],
  ] as const)("accepts %s for a %s app", (uri, type) => expect(redirectUriProblem(uri, type)).toBeNull());

  it.each([
    ["http://localhost:3000/callback", "native", /localhost/],
    ["http://192.168.1.10/callback", "native", /only loopback redirects may be http/],
    ["http://app.example.com/callback", "native", /only loopback/],
    ["https://127.0.0.1/callback", "native", /https on a loopback/],
    ["com.example.portal://callback", "native", /single slash/],
    ["myapp:/callback", "native", /reverse domain name/],
    ["javascript:alert(1)", "native", /javascript scheme/],
    ["data:text/html,x", "native", /data scheme/],
    ["file:///etc/passwd", "native", /file scheme/],
    ["http://127.0.0.1/callback#x", "native", /fragment/],
    ["http://user:pw@127.0.0.1/callback", "native", /user name or password/],
    ["not a uri", "native", /is not a URI/],
    ["http://127.0.0.1/callback", "web", /must be https/],
    ["com.example.portal:/callback", "web", /must be https/],
  ] as const)("refuses %s for a %s app with a sentence", (uri, type, why) => {
    const problem = redirectUriProblem(uri, type);
    expect(problem).toMatch(why);
    expect(problem).toMatch(/\.$/);
  });
});

describe("createApp", () => {
  it("refuses a bad redirect URI, an unknown grant type and a missing code grant, and writes nothing", async () => {
    for (const input of [
      { name: "A", redirectUris: ["http://localhost/cb"] },
      { name: "A", redirectUris: ["http://127.0.0.1/cb"], grantTypes: ["implicit"] },
      { name: "A", redirectUris: ["http://127.0.0.1/cb"], grantTypes: ["password"] },
      { name: "A", redirectUris: ["http://127.0.0.1/cb"], grantTypes: ["client_credentials"] },
      { name: "A", redirectUris: ["http://127.0.0.1/cb"], grantTypes: ["refresh_token"] },
      { name: "A", redirectUris: [] },
      { name: " ", redirectUris: ["http://127.0.0.1/cb"] },
      { name: "A".repeat(101), redirectUris: ["http://127.0.0.1/cb"] },
    ]) {
      await expect(createApp(input)).rejects.toBeInstanceOf(AppRegistrationError);
    }
    expect(await db.oidcClient.count()).toBe(0);
  });

  it("keeps only a hash of a confidential app's secret, compared in constant time", async () => {
    const { app, secret } = await createApp({ name: "Server", redirectUris: ["https://app.example.com/cb"], confidential: true });
    expect(app.applicationType).toBe("web");
    expect(JSON.stringify(app)).not.toContain(secret!);
    expect(compareSecret(app.secretHash!, secret!)).toBe(true);
    expect(compareSecret(app.secretHash!, `${secret}x`)).toBe(false);
  });

  it("a public app has no secret and both grant types by default", async () => {
    const { app, secret } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/cb"] });
    expect(secret).toBeUndefined();
    expect(app.secretHash).toBeNull();
    expect(JSON.parse(app.grantTypes)).toEqual(["authorization_code", "refresh_token"]);
  });

  it("removing an app deletes what was issued to it, not what other apps hold", async () => {
    const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/cb"] });
    const { app: other } = await createApp({ name: "Mobile", redirectUris: ["com.example.portal:/cb"] });
    for (const [id, clientId] of [
      ["g1", app.clientId],
      ["g2", other.clientId],
    ]) {
      await db.oidcPayload.create({ data: { kind: "Grant", id: id!, grantId: id, clientId, accountId: "u1", payload: "{}" } });
      await db.oidcPayload.create({ data: { kind: "RefreshToken", id: `rt-${id}`, grantId: id, clientId, accountId: "u1", payload: "{}" } });
    }
    expect(await removeApp(app.clientId)).toBe(true);
    expect(await removeApp(app.clientId)).toBe(false);
    expect((await db.oidcPayload.findMany({ orderBy: { id: "asc" } })).map((r) => r.id)).toEqual(["g2", "rt-g2"]);
  });
});

describe("the operator CLI", () => {
  it("app:create prints the client ID (and a confidential app's secret once), app:list shows it, app:remove removes it", async () => {
    const made = await cli("portal", [
      "app:create",
      "--name",
      "Desktop",
      "--redirect-uri",
      "http://127.0.0.1/callback",
      "--redirect-uri",
      "com.example.portal:/callback",
    ]);
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    const clientId = /Client ID: (\S+)/.exec(made.stdout)![1]!;
    expect(made.stdout).not.toMatch(/secret/i);
    const confidential = await cli("portal", ["app:create", "--name", "Server", "--redirect-uri", "https://app.example.com/cb", "--confidential"]);
    const secret = /Client secret \(shown only now; the portal keeps a hash\): (\S+)/.exec(confidential.stdout)![1]!;
    const list = await cli("portal", ["app:list"]);
    expect(list.stdout).toContain(clientId);
    expect(list.stdout).toContain("com.example.portal:/callback");
    expect(list.stdout).not.toContain(secret);
    expect((await cli("portal", ["app:remove", "--client-id", clientId])).stdout).toBe(`Removed the app ${clientId}; its sign-ins have ended.`);
    expect((await cli("portal", ["app:list"])).stdout).not.toContain(clientId);
  }, 60_000);

  it.each([
    [["app:create", "--name", "Bad", "--redirect-uri", "http://localhost:3000/cb"], /^"http:\/\/localhost:3000\/cb" uses localhost: use http:\/\/127\.0\.0\.1/],
    [["app:create", "--name", "Bad", "--redirect-uri", "http://127.0.0.1/cb", "--grant-types", "password"], /^The grant type "password" is not offered/],
    [["app:create", "--redirect-uri", "http://127.0.0.1/cb"], /^The option --name is required\.$/],
    [["app:create", "--name", "Bad"], /^The app needs at least one redirect URI \(--redirect-uri\)\.$/],
    [["app:remove", "--client-id", "nope"], /^No app has the client ID "nope"; run app:list to see them\.$/],
  ])(
    "%j fails with one sentence and changes nothing",
    async (args, message) => {
      const run = await cli("portal", args);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.split("\n")).toHaveLength(1);
      expect(await db.oidcClient.count()).toBe(0);
    },
    30_000,
  );
});
