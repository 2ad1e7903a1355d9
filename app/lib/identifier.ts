import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { z } from "zod";

export type Identifier = { kind: "email"; value: string } | { kind: "phone"; value: string };

export const IDENTIFIER_MAX = 254;

// Built once: building a zod schema costs more than using it, and this runs on every sign-in.
const emailSchema = z.email();

/**
 * An email address (lower-cased) or a mobile number in any common format, normalized to E.164.
 * Numbers without a country code are read as `defaultCountry`.
 */
export function parseIdentifier(raw: string, defaultCountry: "US" | "GB" | "DE" | "FR" | "NL" = "US"): Identifier | null {
  const input = raw
    .normalize("NFKC")
    .trim()
    .replace(/^00(?=\d)/, "+");
  if (!input || input.length > IDENTIFIER_MAX) return null;
  if (input.includes("@")) {
    const email = emailSchema.safeParse(input.toLowerCase());
    return email.success ? { kind: "email", value: email.data } : null;
  }
  if (!/^[+\d\s().\-/]+$/.test(input)) return null;
  const phone = parsePhoneNumberFromString(input, defaultCountry);
  return phone?.isValid() ? { kind: "phone", value: phone.number } : null;
}
