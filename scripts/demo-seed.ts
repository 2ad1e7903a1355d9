// The demo organization, seeded once. On every run it reports the demo accounts as they are in the
// database, so the TOTP secrets printed stay the ones the authenticator app already holds.
import { db } from "../app/lib/db.server.ts";
import { createApp } from "../app/lib/oidc/clients.server.ts";
import { createOrganization, createUser, findOrganization, setSsoLicence } from "../app/lib/orgs.server.ts";
import { verifyPassword } from "../app/lib/passwords.server.ts";
import { newTotpSecret, openTotpSecret, sealTotpSecret, totpSetup } from "../app/lib/totp.server.ts";

export const DEMO_SLUG = "demo";
export const DEMO_PASSWORD = "demo-password-1";

const DEMO_USERS = [
  { email: "admin@demo.test", name: "Avery Admin", role: "admin", totp: true },
  { email: "ada@demo.test", name: "Ada Lovelace", role: "member", phone: "+14155552671", totp: true },
  { email: "grace@demo.test", name: "Grace Hopper", role: "member", totp: true },
  // No TOTP yet, so that first-sign-in enrolment can be tried.
  { email: "new@demo.test", name: "Noor Newcomer", role: "member", totp: false },
] as const;

export type DemoAccount = {
  email: string;
  name: string;
  role: string;
  phone: string | null;
  /** DEMO_PASSWORD, or null when the password has been changed (or removed) since seeding. */
  password: string | null;
  totp: { secret: string; uri: string } | "not enrolled" | "unreadable";
};

export async function seedDemo(): Promise<{ created: boolean; accounts: DemoAccount[] }> {
  let org = await findOrganization(DEMO_SLUG);
  const created = !org;
  if (!org) {
    org = await createOrganization({ name: "Demo Company", slug: DEMO_SLUG });
    await setSsoLicence(org.id, true);
    for (const spec of DEMO_USERS) {
      const user = await createUser({ orgId: org.id, ...spec, password: DEMO_PASSWORD });
      if (spec.totp) {
        await db.user.update({
          where: { id: user.id },
          data: { totpSecret: sealTotpSecret(newTotpSecret(), { kind: "user", userId: user.id }), totpEnrolledAt: new Date() },
        });
      }
    }
  }

  const users = await db.user.findMany({ where: { orgId: org.id, email: { in: DEMO_USERS.map((u) => u.email) } } });
  const accounts: DemoAccount[] = [];
  for (const spec of DEMO_USERS) {
    const user = users.find((u) => u.email === spec.email);
    if (!user) continue;
    const passwordKept = !!user.passwordHash && (await verifyPassword(user.passwordHash, DEMO_PASSWORD));
    accounts.push({
      email: spec.email,
      name: user.name,
      role: user.role,
      phone: user.phone,
      password: passwordKept ? DEMO_PASSWORD : null,
      totp: await totpOf(user.email ?? spec.email, user.id, user.totpEnrolledAt ? user.totpSecret : null),
    });
  }
  return { created, accounts };
}

async function totpOf(account: string, userId: string, sealed: string | null): Promise<DemoAccount["totp"]> {
  if (!sealed) return "not enrolled";
  // Null: sealed with another TOTP_ENCRYPTION_KEY (data/.totp_encryption_key was replaced), and logged.
  const secret = openTotpSecret(sealed, { kind: "user", userId });
  return secret === null ? "unreadable" : { secret, uri: (await totpSetup(secret, account)).uri };
}

/** The client ID that `npm run desktop-demo` uses by default (scripts/desktop-demo.ts). */
export const DESKTOP_DEMO_CLIENT_ID = "desktop-demo";

/** Registers the reference desktop app once: public, loopback redirect on any port. */
export async function seedDesktopApp(): Promise<void> {
  if (await db.oidcClient.findUnique({ where: { clientId: DESKTOP_DEMO_CLIENT_ID } })) return;
  await createApp({ clientId: DESKTOP_DEMO_CLIENT_ID, name: "Desktop demo", redirectUris: ["http://127.0.0.1/callback"] });
}
