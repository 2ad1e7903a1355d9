// Each audit event as a sentence an admin reads: who did what to whom. One entry per action the code writes
// (test/audit-log.test.ts finds them all in the sources); an action without one still reads as words.

export type EventForSentence = {
  action: string;
  result: string;
  detail: Record<string, unknown>;
  /** The acting user's name, or null: an operator, the schedule, or an identifier that names nobody. */
  actor: string | null;
  /** The affected user's (or integration's) name, when the event has one. */
  target: string | null;
};

type Words = (e: EventForSentence, who: string) => string;

const str = (v: unknown) => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));
const num = (v: unknown) => (typeof v === "number" ? v : 0);
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const methodWords: Record<string, string> = {
  password_totp: "password and authenticator code",
  password_recovery_code: "password and a recovery code",
  microsoft: "Microsoft",
  password: "a password and an authenticator app",
};
const method = (v: unknown) => methodWords[str(v)] ?? (str(v) || "their method");
const them = (e: EventForSentence) => e.target ?? "a user";
const reason = (e: EventForSentence) => {
  const why = str(e.detail.reason) || str(e.detail.code) || str(e.detail.error);
  return why ? `: ${why}` : "";
};
const app = (e: EventForSentence) => str(e.detail.clientName) || str(e.detail.clientId) || "an app";
const App = (e: EventForSentence) => app(e).charAt(0).toUpperCase() + app(e).slice(1);
const possessive = (who: string) => (who === "Someone" ? "someone's" : `${who}'s`);
const tenant = (e: EventForSentence) => str(e.detail.displayName) || str(e.detail.tenantId) || e.target || "a Microsoft tenant";

const SENTENCES: Record<string, Words> = {
  "signin.succeeded": (e, who) => `${who} signed in with ${method(e.detail.method)}`,
  "signin.password.failed": (e, who) => `${who} entered a wrong password (failed attempt ${num(e.detail.failures)})`,
  "signin.password.not_allowed": (_e, who) => `${who} tried a password, but signs in with Microsoft`,
  "signin.code.failed": (e, who) => `${who} entered a wrong authenticator or recovery code (failed attempt ${num(e.detail.failures)})`,
  "signin.password.locked": (_e, who) => `${who}'s password was locked after too many failed attempts`,
  "signin.microsoft.failed": (e, who) => `${who} could not sign in with Microsoft${reason(e)}`,
  "totp.enrol.failed": (e, who) => `${who} entered a wrong first code from a new authenticator app (failed attempt ${num(e.detail.failures)})`,
  "totp.enrolled": (_e, who) => `${who} set up an authenticator app`,
  "totp.reset": (_e, who) => `${who} replaced their authenticator app`,
  "recovery_codes.regenerated": (_e, who) => `${who} made new recovery codes`,
  "reauth.microsoft": (e, who) =>
    e.result === "failure" ? `${who} could not confirm it was them with Microsoft${reason(e)}` : `${who} confirmed it was them with Microsoft`,
  signout: (_e, who) => `${who} signed out`,
  "sessions.ended": (e, who) => {
    const parts = [num(e.detail.count) ? count(num(e.detail.count), "other session") : "", num(e.detail.apps) ? count(num(e.detail.apps), "app") : ""];
    return `${who} signed out of ${parts.filter(Boolean).join(" and ") || "no other session"}`;
  },
  "app.signed_out": (e, who) => `${who} signed ${them(e)} out of ${str(e.detail.app) || "an app"}`,
  "password.changed": (_e, who) => `${who} changed their password`,
  "password.reset": (_e, who) => `${who} set a new password with a reset link`,
  "password.reset.requested": (e, who) =>
    e.detail.method === "microsoft"
      ? `${who} asked for a password reset and was sent a Microsoft sign-in link instead`
      : `${who} asked for a password reset link`,
  "set_password.sent": (e, who) =>
    `${who} sent set-password links to ${count(num(e.detail.sent), "user")}` +
    (num(e.detail.withoutEmail) ? ` (${count(num(e.detail.withoutEmail), "user")} without an email address got none)` : ""),
  "link.created": (e, who) => (e.result === "failure" ? `${who} could not link a Microsoft account${reason(e)}` : `${who} linked their Microsoft account`),
  "link.removed": (_e, who) => `${who} unlinked their Microsoft account`,
  "link.revoked": (e, who) => `${who} revoked ${them(e)}'s Microsoft link`,
  "link.prompt.declined": (_e, who) => `${who} chose not to link a Microsoft account for now`,
  "invitation.sent": (e, who) => `${who} invited ${them(e)} to sign in with ${method(e.detail.method)}`,
  "invitation.resent": (e, who) => `${who} sent ${them(e)} a new invitation`,
  "invitation.revoked": (e, who) => `${who} revoked ${them(e)}'s invitation${e.detail.disabled ? " and disabled the account" : ""}`,
  "invitation.accepted": (e, who) => `${who} accepted the invitation and signs in with ${method(e.detail.method)}`,
  "user.created": (e, who) => `${who} created the account of ${them(e)}${e.detail.role === "admin" ? " as an admin" : ""}`,
  "user.disabled": (e, who) => `${who} disabled ${them(e)}'s account${reason(e)}`,
  "user.sso.enabled": (e, who) => `${who} turned Microsoft sign-in on for ${them(e)}`,
  "user.sso.disabled": (e, who) => `${who} turned Microsoft sign-in off for ${them(e)}`,
  "org.sso.enabled": (_e, who) => `${who} turned single sign-on on for the organization`,
  "org.sso.disabled": (_e, who) => `${who} turned single sign-on off for the organization`,
  "org.sso_all_synced.enabled": (_e, who) => `${who} turned Microsoft sign-in on for all synced users`,
  "org.sso_all_synced.disabled": (_e, who) => `${who} turned Microsoft sign-in off for all synced users`,
  "org.created": (e, who) => `${who} created the organization ${str(e.detail.name)}`,
  "org.licence.changed": (e, who) => `${who} turned the single sign-on licence ${e.detail.ssoLicensed ? "on" : "off"}`,
  "integration.add": (e, who) =>
    e.result === "failure" ? `${who} could not register the tenant ${tenant(e)}${reason(e)}` : `${who} started registering the Microsoft tenant ${tenant(e)}`,
  "integration.consent": (e, who) =>
    e.result === "failure" ? `${who}'s admin consent did not complete${reason(e)}` : `${who} granted admin consent for ${tenant(e)}`,
  "integration.consent.tenant_mismatch": (e, who) =>
    `${who}'s admin consent came back from the tenant ${str(e.detail.reported)} instead of ${str(e.detail.expected)}`,
  "integration.ownership": (e, who) =>
    e.result === "failure"
      ? `${who} could not prove they administer the tenant${reason(e)}`
      : `${who} proved they administer the tenant ${tenant(e)} (${str(e.detail.roleName) || "a consent-capable role"})`,
  "integration.confirm": (e, who) => `${who} checked the consent of ${tenant(e)}${reason(e)}`,
  "integration.activated": (e, who) => `${who} activated the Microsoft tenant ${tenant(e)}`,
  "integration.removed": (e, who) => `${who} removed the Microsoft tenant ${tenant(e)} (${count(num(e.detail.linksRevoked), "link")} revoked)`,
  "sync.run.started": (e, who) => `${who} started ${e.detail.resumed ? "resuming " : ""}a sync from ${tenant(e)}`,
  "sync.run.succeeded": (e) =>
    `A sync finished: ${num(e.detail.created)} created, ${num(e.detail.updated)} updated, ${num(e.detail.deactivated)} deactivated (${count(num(e.detail.pages), "page")})`,
  "sync.run.failed": (e) => `A sync failed${reason(e)}`,
  "sync.run.refused": (e, who) => {
    const missing = Array.isArray(e.detail.missing) ? e.detail.missing.map(str).join(", ") : "";
    return `${who} could not start a sync: the app lacks ${missing || "a permission"}`;
  },
  "sync.connection.changed": (e, who) => `${who} made ${tenant(e)} the sync connection`,
  "sync.connection.stopped": (e, who) => `${who} stopped syncing from ${tenant(e)}`,
  "audit.exported": (e, who) => `${who} exported the audit log as ${e.detail.format === "jsonl" ? "JSON Lines" : "CSV"}`,
  "sync.conflict.resolved": (e, who) =>
    `${who} resolved a sync conflict by ${e.detail.resolution === "attached" ? "attaching the directory user to the existing account" : "keeping the accounts separate"}`,
  "app.signed_in": (e, who) => `${who} signed in to ${app(e)}`,
  "app.token_refreshed": (e, who) => `${App(e)} refreshed ${possessive(who)} sign-in`,
  "app.grant_revoked_on_reuse": (e, who) => `${App(e)} sent an already-used code or refresh token of ${possessive(who)} sign-in, so that sign-in was ended`,
};

/** Event types by the first word of their action: the filter offers a group or one action. */
export const ACTION_GROUPS: Record<string, string> = {
  signin: "Sign-ins and failed attempts",
  signout: "Sign-outs",
  sessions: "Sessions ended",
  password: "Passwords",
  set_password: "Set-password links",
  totp: "Authenticator apps",
  recovery_codes: "Recovery codes",
  reauth: "Confirmations with Microsoft",
  link: "Microsoft links",
  invitation: "Invitations",
  user: "Users",
  org: "Organization settings",
  integration: "Microsoft integrations",
  sync: "Entra ID Sync",
  audit: "Audit log exports",
  app: "App sign-ins",
};

/** The action names this module has a sentence for (the filter's choices). */
export const KNOWN_ACTIONS = Object.keys(SENTENCES).sort();

/** Who did it, in words: the user, or who acts without one. */
function actorWords(e: EventForSentence): string {
  if (e.actor) return e.actor;
  if (e.action.startsWith("sync.")) return "The sync schedule";
  if (e.action.startsWith("org.")) return "An operator";
  return "Someone";
}

/** The event as one sentence, ending with a full stop. */
export function describeEvent(e: EventForSentence): string {
  const who = actorWords(e);
  const words = SENTENCES[e.action]?.(e, who) ?? `${who}: ${e.action.replace(/[._]/g, " ")}${e.result === "failure" ? " (failed)" : ""}`;
  return /[.!?]$/.test(words) ? words : `${words}.`;
}
