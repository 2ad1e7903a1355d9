// Calls route loaders and actions the way Remix does, with a cookie jar, and makes users to sign in with.
import { generate } from "otplib";
import { db } from "~/lib/db.server.ts";
import { hashPassword } from "~/lib/passwords.server.ts";
import { newTotpSecret, sealTotpSecret } from "~/lib/totp.server.ts";
import { withRequest } from "~/lib/log.server.ts";
import { usePostgres } from "./pg.ts";

export const ORIGIN = "http://localhost:3000";
export const ADDRESS = "203.0.113.7";

type RouteFn = (args: { request: Request; context: { clientAddress: string }; params: Record<string, string> }) => unknown;

export type Result = { status: number; location: string | null; data: any; setCookies: string[] };

export class Browser {
  cookies = new Map<string, string>();
  constructor(public address = ADDRESS) {}

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  store(setCookies: string[]) {
    for (const header of setCookies) {
      const [pair, ...attrs] = header.split(";");
      const [name, ...rest] = pair!.split("=");
      const value = rest.join("=");
      const expired = attrs.some((a) => /max-age=0\b/i.test(a.trim())) || value === "";
      if (expired) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
  }

  request(path: string, init: { method?: string; form?: Record<string, string> | FormData | URLSearchParams } = {}) {
    const headers = new Headers({ Origin: ORIGIN, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36" });
    if (this.cookies.size) headers.set("Cookie", this.cookieHeader());
    let body: BodyInit | undefined;
    if (init.form) {
      body = init.form instanceof FormData || init.form instanceof URLSearchParams ? init.form : new URLSearchParams(init.form);
    }
    return new Request(`${ORIGIN}${path}`, { method: init.method ?? (body ? "POST" : "GET"), headers, body });
  }

  async run(fn: RouteFn, request: Request, params: Record<string, string> = {}): Promise<Result> {
    let out: unknown;
    try {
      // As server/app.ts does: code below the route sees the request's User-Agent (the audit row's device).
      out = await withRequest({ requestId: "test", userAgent: request.headers.get("User-Agent") }, () =>
        fn({ request, context: { clientAddress: this.address }, params }),
      );
    } catch (thrown) {
      out = thrown;
    }
    const result = await normalize(out);
    this.store(result.setCookies);
    return result;
  }

  get(fn: RouteFn, path: string, params?: Record<string, string>) {
    return this.run(fn, this.request(path), params);
  }

  post(fn: RouteFn, path: string, form: Record<string, string> | FormData | URLSearchParams, params?: Record<string, string>) {
    return this.run(fn, this.request(path, { form }), params);
  }
}

async function normalize(out: unknown): Promise<Result> {
  if (out instanceof Response) {
    const type = out.headers.get("Content-Type") ?? "";
    const body = /^application\/json\b/.test(type) ? await out.json() : await out.text();
    return { status: out.status, location: out.headers.get("Location"), data: body, setCookies: out.headers.getSetCookie() };
  }
  if (out instanceof Error) throw out;
  // Remix's data() helper
  if (out && typeof out === "object" && (out as { type?: string }).type === "DataWithResponseInit") {
    const { data, init } = out as { data: unknown; init?: ResponseInit };
    const headers = new Headers(init?.headers);
    return { status: init?.status ?? 200, location: null, data, setCookies: headers.getSetCookie() };
  }
  return { status: 200, location: null, data: out, setCookies: [] };
}

let counter = 0;
export async function createOrg(name = "Acme") {
  counter += 1;
  return db.organization.create({ data: { name, slug: `org-${counter}-${Date.now()}` } });
}

export const PASSWORD = "correct horse battery";

export async function createUser(
  opts: { orgId?: string; email?: string | null; phone?: string; password?: string | null; totp?: boolean; role?: string } = {},
) {
  const orgId = opts.orgId ?? (await createOrg()).id;
  const secret = newTotpSecret();
  counter += 1;
  const created = await db.user.create({
    data: {
      orgId,
      email: opts.email === undefined ? `user${counter}@example.test` : opts.email,
      phone: opts.phone ?? null,
      name: `User ${counter}`,
      role: opts.role ?? "member",
      passwordHash: opts.password === null ? null : await hashPassword(opts.password ?? PASSWORD),
      totpEnrolledAt: opts.totp === false ? null : new Date(),
    },
  });
  // Sealed once the id is known: a secret is bound to its user (docs/decisions/018).
  const user =
    opts.totp === false
      ? created
      : await db.user.update({ where: { id: created.id }, data: { totpSecret: sealTotpSecret(secret, { kind: "user", userId: created.id }) } });
  return { user, secret };
}

/** A valid code for a time step that has not been used yet (steps advance every 30 s). */
export async function totpCode(secret: string, offsetSteps = 0) {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

export function formData(entries: [string, string | Blob][]) {
  const form = new FormData();
  for (const [k, v] of entries) form.append(k, v);
  return form;
}

/** A browser already signed in as `user` (an active session, as after password + TOTP). */
export async function signedInAs(user: { id: string }, authMethod: "password_totp" | "microsoft" = "password_totp", microsoftTenantId?: string) {
  const { startSession } = await import("~/lib/session.server.ts");
  const b = new Browser();
  b.store([await startSession(b.request("/"), { userId: user.id, stage: "active", authMethod, microsoftTenantId, clientAddress: b.address })]);
  return b;
}

let deleteAllPg: string | undefined;
/** Deletes every row of every table of this test file's own database (nothing else is touched). */
export async function emptyDatabase() {
  if (usePostgres) {
    // pg_tables names are of type `name`, which the adapter cannot read: cast them to text.
    // DELETE rather than TRUNCATE: on tables this small it is ~10x faster (TRUNCATE swaps files), and every
    // foreign key cascades or sets null, so the order does not matter. One string, one round trip.
    deleteAllPg ??= (
      await db.$queryRaw<
        { name: string }[]
      >`SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename <> '_prisma_migrations'`
    )
      .map((t) => `DELETE FROM "${t.name}";`)
      .join(" ");
    await db.$executeRawUnsafe(deleteAllPg);
    return;
  }
  const tables = await db.$queryRaw<
    { name: string }[]
  >`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('_prisma_migrations', 'sqlite_sequence')`;
  await db.$executeRawUnsafe("PRAGMA foreign_keys = OFF");
  for (const { name } of tables) await db.$executeRawUnsafe(`DELETE FROM "${name}"`);
  await db.$executeRawUnsafe("PRAGMA foreign_keys = ON");
}
