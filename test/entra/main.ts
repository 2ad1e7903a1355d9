// Runs the stand-in on its own for the demo and manual testing:
//   tsx test/entra/main.ts --port 3443 --cert-dir data/standin [--host 127.0.0.1]
import { parseArgs } from "node:util";
import { defaultFixture, directoryRolesOf, ROLE_NAMES } from "./fixture.ts";
import { startStandin } from "./server.ts";

const { values } = parseArgs({
  options: { port: { type: "string", default: "3443" }, "cert-dir": { type: "string", default: "data/standin" }, host: { type: "string" } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, not ${values.port}`);

const standin = await startStandin({ fixture: defaultFixture(), certDir: values["cert-dir"]!, port, host: values.host });
const lines = [
  `Microsoft Entra ID + Graph stand-in: ${standin.url}`,
  `  certificate: ${standin.certPath} (start Node with NODE_EXTRA_CA_CERTS=${standin.certPath})`,
  `  app: ${standin.app.displayName}`,
  `    client ID:     ${standin.app.clientId}`,
  `    client secret: ${standin.app.clientSecret}`,
];
for (const tenant of standin.directory.tenants) {
  const consent = standin.directory.hasConsent(tenant.id) ? "admin consent given" : "no admin consent yet";
  lines.push(`  tenant ${tenant.displayName} ${tenant.id} (${tenant.domains.join(", ")}; ${consent})`);
  for (const user of tenant.liveUsers()) {
    const roles = directoryRolesOf(user).map((r) => ROLE_NAMES[r] ?? r);
    const marks = [...roles, !user.accountEnabled && "disabled"].filter(Boolean).join(", ");
    lines.push(`    ${user.userPrincipalName.padEnd(32)} ${user.oid}${marks ? `  [${marks}]` : ""}`);
  }
}
console.log(lines.join("\n"));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await standin.close();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
