// "Set your password" links for users an admin action left with no way to sign in.
import { db } from "./db.server.ts";
import { env } from "./env.server.ts";
import { audit } from "./audit.server.ts";
import { issueToken } from "./tokens.server.ts";
import { LINK_MINUTES } from "./link-lifetimes.ts";
import { count as countOf, plural } from "./wording.ts";
import { queueEmail } from "./mail/outbox.server.ts";

export const SET_PASSWORD_MINUTES = LINK_MINUTES.set_password;

/** Emails a one-time link to each of the org's users given; returns who got one and who has no email. */
export async function sendSetPasswordLinks(orgId: string, userIds: string[], actorId: string) {
  const users = await db.user.findMany({ where: { orgId, id: { in: userIds }, status: "active" }, include: { org: { select: { name: true } } } });
  const sent: string[] = [];
  const withoutEmail: string[] = [];
  for (const user of users) {
    if (!user.email) {
      withoutEmail.push(user.name);
      continue;
    }
    const token = await issueToken("set_password", user.id, SET_PASSWORD_MINUTES);
    await queueEmail(user.email, "set-password", {
      name: user.name,
      orgName: user.org.name,
      setPasswordUrl: `${env().APP_ORIGIN}/reset-password?token=${token}`,
      expiresMinutes: SET_PASSWORD_MINUTES,
    });
    sent.push(user.email);
  }
  await audit({ action: "set_password.sent", orgId, actorId, detail: { sent: sent.length, withoutEmail: withoutEmail.length } });
  return { sent, withoutEmail };
}

/** After a switch left users with none: send the links if the admin asked, and say what happened in one sentence. */
export async function setPasswordOutcome(session: { userId: string; user: { orgId: string } }, leftWithNone: { id: string }[], send: boolean): Promise<string> {
  const count = leftWithNone.length;
  if (!send) return `${countOf(count, "user")} ${count === 1 ? "has" : "have"} no way to sign in until they get a password.`;
  const { sent, withoutEmail } = await sendSetPasswordLinks(
    session.user.orgId,
    leftWithNone.map((u) => u.id),
    session.userId,
  );
  let message = `${plural(sent.length, "Set-password link")} sent to ${countOf(sent.length, "user")}.`;
  if (withoutEmail.length)
    message += ` ${countOf(withoutEmail.length, "user")} ${withoutEmail.length === 1 ? "has" : "have"} no email address: give them a new user ID first.`;
  return message;
}
