// The operator CLI: `npm run portal -- <command> [--flags]`. Passwords never come from argv (shell
// history, `ps`): --password-stdin reads stdin, --password-file reads a file, and without either the
// user gets a one-time set-password link.
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { env as loadEnv } from "../app/lib/env.server.ts";
import { LINK_MINUTES, linkLifetime } from "../app/lib/link-lifetimes.ts";
import { count } from "../app/lib/wording.ts";
import { isDatabaseUnavailable } from "../app/lib/db-errors.server.ts";
import { databaseErrorSentence, migrationStatus, type MigrationStatus } from "../app/lib/migrate.server.ts";

const SET_PASSWORD_MINUTES = LINK_MINUTES.set_password;

const HELP = `Usage: npm run portal -- <command> [options]

  org:create --name NAME --slug SLUG   create an organization
  org:list                             list the organizations
  org:licence --org SLUG on|off        turn an organization's SSO licence on or off
                   [--confirm-lockout]  even when no admin would keep password sign-in
  user:create --org SLUG --name NAME [--email EMAIL] [--phone "+44 …"] [--admin]
              [--password-stdin | --password-file FILE]
                                       create a local user (an email, a phone or both); without
                                       a password option it prints a one-time set-password link
  user:list --org SLUG                 list an organization's users
  app:create --name NAME --redirect-uri URI [--redirect-uri URI …] [--confidential]
             [--grant-types authorization_code,refresh_token]
                                       register an app that signs its users in through the portal (OpenID
                                       Connect); prints its client ID, and a confidential app's secret once.
                                       Desktop and mobile apps: http://127.0.0.1/PATH (any port at sign-in),
                                       http://[::1]/PATH, com.example.app:/PATH or a claimed https URI
  app:list                             list the registered apps
  app:remove --client-id ID            remove an app and end every sign-in it holds
  retention:run                        delete what is past its time now (expired sessions, flow states,
                                       old tokens and delivered mail, audit events if AUDIT_RETENTION_DAYS)
  help                                 show this text

Passwords are never taken from the command line: pipe one in with --password-stdin (a terminal
gets a hidden prompt) or name a file with --password-file.
The database is DATABASE_URL (default file:./data/portal.db). Commands work beside a running portal; they
never migrate the database: when migrations are pending they say so, and \`npm run db:deploy\` applies them.`;

type Options = NonNullable<ParseArgsConfig["options"]>;
type Command = { options: Options; positionals?: boolean; run: (args: Parsed) => Promise<void> };
type Parsed = { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };

// Loaded after the environment has been checked, so that a bad variable is reported as one sentence.
let orgs: typeof import("../app/lib/orgs.server.ts");

const text = (values: Parsed["values"], name: string) => {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
};

function required(values: Parsed["values"], name: string): string {
  const value = text(values, name);
  if (value === undefined) throw new orgs.InputError(`The option --${name} is required.`);
  return value;
}

async function requireOrg(slugOrId: string) {
  const org = await orgs.findOrganization(slugOrId);
  if (!org) throw new orgs.InputError(`No organization has the slug "${slugOrId.slice(0, 60)}"; run org:list to see them.`);
  return org;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function readPassword(values: Parsed["values"]): Promise<string | undefined> {
  const file = text(values, "password-file");
  if (values["password-stdin"] && file) throw new orgs.InputError("Use either --password-stdin or --password-file, not both.");
  if (file) {
    try {
      return readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new orgs.InputError(`The password file ${file} could not be read (${(error as NodeJS.ErrnoException).code ?? "error"}).`);
    }
  }
  if (values["password-stdin"]) return process.stdin.isTTY ? promptHidden("Password: ") : readAllStdin();
  return undefined;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

// A terminal gets a prompt that does not echo what is typed.
function promptHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  let typed = "";
  return new Promise((resolve, reject) => {
    const done = (finish: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      finish();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") return done(() => resolve(typed));
        if (char === "\u0003") return done(() => reject(new orgs.InputError("Cancelled.")));
        typed = char === "\u007f" || char === "\b" ? typed.slice(0, -1) : typed + char;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

const commands: Record<string, Command> = {
  "org:create": {
    options: { name: { type: "string" }, slug: { type: "string" } },
    async run({ values }) {
      const org = await orgs.createOrganization({ name: required(values, "name"), slug: required(values, "slug") });
      console.log(`Created organization "${org.name}" (slug ${org.slug}, id ${org.id}).`);
    },
  },
  "org:list": {
    options: {},
    async run() {
      const list = await orgs.listOrganizations();
      if (!list.length) return console.log("No organizations yet. Create one with org:create.");
      const rows = list.map((o) => [o.slug, o.name, o.ssoLicensed ? "on" : "off", o.ssoEnabled ? "on" : "off", String(o._count.users)]);
      console.log(table([["SLUG", "NAME", "LICENCE", "SSO", "USERS"], ...rows]));
    },
  },
  "org:licence": {
    options: { org: { type: "string" }, "confirm-lockout": { type: "boolean" } },
    positionals: true,
    async run({ values, positionals }) {
      const [state, ...extra] = positionals;
      if ((state !== "on" && state !== "off") || extra.length) throw new orgs.InputError('Say "on" or "off" after org:licence --org SLUG.');
      const org = await requireOrg(required(values, "org"));
      const updated = await orgs.setSsoLicence(org.id, state === "on", undefined, { lockoutConfirmed: values["confirm-lockout"] === true });
      const changed = updated.ssoLicensed !== org.ssoLicensed;
      console.log(`The SSO licence of ${org.slug} is ${state}${changed ? "" : " (unchanged)"}.`);
    },
  },
  "user:create": {
    options: {
      org: { type: "string" },
      email: { type: "string" },
      phone: { type: "string" },
      name: { type: "string" },
      admin: { type: "boolean" },
      "password-stdin": { type: "boolean" },
      "password-file": { type: "string" },
    },
    async run({ values }) {
      const org = await requireOrg(required(values, "org"));
      const password = await readPassword(values);
      const user = await orgs.createUser({
        orgId: org.id,
        email: text(values, "email"),
        phone: text(values, "phone"),
        name: required(values, "name"),
        role: values.admin ? "admin" : "member",
        password,
      });
      console.log(`Created ${user.role} ${user.name} <${user.email ?? user.phone}> in ${org.slug} (id ${user.id}).`);
      if (password === undefined) {
        const { issueToken } = await import("../app/lib/tokens.server.ts");
        const token = await issueToken("set_password", user.id, SET_PASSWORD_MINUTES);
        console.log(`No password was given. Send the user this one-time link to set one (valid ${linkLifetime("set_password")}):`);
        console.log(`${loadEnv().APP_ORIGIN}/reset-password?token=${token}`);
      }
    },
  },
  "user:list": {
    options: { org: { type: "string" } },
    async run({ values }) {
      const users = await orgs.listUsers((await requireOrg(required(values, "org"))).id);
      if (!users.length) return console.log("No users in this organization yet. Add one with user:create.");
      const rows = users.map((u) => [u.email ?? "", u.phone ?? "", u.name, u.role, u.status, u.passwordHash ? "yes" : "no", u.totpEnrolledAt ? "yes" : "no"]);
      console.log(table([["EMAIL", "PHONE", "NAME", "ROLE", "STATUS", "PASSWORD", "TOTP"], ...rows]));
    },
  },
  "retention:run": {
    options: {},
    async run() {
      const { describeRetention, runRetention } = await import("../app/lib/retention.server.ts");
      console.log(describeRetention(await runRetention()));
    },
  },
  "app:create": {
    options: {
      name: { type: "string" },
      "redirect-uri": { type: "string", multiple: true },
      confidential: { type: "boolean" },
      "grant-types": { type: "string" },
    },
    async run({ values }) {
      const { createApp } = await import("../app/lib/oidc/clients.server.ts");
      const redirectUris = (values["redirect-uri"] as string[] | undefined) ?? [];
      const grantTypes = text(values, "grant-types")
        ?.split(",")
        .map((g) => g.trim())
        .filter(Boolean);
      const { app, secret } = await createApp({ name: required(values, "name"), redirectUris, confidential: values.confidential === true, grantTypes });
      console.log(`Registered ${app.applicationType === "native" ? "the public (native) app" : "the confidential app"} "${app.name}".`);
      console.log(`Client ID: ${app.clientId}`);
      if (secret) console.log(`Client secret (shown only now; the portal keeps a hash): ${secret}`);
      console.log(`Issuer (discovery at /.well-known/openid-configuration): ${loadEnv().APP_ORIGIN}`);
    },
  },
  "app:list": {
    options: {},
    async run() {
      const { appGrantTypes, appRedirectUris, listApps } = await import("../app/lib/oidc/clients.server.ts");
      const apps = await listApps();
      if (!apps.length) return console.log("No apps registered yet. Register one with app:create.");
      const rows = apps.map((a) => [a.clientId, a.name, a.secretHash ? "confidential" : "public", appGrantTypes(a).join(","), appRedirectUris(a).join(" ")]);
      console.log(table([["CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "REDIRECT URIS"], ...rows]));
    },
  },
  "app:remove": {
    options: { "client-id": { type: "string" } },
    async run({ values }) {
      const { removeApp } = await import("../app/lib/oidc/clients.server.ts");
      const clientId = required(values, "client-id");
      if (!(await removeApp(clientId))) throw new orgs.InputError(`No app has the client ID "${clientId.slice(0, 60)}"; run app:list to see them.`);
      console.log(`Removed the app ${clientId}; its sign-ins have ended.`);
    },
  },
  help: { options: {}, run: async () => console.log(HELP) },
};

// Commands only read the migration history: applying migrations is db:deploy's job, run on purpose.
function migrationProblem(status: MigrationStatus): string | null {
  if (status.pending.length) return `The database needs \`npm run db:deploy\` (${count(status.pending.length, "migration")} pending).`;
  if (status.unknown.length)
    return `The database has ${count(status.unknown.length, "migration")} that this version of the portal does not know (${status.unknown.join(", ").slice(0, 200)}): use the version that migrated it.`;
  return null;
}

// Prisma's messages start with the call site; the cause is on the last line.
const causeOf = (error: unknown) =>
  String((error as Error)?.message ?? error)
    .trim()
    .split("\n")
    .at(-1)!
    .trim()
    .slice(0, 200);

// node:util's parse errors are several sentences about positionals; say what went wrong instead.
function parseError(name: string, options: Options, error: { code?: string; message: string }): string {
  const option = /'(-[^' ]*)/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `${name} has no option ${option}; run "npm run portal -- help" to see the options.`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `${name} takes no argument "${/'([^']*)'/.exec(error.message)?.[1] ?? ""}"; options start with --.`;
    default:
      return options[option.replace(/^--/, "")]?.type === "boolean" ? `The option ${option} takes no value.` : `The option ${option} needs a value.`;
  }
}

async function main(argv: string[]): Promise<number> {
  const [name = "help", ...rest] = argv;
  const command = Object.hasOwn(commands, name) ? commands[name]! : undefined;
  if (!command) {
    console.error(`Unknown command "${name.slice(0, 60)}"; run "npm run portal -- help" to see the commands.`);
    return 1;
  }
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals ?? false });
  } catch (error) {
    console.error(parseError(name, command.options, error as { code?: string; message: string }));
    return 1;
  }
  if (name === "help") return command.run(parsed).then(() => 0);

  let env;
  try {
    env = loadEnv();
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
  try {
    const problem = migrationProblem(await migrationStatus(env.DATABASE_URL));
    if (problem) {
      console.error(problem);
      return 1;
    }
  } catch (error) {
    console.error(databaseErrorSentence(error));
    return 1;
  }

  orgs = await import("../app/lib/orgs.server.ts");
  const { db } = await import("../app/lib/db.server.ts");
  try {
    await command.run(parsed);
    return 0;
  } catch (error) {
    if (error instanceof orgs.InputError) console.error(error.message);
    else if (isDatabaseUnavailable(error)) console.error(`The database did not answer (${causeOf(error)}); nothing more was done: try again in a minute.`);
    else console.error(`The command failed unexpectedly (${causeOf(error)}).`);
    return 1;
  } finally {
    await db.$disconnect();
  }
}

process.exitCode = await main(process.argv.slice(2));
