// The one rule that decides how each user signs in (DESIGN.md, "One rule for everybody").
// Pure: no I/O. Every place that needs the answer calls resolveSignIn; nothing else decides.

export type SignInMethod = "microsoft" | "password" | "none";

export type StrategyInput = {
  org: {
    ssoLicensed: boolean;
    ssoEnabled: boolean;
    ssoForAllSynced: boolean;
    /** The org's sync integration exists and is active, and (for a synced user) it is the one that synced them. */
    syncIntegrationActive: boolean;
    /** At least one of the org's integrations is active (the link prompt needs somewhere to link to). */
    hasActiveIntegration: boolean;
  };
  user: {
    source: "local" | "synced";
    /** The per-user SSO switch for synced users. */
    ssoEnabled: boolean;
    hasPassword: boolean;
    linkPrompt: "ask" | "declined";
    /** The user's Microsoft link, with whether its integration is active; null when there is none. */
    link: { integrationActive: boolean } | null;
  };
};

export type SignInStrategy = {
  method: SignInMethod;
  /** Where the Microsoft identity (tid, oid) comes from when the method is microsoft. */
  identity: "link" | "sync" | null;
  /** Ask "Sign in with your Microsoft account from now on?" after password + TOTP. */
  offerLink: boolean;
  /** The user may unlink their Microsoft account in My Profile. */
  canUnlink: boolean;
  /** Starting SSO for this synced user removes their password. */
  removesPassword: boolean;
};

/** The user part of the strategy's input from a user row (and whether their link's integration is active). */
export function strategyUser(
  user: { source: string; ssoEnabled: boolean; passwordHash: string | null; linkPrompt: string },
  link: { integrationActive: boolean } | null,
): StrategyInput["user"] {
  return {
    source: user.source === "synced" ? "synced" : "local",
    ssoEnabled: user.ssoEnabled,
    hasPassword: Boolean(user.passwordHash),
    linkPrompt: user.linkPrompt === "declined" ? "declined" : "ask",
    link,
  };
}

const passwordOrNone = (input: StrategyInput): SignInMethod => (input.user.hasPassword ? "password" : "none");

export function resolveSignIn(input: StrategyInput): SignInStrategy {
  const { org, user } = input;
  const ssoOn = org.ssoLicensed && org.ssoEnabled;
  const none = { identity: null, offerLink: false, canUnlink: false, removesPassword: false } as const;

  if (!ssoOn) return { ...none, method: passwordOrNone(input) };

  if (user.source === "synced") {
    const wantsSso = org.ssoForAllSynced || user.ssoEnabled;
    if (wantsSso && org.syncIntegrationActive) return { ...none, method: "microsoft", identity: "sync", removesPassword: true };
    return { ...none, method: passwordOrNone(input) };
  }

  if (user.link?.integrationActive) return { ...none, method: "microsoft", identity: "link", canUnlink: true };
  const method = passwordOrNone(input);
  return {
    ...none,
    method,
    offerLink: method === "password" && !user.link && user.linkPrompt === "ask" && org.hasActiveIntegration,
  };
}
