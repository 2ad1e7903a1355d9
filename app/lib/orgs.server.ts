// Organizations and their local users: used by the operator CLI, the demo seed and the admin pages.
// Every rejection is an InputError whose message is one sentence a person can act on.
import { z } from "zod";
import { db } from "./db.server.ts";
import { isUniqueViolation } from "./db-errors.server.ts";
import { audit } from "./audit.server.ts";
import { changeMethods } from "./signin/change.server.ts";
import { parseIdentifier } from "./identifier.ts";
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN } from "./passwords.server.ts";

export class InputError extends Error {
  override name = "InputError";
}

// Control characters and bidi overrides break terminals, logs and how a name reads on screen;
// lone surrogates cannot be stored as text.
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]/u;

function displayName(what: string) {
  return z
    .string({ error: `The ${what} is required.` })
    .normalize("NFC")
    .trim()
    .min(1, `The ${what} is required.`)
    .max(100, `The ${what} must be at most 100 characters.`)
    .refine((s) => !UNPRINTABLE.test(s), `The ${what} contains control characters; use letters, digits, spaces and punctuation.`);
}

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,48}$/;

const organizationInput = z.object({
  name: displayName("organization name"),
  slug: z
    .string({ error: "The slug is required." })
    .trim()
    .regex(SLUG_PATTERN, "The slug must be 2 to 49 lower-case letters, digits or hyphens, starting with a letter or digit."),
});

const userInput = z.object({
  orgId: z.string({ error: "The organization is required." }).min(1, "The organization is required."),
  email: z.string().optional(),
  phone: z.string().optional(),
  name: displayName("name"),
  role: z.enum(["admin", "member"], { error: 'The role must be "admin" or "member".' }),
  password: z
    .string()
    .min(PASSWORD_MIN, `The password must be at least ${PASSWORD_MIN} characters.`)
    .max(PASSWORD_MAX, `The password must be at most ${PASSWORD_MAX} characters.`)
    .optional(),
  actorId: z.string().optional(),
});

export type OrganizationInput = z.input<typeof organizationInput>;
export type UserInput = z.input<typeof userInput>;

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InputError(result.error.issues[0]?.message ?? "The input is not valid.");
  return result.data;
}

export async function createOrganization(input: OrganizationInput, actorId?: string) {
  const { name, slug } = parse(organizationInput, input);
  const duplicate = new InputError(`An organization with the slug "${slug}" already exists; choose another slug.`);
  if (await db.organization.findUnique({ where: { slug } })) throw duplicate;
  const org = await db.organization.create({ data: { name, slug } }).catch((error: unknown) => {
    throw isUniqueViolation(error) ? duplicate : error;
  });
  await audit({ action: "org.created", orgId: org.id, actorId, targetType: "organization", targetId: org.id, detail: { name, slug } });
  return org;
}

/** By slug first, then by id; null when neither matches. */
export async function findOrganization(slugOrId: string) {
  if (typeof slugOrId !== "string" || !slugOrId || slugOrId.length > 100) return null;
  return (await db.organization.findUnique({ where: { slug: slugOrId } })) ?? (await db.organization.findUnique({ where: { id: slugOrId } }));
}

async function requireOrganization(slugOrId: string) {
  const org = await findOrganization(slugOrId);
  if (!org) throw new InputError("No organization has that slug or id; run org:list to see them.");
  return org;
}

function normalizeEmail(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === "") return null;
  const parsed = parseIdentifier(raw);
  if (parsed?.kind !== "email") throw new InputError("The email address is not valid.");
  return parsed.value;
}

function normalizePhone(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === "") return null;
  const parsed = parseIdentifier(raw);
  if (parsed?.kind !== "phone") {
    throw new InputError("The phone number is not valid; write it with its country code, for example +1 415 555 2671.");
  }
  return parsed.value;
}

/** A local user with email and/or phone; the password is optional (set later through a set-password link). */
export async function createUser(input: UserInput) {
  const data = parse(userInput, input);
  const email = normalizeEmail(data.email);
  const phone = normalizePhone(data.phone);
  if (!email && !phone) throw new InputError("Give the user an email address or a phone number.");
  const org = await requireOrganization(data.orgId);

  const clash = await db.user.findFirst({
    where: { OR: [...(email ? [{ email }] : []), ...(phone ? [{ phone }] : [])] },
    select: { email: true },
  });
  if (clash) {
    throw new InputError(
      email && clash.email === email ? `A user with the email address ${email} already exists.` : `A user with the phone number ${phone} already exists.`,
    );
  }

  const passwordHash = data.password === undefined ? null : await hashPassword(data.password);
  const user = await db.user
    .create({
      data: {
        orgId: org.id,
        email,
        phone,
        name: data.name,
        role: data.role,
        source: "local",
        status: "active",
        passwordHash,
        passwordChangedAt: passwordHash ? new Date() : null,
      },
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? new InputError("A user with that email address or phone number already exists.") : error;
    });
  await audit({
    action: "user.created",
    orgId: org.id,
    actorId: data.actorId,
    targetType: "user",
    targetId: user.id,
    detail: { email, phone, role: user.role },
  });
  return user;
}

/**
 * Turns the organization's SSO licence on or off (the operator), through the method-change path; audited only
 * when it changes. Refuses with a sentence when no admin would be left on password, unless `lockoutConfirmed`.
 */
export async function setSsoLicence(orgId: string, on: boolean, actorId?: string, options: { lockoutConfirmed?: boolean } = {}) {
  const org = await requireOrganization(orgId);
  if (org.ssoLicensed === on) return org;
  const outcome = await changeMethods(
    { userId: actorId ?? null, orgId: org.id, address: null },
    { kind: "org", ssoLicensed: on },
    {
      lockoutConfirmed: options.lockoutConfirmed,
      audit: { action: "org.licence.changed", targetType: "organization", targetId: org.id, detail: { ssoLicensed: on } },
    },
    (tx) => tx.organization.update({ where: { id: org.id }, data: { ssoLicensed: on } }),
  );
  if (outcome.kind === "confirm_lockout") {
    throw new InputError(
      "No admin of this organization would be left who can sign in with a password and authenticator app; run it again with --confirm-lockout to go ahead.",
    );
  }
  return db.organization.findUniqueOrThrow({ where: { id: org.id } });
}

export function listOrganizations() {
  return db.organization.findMany({ orderBy: { slug: "asc" }, include: { _count: { select: { users: true } } } });
}

export async function listUsers(slugOrId: string) {
  const org = await requireOrganization(slugOrId);
  return db.user.findMany({ where: { orgId: org.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
}
