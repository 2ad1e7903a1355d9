// The stand-in's live state: tenants, their users (with a change log that Graph's delta reads), groups and
// admin consents. Tests change it through the methods below; the routes only read it.
import { randomUUID } from "node:crypto";
import type { Fixture, FixtureTenant, FixtureUser } from "./fixture.ts";

/** User properties that Graph serves and whose changes /users/delta reports. */
export const USER_FIELDS = ["displayName", "givenName", "surname", "userPrincipalName", "mail", "mobilePhone", "jobTitle", "accountEnabled"] as const;
export type UserField = (typeof USER_FIELDS)[number];

export type RemovedReason = "changed" | "deleted";

export type DirectoryUser = FixtureUser & {
  /** Position in the tenant's stable enumeration order (full delta rounds walk it). */
  ordinal: number;
  createdSeq: number;
  /** The last change (of any Graph property, deletion or restore). */
  changedSeq: number;
  /** When each property last changed, so that a delta round can tell changed from unchanged properties. */
  fieldSeq: Partial<Record<UserField, number>>;
  /** Soft-deleted ("changed": restorable) or permanently deleted ("deleted"). */
  removed: { reason: RemovedReason; seq: number } | null;
};

export type DirectoryGroup = {
  id: string;
  displayName: string;
  mail: string | null;
  members: Set<string>;
  /** When each member was last added or removed (the latest entry of memberLog for that member). */
  memberSeq: Map<string, number>;
};

export type NewUser = Partial<FixtureUser> & Pick<FixtureUser, "displayName" | "userPrincipalName">;
export type UserPatch = Partial<Omit<FixtureUser, "oid">>;

type Clock = { next(): number };

const JOB_TITLES = ["Engineer", "Accountant", "Sales Representative", "Designer", "Support Specialist", null];

export class Tenant {
  readonly id: string;
  readonly displayName: string;
  readonly domains: string[];
  readonly defaultDomain: string;
  readonly initialDomain: string;
  readonly groups: DirectoryGroup[];
  /** Client IDs an admin of this tenant has consented to. */
  readonly consents = new Set<string>();
  /** Every change, in order; a delta round reads the slice after its token. */
  readonly log: { seq: number; oid: string }[] = [];
  /** Every membership change, in order; /groups/delta reads the slice after its token. */
  readonly memberLog: { seq: number; groupId: string; oid: string }[] = [];
  /** Delta tokens issued before this issue number are expired (Graph answers 410 resyncRequired). */
  deltaTokensValidFrom = 0;
  readonly synthetic: number;
  /** Explicit users, and synthetic users once changed. */
  private readonly stored = new Map<string, DirectoryUser>();
  private readonly explicitOrder: string[] = [];
  private readonly syntheticSuffix: string;

  constructor(
    fixture: FixtureTenant,
    private readonly clock: Clock,
    appClientId: string,
  ) {
    this.id = fixture.id.toLowerCase();
    this.displayName = fixture.displayName;
    this.domains = fixture.domains.map((d) => d.toLowerCase());
    this.initialDomain = this.domains.find((d) => d.endsWith(".onmicrosoft.com")) ?? this.domains[0]!;
    this.defaultDomain = fixture.defaultDomain?.toLowerCase() ?? this.domains[this.domains.length - 1]!;
    this.groups = (fixture.groups ?? []).map((g) => ({
      id: g.id.toLowerCase(),
      displayName: g.displayName,
      mail: g.mail ?? null,
      members: new Set(g.members.map((m) => m.toLowerCase())),
      memberSeq: new Map(),
    }));
    if (fixture.adminConsent) this.consents.add(appClientId);
    this.synthetic = fixture.syntheticUsers ?? 0;
    this.syntheticSuffix = `-5e5e-4000-8000-${this.id.slice(-12)}`;
    for (const user of fixture.users) this.store({ ...user, oid: user.oid.toLowerCase() }, 0);
  }

  /** How many users were ever created (removed ones included): ordinals run from 0 to this. */
  get size(): number {
    return this.synthetic + this.explicitOrder.length;
  }

  userAt(ordinal: number): DirectoryUser | undefined {
    if (ordinal < this.synthetic) return this.stored.get(this.syntheticOid(ordinal)) ?? this.makeSynthetic(ordinal);
    const oid = this.explicitOrder[ordinal - this.synthetic];
    return oid ? this.stored.get(oid) : undefined;
  }

  /** A user by object ID, removed ones included. */
  user(oid: string): DirectoryUser | undefined {
    const id = oid.toLowerCase();
    const stored = this.stored.get(id);
    if (stored) return stored;
    const index = this.syntheticIndex(id);
    return index === null ? undefined : this.makeSynthetic(index);
  }

  /** A user who is not removed, by user principal name or email address. */
  findUser(name: string): DirectoryUser | undefined {
    const wanted = name.trim().toLowerCase();
    for (const user of this.stored.values()) {
      if (!user.removed && (user.userPrincipalName.toLowerCase() === wanted || user.mail?.toLowerCase() === wanted)) return user;
    }
    const match = wanted.match(/^user(\d+)@(.+)$/);
    if (match && this.domains.includes(match[2]!)) {
      const index = Number(match[1]) - 1;
      if (index >= 0 && index < this.synthetic && !this.stored.has(this.syntheticOid(index))) return this.makeSynthetic(index);
    }
    return undefined;
  }

  /** Users that are not removed, in enumeration order (lazy: safe on big tenants). */
  *liveUsers(): Generator<DirectoryUser> {
    for (let ordinal = 0; ordinal < this.size; ordinal++) {
      const user = this.userAt(ordinal);
      if (user && !user.removed) yield user;
    }
  }

  add(input: NewUser): DirectoryUser {
    if (this.findUser(input.userPrincipalName)) throw new Error(`${input.userPrincipalName} already exists in ${this.displayName}`);
    const oid = (input.oid ?? randomUUID()).toLowerCase();
    if (this.user(oid)) throw new Error(`a user with object ID ${oid} already exists in ${this.displayName}`);
    const user: FixtureUser = { accountEnabled: true, isAdmin: false, mail: null, ...input, oid };
    return this.store(user, this.clock.next());
  }

  update(oid: string, patch: UserPatch): DirectoryUser {
    const user = this.materialize(oid);
    const seq = this.clock.next();
    let changed = false;
    for (const field of USER_FIELDS) {
      if (!(field in patch)) continue;
      const value = patch[field] ?? null;
      if ((user[field] ?? null) === value) continue;
      (user as Record<UserField, unknown>)[field] = value;
      user.fieldSeq[field] = seq;
      changed = true;
    }
    if (patch.isAdmin !== undefined) user.isAdmin = patch.isAdmin;
    if (patch.directoryRoles !== undefined) user.directoryRoles = [...patch.directoryRoles];
    if (changed) this.touch(user, seq);
    return user;
  }

  remove(oid: string, permanent: boolean): DirectoryUser {
    const user = this.materialize(oid);
    const reason: RemovedReason = permanent ? "deleted" : "changed";
    if (user.removed?.reason === reason) return user;
    const seq = this.clock.next();
    user.removed = { reason, seq };
    if (permanent) for (const group of this.groups) this.setMembership(group, user.oid, false, seq);
    this.touch(user, seq);
    return user;
  }

  group(id: string): DirectoryGroup | undefined {
    const wanted = id.trim().toLowerCase();
    return this.groups.find((g) => g.id === wanted);
  }

  addMember(groupId: string, oid: string) {
    const user = this.user(oid);
    if (!user || user.removed?.reason === "deleted") throw new Error(`no user ${oid} in ${this.displayName}`);
    this.setMembership(this.requireGroup(groupId), user.oid, true, this.clock.next());
  }

  removeMember(groupId: string, oid: string) {
    this.setMembership(this.requireGroup(groupId), oid.toLowerCase(), false, this.clock.next());
  }

  private requireGroup(id: string): DirectoryGroup {
    const group = this.group(id);
    if (!group) throw new Error(`no group ${id} in ${this.displayName}`);
    return group;
  }

  private setMembership(group: DirectoryGroup, oid: string, member: boolean, seq: number) {
    if (group.members.has(oid) === member) return;
    if (member) group.members.add(oid);
    else group.members.delete(oid);
    group.memberSeq.set(oid, seq);
    this.memberLog.push({ seq, groupId: group.id, oid });
  }

  restore(oid: string): DirectoryUser {
    const user = this.materialize(oid);
    if (user.removed?.reason !== "changed") throw new Error(`${oid} is not a soft-deleted user of ${this.displayName}`);
    const seq = this.clock.next();
    user.removed = null;
    for (const field of USER_FIELDS) user.fieldSeq[field] = seq;
    this.touch(user, seq);
    return user;
  }

  private touch(user: DirectoryUser, seq: number) {
    user.changedSeq = seq;
    this.log.push({ seq, oid: user.oid });
  }

  private store(user: FixtureUser, seq: number): DirectoryUser {
    const fieldSeq: DirectoryUser["fieldSeq"] = {};
    if (seq) for (const field of USER_FIELDS) fieldSeq[field] = seq;
    const record: DirectoryUser = { ...user, ordinal: this.size, createdSeq: seq, changedSeq: seq, fieldSeq, removed: null };
    this.stored.set(record.oid, record);
    this.explicitOrder.push(record.oid);
    if (seq) this.log.push({ seq, oid: record.oid });
    return record;
  }

  /** The stored record for a user, turning a made-up synthetic user into a stored one before it changes. */
  private materialize(oid: string): DirectoryUser {
    const user = this.user(oid);
    if (!user || user.removed?.reason === "deleted") throw new Error(`no user ${oid} in ${this.displayName}`);
    if (!this.stored.has(user.oid)) this.stored.set(user.oid, user);
    return user;
  }

  private syntheticOid(index: number): string {
    return `${index.toString(16).padStart(8, "0")}${this.syntheticSuffix}`;
  }

  private syntheticIndex(oid: string): number | null {
    if (!oid.endsWith(this.syntheticSuffix)) return null;
    const index = parseInt(oid.slice(0, 8), 16);
    return Number.isInteger(index) && index < this.synthetic ? index : null;
  }

  private makeSynthetic(index: number): DirectoryUser {
    const n = String(index + 1).padStart(5, "0");
    return {
      oid: this.syntheticOid(index),
      displayName: `User ${n}`,
      givenName: "User",
      surname: n,
      userPrincipalName: `user${n}@${this.initialDomain}`,
      mail: `user${n}@${this.defaultDomain}`,
      mobilePhone: index % 3 === 0 ? `+1 555 ${String(index % 10_000_000).padStart(7, "0")}` : null,
      jobTitle: JOB_TITLES[index % JOB_TITLES.length] ?? null,
      accountEnabled: true,
      isAdmin: false,
      ordinal: index,
      createdSeq: 0,
      changedSeq: 0,
      fieldSeq: {},
      removed: null,
    };
  }
}

/** All tenants, plus the counters that make delta tokens. Replaced as a whole by reset(). */
export class Directory {
  /** Tokens from another generation (before a reset) are unknown to this one. */
  readonly generation = randomUUID().slice(0, 8);
  readonly tenants: Tenant[] = [];
  private seq = 0;
  private issued = 0;
  private readonly clock = { next: () => ++this.seq };

  constructor(readonly fixture: Fixture) {
    for (const tenant of fixture.tenants) this.addTenant(tenant);
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** A serial number for each delta token handed out, so that tokens can be expired. */
  nextIssue(): number {
    return ++this.issued;
  }

  addTenant(fixture: FixtureTenant): Tenant {
    const tenant = new Tenant(fixture, this.clock, this.fixture.app.clientId);
    for (const ref of [tenant.id, ...tenant.domains]) {
      if (this.tenant(ref)) throw new Error(`tenant ${ref} already exists`);
    }
    this.tenants.push(tenant);
    return tenant;
  }

  /** A tenant by ID (GUID) or by one of its domains. */
  tenant(ref: string): Tenant | undefined {
    const wanted = ref.trim().toLowerCase();
    return this.tenants.find((t) => t.id === wanted || t.domains.includes(wanted));
  }

  requireTenant(ref: string): Tenant {
    const tenant = this.tenant(ref);
    if (!tenant) throw new Error(`no tenant ${ref} in the stand-in`);
    return tenant;
  }

  user(tenant: string, oid: string): DirectoryUser | undefined {
    return this.requireTenant(tenant).user(oid);
  }

  addUser(tenant: string, user: NewUser): DirectoryUser {
    return this.requireTenant(tenant).add(user);
  }

  updateUser(tenant: string, oid: string, patch: UserPatch): DirectoryUser {
    return this.requireTenant(tenant).update(oid, patch);
  }

  disableUser(tenant: string, oid: string): DirectoryUser {
    return this.updateUser(tenant, oid, { accountEnabled: false });
  }

  enableUser(tenant: string, oid: string): DirectoryUser {
    return this.updateUser(tenant, oid, { accountEnabled: true });
  }

  /** Soft delete by default (Graph reports `@removed: {reason: "changed"}`); `permanent` reports "deleted". */
  deleteUser(tenant: string, oid: string, options: { permanent?: boolean } = {}): DirectoryUser {
    return this.requireTenant(tenant).remove(oid, options.permanent ?? false);
  }

  restoreUser(tenant: string, oid: string): DirectoryUser {
    return this.requireTenant(tenant).restore(oid);
  }

  addGroupMember(tenant: string, groupId: string, oid: string) {
    this.requireTenant(tenant).addMember(groupId, oid);
  }

  removeGroupMember(tenant: string, groupId: string, oid: string) {
    this.requireTenant(tenant).removeMember(groupId, oid);
  }

  hasConsent(tenant: string, clientId = this.fixture.app.clientId): boolean {
    return this.tenant(tenant)?.consents.has(clientId) ?? false;
  }

  grantConsent(tenant: string, clientId = this.fixture.app.clientId) {
    this.requireTenant(tenant).consents.add(clientId);
  }

  revokeConsent(tenant: string, clientId = this.fixture.app.clientId) {
    this.requireTenant(tenant).consents.delete(clientId);
  }

  /** Every delta token handed out so far for the tenant now gets 410 Gone (resyncRequired). */
  expireDeltaTokens(tenant: string) {
    this.requireTenant(tenant).deltaTokensValidFrom = this.issued + 1;
  }
}
