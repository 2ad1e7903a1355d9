import { it } from "vitest";
import { renderEmail } from "~/lib/mail/outbox.server.ts";
it("prints", async () => {
  const r = await renderEmail("invitation", { name: "Ada", orgName: "Contoso & Co", inviterName: "Grace", acceptUrl: "http://localhost:3000/i?t=1&u=2", expiresDays: 7 });
  console.log(r.subject + "\n-----\n" + r.text + "\n-----\n" + r.html.length);
  const s = await renderEmail("sso-invitation", { name: "Ada", orgName: "Contoso", inviterName: "Grace", signInUrl: "http://localhost:3000/m" });
  console.log(s.text);
});
