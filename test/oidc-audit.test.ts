// The audit log of apps' sign-ins (decision 019): a code redeemed, a refresh, and a reuse that ends the grant, each
// one event with the user, the org, the app and the address — through a real code flow with openid-client.
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEvent } from "~/lib/audit-sentences.ts";
import { db } from "~/lib/db.server.ts";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { createUser } from "./helpers.ts";
import { appConfig, authorizationRequest, outcome, redeem, signedInBrowser, startPortal, type Portal } from "./oidc-browser.ts";

let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

async function signedIn() {
  const { user } = await createUser();
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const config = await appConfig(portal.origin, app.clientId);
  const browser = await signedInBrowser(portal.origin, user);
  const started = await authorizationRequest(config, "http://127.0.0.1:53117/callback");
  const { left } = await browser.follow(started.url.href);
  return { user, clientId: app.clientId, config, started, callback: left! };
}

const eventsOf = (userId: string) => db.auditEvent.findMany({ where: { actorId: userId, action: { startsWith: "app." } }, orderBy: { createdAt: "asc" } });

const sentence = (e: { action: string; result: string; detail: string | null }, actor: string) =>
  describeEvent({ action: e.action, result: e.result, detail: JSON.parse(e.detail ?? "{}") as Record<string, unknown>, actor, target: null });

describe("app sign-ins in the audit log", () => {
  it("a redeemed code is one app.signed_in with the org, the app and the address, written before the answer", async () => {
    const { user, clientId, config, started, callback } = await signedIn();
    expect(await eventsOf(user.id)).toEqual([]);
    await redeem(config, started, callback);
    const [event, ...rest] = await eventsOf(user.id);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ action: "app.signed_in", result: "success", orgId: user.orgId, actorId: user.id, targetType: "app", targetId: clientId });
    expect(JSON.parse(event!.detail!)).toEqual({ clientId, clientName: "Desktop" });
    expect(event!.ipAddress).toBe("127.0.0.1");
    expect(sentence(event!, "Ana")).toBe("Ana signed in to Desktop.");
  });

  it("each refresh is one app.token_refreshed", async () => {
    const { user, config, started, callback } = await signedIn();
    const tokens = await redeem(config, started, callback);
    const second = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await oidc.refreshTokenGrant(config, second.refresh_token!);
    const events = await eventsOf(user.id);
    expect(events.map((e) => e.action)).toEqual(["app.signed_in", "app.token_refreshed", "app.token_refreshed"]);
    expect(events[1]!.orgId).toBe(user.orgId);
    expect(sentence(events[1]!, "Ana")).toBe("Desktop refreshed Ana's sign-in.");
  });

  it("a reused refresh token ends the grant: one app.grant_revoked_on_reuse, a failure, and no refresh event", async () => {
    const { user, clientId, config, started, callback } = await signedIn();
    const tokens = await redeem(config, started, callback);
    await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
    const events = await eventsOf(user.id);
    expect(events.map((e) => [e.action, e.result])).toEqual([
      ["app.signed_in", "success"],
      ["app.token_refreshed", "success"],
      ["app.grant_revoked_on_reuse", "failure"],
    ]);
    expect(events[2]).toMatchObject({ orgId: user.orgId, targetId: clientId, ipAddress: "127.0.0.1" });
    expect(sentence(events[2]!, "Ana")).toMatch(/^Desktop sent an already-used code or refresh token of Ana's sign-in/);
  });

  it("a reused code ends the grant the same way, once", async () => {
    const { user, config, started, callback } = await signedIn();
    await redeem(config, started, callback);
    expect(await outcome(redeem(config, started, callback))).toBe("invalid_grant");
    expect((await eventsOf(user.id)).map((e) => e.action)).toEqual(["app.signed_in", "app.grant_revoked_on_reuse"]);
  });

  it("two refreshes racing with one token: every grant ended is audited once, and nothing is lost", async () => {
    const { user, config, started, callback } = await signedIn();
    const tokens = await redeem(config, started, callback);
    const race = await Promise.allSettled([oidc.refreshTokenGrant(config, tokens.refresh_token!), oidc.refreshTokenGrant(config, tokens.refresh_token!)]);
    const won = race.filter((r) => r.status === "fulfilled").length;
    const actions = (await eventsOf(user.id)).map((e) => e.action);
    expect(actions.filter((a) => a === "app.token_refreshed")).toHaveLength(won);
    expect(actions.filter((a) => a === "app.grant_revoked_on_reuse")).toHaveLength(2 - won);
  });

  it("a refresh token that names nothing writes nothing", async () => {
    const { user, config, started, callback } = await signedIn();
    await redeem(config, started, callback);
    expect(await outcome(oidc.refreshTokenGrant(config, "no-such-token"))).toBe("invalid_grant");
    expect((await eventsOf(user.id)).map((e) => e.action)).toEqual(["app.signed_in"]);
  });
});
