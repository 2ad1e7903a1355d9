// The admin's SSO switches: the org's "Enable SSO", "Enable for all synced users", and each synced user's
// flag. Turning one on removes the password of synced users who start signing in with Microsoft; turning
// one off is previewed first; and nothing may leave the org with no admin able to sign in with a password
// unless the admin says so explicitly.
import { count } from "./wording.ts";
import { db } from "./db.server.ts";
import { actorOf, changeMethods, type Tx } from "./signin/change.server.ts";
import { whatIf, type Change } from "./signin/methods.server.ts";
import { setPasswordOutcome } from "./set-password.server.ts";
import type { LiveSession } from "./session.server.ts";

export type OrgSwitch = "ssoEnabled" | "ssoForAllSynced";

export type SwitchOptions = {
  /** The admin saw the preview of turning it off. */
  confirmed?: boolean;
  /** The admin accepts that no admin keeps password sign-in. */
  lockoutConfirmed?: boolean;
  /** Email a set-password link to users left with none. */
  sendLinks?: boolean;
};

export type SwitchResult = { kind: "done"; message: string } | { kind: "confirm_off" } | { kind: "confirm_lockout" } | { kind: "refused"; message: string };

const LABEL: Record<OrgSwitch, string> = { ssoEnabled: "SSO", ssoForAllSynced: "SSO for all synced users" };

type Applied = { kind: "applied"; detail: { toMicrosoft: number; toPassword: number; toNone: number }; passwordsRemoved: number; links: string };

/**
 * The sequence every switch follows: off needs the admin to have seen the preview; then the method-change
 * path (which asks for an explicit yes when no admin would keep a password) writes it; then set-password
 * links for whoever is left with none.
 */
async function switchWith(
  session: LiveSession,
  address: string,
  change: Change,
  enabled: boolean,
  options: SwitchOptions,
  action: { action: string; targetType?: string; targetId?: string },
  write: (tx: Tx) => Promise<unknown>,
): Promise<Applied | { kind: "confirm_off" | "confirm_lockout" }> {
  if (!enabled && !options.confirmed) return { kind: "confirm_off" };
  const outcome = await changeMethods(actorOf(session, address), change, { lockoutConfirmed: options.lockoutConfirmed, audit: action }, write);
  if (outcome.kind === "confirm_lockout") return { kind: "confirm_lockout" };
  if (outcome.kind === "refused") throw new Error(`a switch was refused: ${outcome.code}`);
  const { preview } = outcome;
  const detail = { toMicrosoft: preview.toMicrosoft.length, toPassword: preview.toPassword.length, toNone: preview.toNone.length };
  const links = !enabled && preview.toNone.length ? ` ${await setPasswordOutcome(session, preview.toNone, Boolean(options.sendLinks))}` : "";
  return { kind: "applied", detail, passwordsRemoved: outcome.passwordsRemoved, links };
}

/**
 * "4 users now sign in with Microsoft; their passwords were removed", true to what happened: nothing about
 * passwords when none of them had one, and how many had one when only some did.
 */
export function movedSentence(toMicrosoft: number, passwordsRemoved: number): string {
  if (!toMicrosoft) return "";
  const who = `${count(toMicrosoft, "user now signs", "users now sign")} in with Microsoft`;
  if (!passwordsRemoved) return ` ${who}.`;
  if (passwordsRemoved >= toMicrosoft) return ` ${who}; ${toMicrosoft === 1 ? "their password was" : "their passwords were"} removed.`;
  return ` ${who}; ${passwordsRemoved === 1 ? "1 of them had a password, which was" : `${passwordsRemoved} of them had passwords, which were`} removed.`;
}

export async function setOrgSwitch(
  session: LiveSession,
  name: OrgSwitch,
  enabled: boolean,
  address: string,
  options: SwitchOptions = {},
): Promise<SwitchResult> {
  const orgId = session.user.orgId;
  const org = await db.organization.findUniqueOrThrow({ where: { id: orgId } });
  if (!org.ssoLicensed) return { kind: "refused", message: "Your organization's plan does not include single sign-on." };
  if (org[name] === enabled) return { kind: "done", message: `${LABEL[name]} is already ${enabled ? "on" : "off"}.` };
  if (name === "ssoForAllSynced" && enabled && !org.syncIntegrationId) {
    return { kind: "refused", message: "Set up Entra ID Sync first: there are no synced users yet." };
  }
  const action = `org.${name === "ssoEnabled" ? "sso" : "sso_all_synced"}.${enabled ? "enabled" : "disabled"}`;
  const result = await switchWith(session, address, { kind: "org", [name]: enabled }, enabled, options, { action }, (tx) =>
    tx.organization.update({ where: { id: orgId }, data: { [name]: enabled } }),
  );
  if (result.kind !== "applied") return result;
  const { detail, links } = result;
  return { kind: "done", message: `${LABEL[name]} is ${enabled ? "on" : "off"}.${movedSentence(detail.toMicrosoft, result.passwordsRemoved)}${links}` };
}

/** The per-user SSO flag of a synced user (locked while "all synced users" is on). */
export async function setUserSso(
  session: LiveSession,
  userId: string,
  enabled: boolean,
  address: string,
  options: SwitchOptions = {},
): Promise<SwitchResult | null> {
  const orgId = session.user.orgId;
  const [org, user] = await Promise.all([db.organization.findUniqueOrThrow({ where: { id: orgId } }), db.user.findFirst({ where: { id: userId, orgId } })]);
  if (!user) return null;
  if (user.source !== "synced")
    return { kind: "refused", message: "Only users synced from Entra ID have a per-user SSO switch; others link their Microsoft account." };
  if (org.ssoForAllSynced) return { kind: "refused", message: "SSO is on for all synced users, so no synced user can be excepted. Turn that off first." };
  if (user.ssoEnabled === enabled) return { kind: "done", message: `SSO is already ${enabled ? "on" : "off"} for ${user.name}.` };
  const result = await switchWith(
    session,
    address,
    { kind: "user_sso", userId, enabled },
    enabled,
    options,
    { action: `user.sso.${enabled ? "enabled" : "disabled"}` },
    (tx) => tx.user.update({ where: { id: userId }, data: { ssoEnabled: enabled } }),
  );
  if (result.kind !== "applied") return result;
  const { detail, links } = result;
  const removed = result.passwordsRemoved ? "; their password was removed" : "";
  const effect = detail.toMicrosoft
    ? ` They sign in with Microsoft now${removed}.`
    : org.ssoEnabled
      ? ""
      : " It takes effect when SSO is on for the organization.";
  return { kind: "done", message: `SSO is ${enabled ? "on" : "off"} for ${user.name}.${effect}${links}` };
}

/** The org's two switches as the SSO page names them. */
export const ORG_SWITCHES = { org: "ssoEnabled", all: "ssoForAllSynced" } as const satisfies Record<string, OrgSwitch>;
export type OrgSwitchTarget = keyof typeof ORG_SWITCHES;

/** Who a switch would move, before it is pressed: the page shows the counts, the CSV the full lists. */
export function switchPreview(orgId: string, target: OrgSwitchTarget, enabled: boolean) {
  return whatIf(orgId, { kind: "org", [ORG_SWITCHES[target]]: enabled });
}
