// The OpenID Provider's storage: every object of oidc-provider's models (grants, codes, tokens, its sessions and
// interactions) is a row of OidcPayload in the portal's database, so that any instance can serve any request;
// apps (the Client model) are read from OidcClient. Nothing is kept in memory.
import Provider, { errors, type Adapter, type AdapterPayload } from "oidc-provider";
import { db } from "../db.server.ts";
import { noteReuse } from "./audit.server.ts";
import { clientMetadata } from "./clients.server.ts";

export { endAppGrantsOf } from "./grants.server.ts";

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

type Row = { payload: string; expiresAt: Date | null; consumedAt: Date | null };

function live(row: Row | null): AdapterPayload | undefined {
  if (!row || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return undefined;
  const payload = JSON.parse(row.payload) as AdapterPayload;
  return row.consumedAt ? { ...payload, consumed: epoch(row.consumedAt) } : payload;
}

// What a client sent (a client_id, a token) is looked up as is. PostgreSQL refuses text with a NUL character, and
// no stored id has one: such a value is simply not found.
const impossible = (value: string) => value.includes("\u0000");

/** One model of oidc-provider ("Grant", "RefreshToken", ...) on OidcPayload. */
export class PrismaAdapter implements Adapter {
  constructor(readonly kind: string) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    const columns = {
      payload: JSON.stringify(payload),
      // A grant is its own group: ending it deletes the grant and everything issued under it in one statement.
      grantId: this.kind === "Grant" ? id : (payload.grantId ?? null),
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      accountId: payload.accountId ?? null,
      clientId: payload.clientId ?? null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    await db.oidcPayload.upsert({ where: { kind_id: { kind: this.kind, id } }, create: { kind: this.kind, id, ...columns }, update: columns });
  }

  async find(id: string) {
    if (impossible(id)) return undefined;
    return live(await db.oidcPayload.findUnique({ where: { kind_id: { kind: this.kind, id } } }));
  }

  async findByUid(uid: string) {
    if (impossible(uid)) return undefined;
    return live(await db.oidcPayload.findFirst({ where: { kind: this.kind, uid } }));
  }

  async findByUserCode(userCode: string) {
    if (impossible(userCode)) return undefined;
    return live(await db.oidcPayload.findFirst({ where: { kind: this.kind, userCode } }));
  }

  /**
   * Marks a code or refresh token used, once: of two requests racing with the same one, the second finds it
   * already used, which is a replay, and the whole grant ends (the library checks `consumed` only before this).
   */
  async consume(id: string) {
    const key = { kind: this.kind, id };
    const { count } = await db.oidcPayload.updateMany({ where: { ...key, consumedAt: null }, data: { consumedAt: new Date() } });
    if (count === 1) return;
    const row = await db.oidcPayload.findUnique({ where: { kind_id: key }, select: { grantId: true } });
    if (row?.grantId) await this.revokeByGrantId(row.grantId);
    throw new errors.InvalidGrant("the code or refresh token was already used; the app must sign in again");
  }

  async destroy(id: string) {
    // Inside a request, the provider destroys a grant only as it ends it (with revokeByGrantId beside it).
    if (this.kind === "Grant" && Provider.ctx) return endGrant(id);
    await db.oidcPayload.deleteMany({ where: { kind: this.kind, id } });
  }

  /** Ends a grant: the grant itself and every code and token issued under it, whatever the model. */
  async revokeByGrantId(grantId: string) {
    await endGrant(grantId);
  }
}

// The provider ends a grant with one call per model at once; in a request they share one ending, which first
// reads whose grant it was, for the audit event of a reuse (audit.server.ts).
const endings = new WeakMap<object, Map<string, Promise<void>>>();

function endGrant(grantId: string): Promise<void> {
  const ctx = Provider.ctx;
  const end = async () => {
    const owner = ctx ? await db.oidcPayload.findFirst({ where: { grantId, accountId: { not: null } }, select: { accountId: true, clientId: true } }) : null;
    await db.oidcPayload.deleteMany({ where: { grantId } });
    if (ctx && owner) noteReuse(ctx, owner);
  };
  if (!ctx) return end();
  const mine = endings.get(ctx) ?? new Map<string, Promise<void>>();
  endings.set(ctx, mine);
  if (!mine.has(grantId)) mine.set(grantId, end());
  return mine.get(grantId)!;
}

/** The registered apps (read-only: apps are created by the operator's CLI, not by dynamic registration). */
class ClientAdapter implements Adapter {
  async find(id: string) {
    if (impossible(id)) return undefined;
    const client = await db.oidcClient.findUnique({ where: { clientId: id } });
    return client ? (clientMetadata(client) as AdapterPayload) : undefined;
  }
  async upsert() {
    throw new Error("Apps are registered with `npm run portal -- app:create`, not through the provider.");
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume() {}
  async destroy() {}
  async revokeByGrantId() {}
}

export const adapterFor = (name: string): Adapter => (name === "Client" ? new ClientAdapter() : new PrismaAdapter(name));
