// A Graph user as sync sees it: its key (tid from the integration, oid from Graph) and the attributes the
// portal keeps, normalized and bounded. Graph's incremental rounds send only what changed, so every
// attribute is optional; `undefined` means "not sent: leave as it is".
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { z } from "zod";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const email = z.email();

export const isObjectId = (value: unknown): value is string => typeof value === "string" && GUID.test(value.toLowerCase());

/**
 * "soft": deleted and restorable for 30 days (Graph's reason "changed"); "deleted": permanently deleted;
 * "left_scope": no longer a member of the scope group.
 */
export type Removal = "soft" | "deleted" | "left_scope";

export type DirectoryUser = {
  oid: string;
  removed: Removal | null;
  name?: string;
  email?: string | null;
  phone?: string | null;
  jobTitle?: string | null;
  upn?: string | null;
  enabled?: boolean;
  /** The Graph properties as sent (kept on a conflict, so that the admin sees what the directory says). */
  raw: Record<string, unknown>;
};

const RAW_FIELDS = ["displayName", "givenName", "surname", "userPrincipalName", "mail", "mobilePhone", "jobTitle", "accountEnabled"] as const;

const text = (value: unknown, max: number): string | null => {
  if (typeof value !== "string") return null;
  const trimmed = value
    .normalize("NFKC")
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .trim();
  return trimmed ? trimmed.slice(0, max) : null;
};

/** E.164 when the number is a valid one; Graph's mobilePhone is free text. */
export function normalizePhone(value: unknown): string | null {
  const raw = text(value, 64);
  if (!raw || !/^[+\d\s().\-/]+$/.test(raw)) return null;
  const phone = parsePhoneNumberFromString(raw, "US");
  return phone?.isValid() ? phone.number : null;
}

export function normalizeEmail(value: unknown): string | null {
  const raw = text(value, 254)?.toLowerCase() ?? null;
  return raw && email.safeParse(raw).success ? raw : null;
}

const has = (body: Record<string, unknown>, key: string) => Object.prototype.hasOwnProperty.call(body, key);

/** A user object from /users/delta; null when it has no usable object ID. */
export function readDirectoryUser(body: Record<string, unknown>): DirectoryUser | null {
  if (!isObjectId(body.id)) return null;
  const oid = body.id.toLowerCase();
  const removed = body["@removed"] as { reason?: unknown } | undefined;
  if (removed) return { oid, removed: removed.reason === "deleted" ? "deleted" : "soft", raw: {} };
  const raw: Record<string, unknown> = {};
  for (const field of RAW_FIELDS)
    if (has(body, field))
      raw[field] = typeof body[field] === "string" ? text(body[field], 256) : body[field] === true || body[field] === false ? body[field] : null;
  return { ...attributes(raw), oid, removed: null, raw };
}

/** The portal's attributes from Graph properties; only those that were sent. */
export function attributes(raw: Record<string, unknown>): Omit<DirectoryUser, "oid" | "removed" | "raw"> {
  const out: Omit<DirectoryUser, "oid" | "removed" | "raw"> = {};
  if (has(raw, "displayName") || has(raw, "givenName") || has(raw, "surname")) {
    const full = [text(raw.givenName, 100), text(raw.surname, 100)].filter(Boolean).join(" ");
    const name = text(raw.displayName, 200) ?? (full || text(raw.userPrincipalName, 200));
    if (name) out.name = name;
  }
  if (has(raw, "userPrincipalName")) out.upn = text(raw.userPrincipalName, 254);
  if (has(raw, "mail")) out.email = normalizeEmail(raw.mail);
  if (has(raw, "mobilePhone")) out.phone = normalizePhone(raw.mobilePhone);
  if (has(raw, "jobTitle")) out.jobTitle = text(raw.jobTitle, 200);
  if (typeof raw.accountEnabled === "boolean") out.enabled = raw.accountEnabled;
  return out;
}

/** Two sightings of the same user in one page: the later one wins, property by property. */
export function merge(a: DirectoryUser, b: DirectoryUser): DirectoryUser {
  if (b.removed) return b;
  if (a.removed) return b;
  const raw = { ...a.raw, ...b.raw };
  return { ...attributes(raw), oid: b.oid, removed: null, raw };
}

/** Enough to create a user: a full record, never a partial change. */
export const complete = (user: DirectoryUser) => !user.removed && user.name !== undefined && user.upn !== undefined;
