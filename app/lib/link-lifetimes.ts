// How long each kind of emailed one-time link works: the one place the issuers read, and the pages and emails
// that state a link's lifetime derive their sentence from, so that the words follow the number.
import { minutes } from "./wording.ts";

export const LINK_MINUTES = {
  password_reset: 30,
  set_password: 24 * 60,
  invitation: 7 * 24 * 60,
} as const;

export type LinkKind = keyof typeof LINK_MINUTES;

const NAMES: Record<LinkKind, string> = {
  password_reset: "Password reset links",
  set_password: "Links to set a password",
  invitation: "Invitation links",
};

/** "30 minutes", "24 hours", "7 days". */
export const linkLifetime = (kind: LinkKind) => minutes(LINK_MINUTES[kind]);

/** "Links to set a password work once, for 24 hours." */
export const linkLifetimeSentence = (kind: LinkKind) => `${NAMES[kind]} work once, for ${linkLifetime(kind)}.`;
