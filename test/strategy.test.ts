// The strategy truth table, exhaustively: every combination of its inputs.
import { describe, expect, it } from "vitest";
import { resolveSignIn, type StrategyInput } from "~/lib/signin/rule.ts";

const bools = [false, true] as const;

function* combinations(): Generator<StrategyInput> {
  for (const ssoLicensed of bools)
    for (const ssoEnabled of bools)
      for (const ssoForAllSynced of bools)
        for (const syncIntegrationActive of bools)
          for (const hasActiveIntegration of bools)
            for (const source of ["local", "synced"] as const)
              for (const userSso of bools)
                for (const hasPassword of bools)
                  for (const linkPrompt of ["ask", "declined"] as const)
                    for (const link of [null, { integrationActive: false }, { integrationActive: true }])
                      yield {
                        org: { ssoLicensed, ssoEnabled, ssoForAllSynced, syncIntegrationActive, hasActiveIntegration },
                        user: { source, ssoEnabled: userSso, hasPassword, linkPrompt, link },
                      };
}

// The table of DESIGN.md, row by row, written as the spec reads (first matching row wins).
function expectedMethod(i: StrategyInput) {
  const fallback = i.user.hasPassword ? "password" : "none";
  if (!(i.org.ssoLicensed && i.org.ssoEnabled)) return fallback;
  if (i.user.source === "synced") return (i.org.ssoForAllSynced || i.user.ssoEnabled) && i.org.syncIntegrationActive ? "microsoft" : fallback;
  return i.user.link?.integrationActive ? "microsoft" : fallback;
}

const all = [...combinations()];

describe("resolveSignIn", () => {
  it("covers every combination", () => expect(all).toHaveLength(2 ** 9 * 3));

  it.each(all.map((input) => [JSON.stringify(input), input] as const))("%s", (_name, input) => {
    const s = resolveSignIn(input);
    expect(s.method).toBe(expectedMethod(input));
    // Exactly one method: Microsoft never coexists with the password.
    expect(["microsoft", "password", "none"]).toContain(s.method);
    expect(s.identity !== null).toBe(s.method === "microsoft");
    if (s.identity === "sync") expect(input.user.source).toBe("synced");
    if (s.identity === "link") expect(input.user.source).toBe("local");
    expect(s.removesPassword).toBe(s.identity === "sync");
    expect(s.canUnlink).toBe(s.identity === "link");
    // The link prompt: local users on password with no link, who haven't declined, when there is a tenant to link to.
    const offer =
      input.org.ssoLicensed &&
      input.org.ssoEnabled &&
      input.user.source === "local" &&
      !input.user.link &&
      input.user.hasPassword &&
      input.user.linkPrompt === "ask" &&
      input.org.hasActiveIntegration;
    expect(s.offerLink).toBe(offer);
  });

  it("keeps links and flags dormant without the licence", () => {
    const s = resolveSignIn({
      org: { ssoLicensed: false, ssoEnabled: true, ssoForAllSynced: true, syncIntegrationActive: true, hasActiveIntegration: true },
      user: { source: "local", ssoEnabled: true, hasPassword: false, linkPrompt: "ask", link: { integrationActive: true } },
    });
    expect(s).toEqual({ method: "none", identity: null, offerLink: false, canUnlink: false, removesPassword: false });
  });
});
