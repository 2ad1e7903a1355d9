// `npm run demo`: build if needed, migrate, seed the demo organization once, start the local stand-in for
// Microsoft Entra ID, print the accounts, then run the portal in demo mode against it until Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
process.chdir(root);

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function newestChange(dir: string): number {
  if (!existsSync(dir)) return 0;
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => statSync(path.join(entry.parentPath, entry.name)).mtimeMs),
  );
}

const serverBuild = path.join(root, "build/server/index.js");
const sources = Math.max(newestChange("app"), newestChange("emails"), statSync("vite.config.ts").mtimeMs);
if (!existsSync(serverBuild) || statSync(serverBuild).mtimeMs < sources) {
  console.log("Building the app…");
  run("npx", ["remix", "vite:build"]);
}

// In a child process: the migration engine keeps its connection's exclusive lock until its process ends.
run(process.execPath, ["--import", "tsx", "scripts/db.ts", "deploy"]);

// Imported only now, so that the environment is read after the build and migrations.
const { env } = await import("../app/lib/env.server.ts");
const { db } = await import("../app/lib/db.server.ts");
const { seedDemo, seedDesktopApp } = await import("./demo-seed.ts");

const { created, accounts } = await seedDemo();
await seedDesktopApp();
await db.$disconnect();
const origin = env().APP_ORIGIN;

// The stand-in is test code: the demo starts it beside the portal, the portal only sees its URL.
const { startStandin } = await import("../test/entra/server.ts");
const standin = await startStandin({ certDir: path.join(root, "data/standin"), port: Number(process.env.STANDIN_PORT ?? 3443) });
const tenantLines = standin.directory.tenants.map((t) => {
  const admin = [...t.liveUsers()].find((u) => u.isAdmin);
  return `  ${t.displayName.padEnd(18)} ${t.domains.join(", ").padEnd(45)} admin: ${admin?.userPrincipalName ?? "none"}`;
});

const rows = [
  ["EMAIL", "NAME", "PASSWORD", "TOTP SECRET"],
  ...accounts.map((a) => [
    a.email + (a.role === "admin" ? " (admin)" : ""),
    a.name,
    a.password ?? "(changed since seeding)",
    typeof a.totp === "string" ? `(${a.totp})` : a.totp.secret,
  ]),
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
const table = rows
  .map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  )
  .join("\n");

console.log(`
${created ? "Seeded" : "Found"} the demo organization "Demo Company" (slug demo, SSO licence on).

${table}

Add a secret to an authenticator app with its otpauth URI (or type the secret in), or compute the
current code in a terminal with:  oathtool --totp -b SECRET
${accounts.flatMap((a) => (typeof a.totp === "string" ? [] : [`  ${a.email}: ${a.totp.uri}`])).join("\n")}
new@demo.test has no TOTP yet: signing in with it walks through enrolment.
Ada can also sign in with her phone number, +1 415 555 2671.

Sign in at ${origin}/login
Without SMTP_URL no email leaves the machine: read them (password resets, invitations) at ${origin}/dev/outbox

Microsoft is played by a local stand-in at ${standin.url} (its sign-in pages list each tenant's users):
${tenantLines.join("\n")}
Try the linking model: sign in as admin@demo.test, open Organization Settings → Users → Microsoft integrations,
add "contoso.com", approve as adele@contoso.com and sign in as her (proof that a tenant admin registers it), then Users → Single Sign-On → Enable SSO. Sign in as
ada@demo.test with password + code and choose "Use Microsoft": any Contoso account links to Ada.
Northwind has no consent yet; a non-admin such as andrew@northwindtraders.com is refused there.
Try Entra ID Sync: add "fabrikam.com" the same way (approve and sign in as nestor@fabrikam.com), pick it on Users →
Entra ID Sync and press "Sync now"; then Users → Single Sign-On → Enable SSO and Enable for all synced users; sign in
as patti@fabrikam.com: the portal sends her to Microsoft, no password involved.
Try the desktop app: in another terminal, \`npm run desktop-demo\` opens your browser at the portal's sign-in (or prints
the URL), and prints who signed in once you have, as any of the accounts above (password + code, or Microsoft).
Your browser warns about the stand-in's self-signed certificate (${standin.certPath}): accept it, or trust that file.
`);

// The server logs JSON lines; the demo shows them as pino-pretty reads them.
const { default: pretty } = await import("pino-pretty");
const server = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
  stdio: ["inherit", "pipe", "inherit"],
  env: {
    ...process.env,
    DEMO_MODE: "true",
    ENTRA_CLIENT_ID: process.env.ENTRA_CLIENT_ID ?? standin.app.clientId,
    ENTRA_CLIENT_SECRET: process.env.ENTRA_CLIENT_SECRET ?? standin.app.clientSecret,
    ENTRA_AUTHORITY_HOST: process.env.ENTRA_AUTHORITY_HOST ?? standin.url,
    GRAPH_BASE_URL: process.env.GRAPH_BASE_URL ?? standin.url,
    NODE_EXTRA_CA_CERTS: standin.certPath,
  },
});
server.stdout.pipe(pretty({ colorize: process.stdout.isTTY, ignore: "pid,hostname" }));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => server.kill(signal));
server.on("exit", async (code, signal) => {
  await standin.close();
  process.exit(code ?? (signal ? 0 : 1));
});
