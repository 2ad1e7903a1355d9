import { z } from "zod";
import { LINK_MINUTES } from "./link-lifetimes.ts";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

// Length only, no composition rules (NIST SP 800-63B).
export const newPasswordFields = {
  newPassword: z.string().min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters.`).max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters.`),
  confirmPassword: z.string().max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters.`),
};

export function passwordsMatch<T extends { newPassword: string; confirmPassword: string }>(schema: z.ZodType<T>) {
  return schema.refine((v) => v.newPassword === v.confirmPassword, { message: "The two passwords don't match.", path: ["confirmPassword"] });
}

/** How long a "reset your password" link works. */
export const RESET_MINUTES = LINK_MINUTES.password_reset;
