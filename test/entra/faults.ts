// Switchable faults, set from tests (standin.faults.set) or over HTTP (POST /_standin/faults).
// Network faults can be limited to areas ("graph", "token", …) or path prefixes, and to a number of responses.

/** The parts of the stand-in a fault can be limited to. */
export const AREAS = ["discovery", "keys", "authorize", "token", "adminconsent", "logout", "graph"] as const;
export type Area = (typeof AREAS)[number];

export type FaultScope = {
  /** Area names ("graph", "token", …) or path prefixes ("/v1.0/users"); all paths when absent. */
  paths?: string[];
  /** How many responses the fault affects before it switches itself off; unlimited when absent. */
  times?: number;
  /** How many matching responses go through unharmed before the fault starts (a failure at page k+1). */
  after?: number;
};

export type FaultSettings = {
  /** Connections are destroyed without an answer. */
  unreachable?: boolean | FaultScope | null;
  /** Every answer is delayed this long. */
  slowMs?: number | (FaultScope & { ms: number }) | null;
  /** Answers with this server error (true: 503). */
  status5xx?: number | boolean | (FaultScope & { status?: number }) | null;
  /** Answers 429 Too Many Requests with Retry-After. */
  rateLimit?: (FaultScope & { retryAfterSeconds?: number }) | null;
  /** Approving admin consent ends in refusal (AADSTS65004). */
  consentRefused?: boolean | null;
  /** The admin-consent callback reports this tenant ID instead of the one consented. */
  callbackTenant?: string | null;
  /** The key set is served without the key that signs tokens. */
  jwksWithoutKey?: boolean | null;
  /**
   * The browser already has a Microsoft session this many seconds old: a sign-in without `prompt=login`
   * (and without a `max_age` below the age) reports that old `auth_time`, as Entra does for single sign-on.
   * With `ignorePrompt`, even `prompt=login` gets the old time (what the portal's `auth_time` check is for).
   */
  rememberedSignIn?: { ageSeconds: number; ignorePrompt?: boolean } | null;
  /**
   * Per tenant ID: the application permissions the admin granted (the app-only token's `roles`) instead of all
   * that the app asks for, as when an admin unticked some or a permission was added to the app after consent.
   */
  grantedRoles?: Record<string, string[]> | null;
};

type Scoped<T> = T & { paths: string[] | null; remaining: number | null; spared: number };

type Active = {
  unreachable: Scoped<object> | null;
  slow: Scoped<{ ms: number }> | null;
  status5xx: Scoped<{ status: number }> | null;
  rateLimit: Scoped<{ retryAfterSeconds: number }> | null;
  consentRefused: boolean;
  callbackTenant: string | null;
  jwksWithoutKey: boolean;
  rememberedSignIn: { ageSeconds: number; ignorePrompt: boolean } | null;
  grantedRoles: Record<string, string[]> | null;
};

export type NetworkFault = { kind: "unreachable" } | { kind: "status"; status: number } | { kind: "rateLimit"; retryAfterSeconds: number };

const none = (): Active => ({
  unreachable: null,
  slow: null,
  status5xx: null,
  rateLimit: null,
  consentRefused: false,
  callbackTenant: null,
  jwksWithoutKey: false,
  rememberedSignIn: null,
  grantedRoles: null,
});

function scope(value: FaultScope): { paths: string[] | null; remaining: number | null; spared: number } {
  if (value.paths && !value.paths.every((p) => p.startsWith("/") || (AREAS as readonly string[]).includes(p))) {
    throw new Error(`fault paths must be path prefixes or one of ${AREAS.join(", ")}: ${value.paths.join(", ")}`);
  }
  if (value.after !== undefined && !(Number.isSafeInteger(value.after) && value.after >= 0)) throw new Error("fault after must be a whole number ≥ 0");
  return { paths: value.paths?.length ? value.paths : null, remaining: value.times ?? null, spared: value.after ?? 0 };
}

export class Faults {
  private active = none();

  /** Switches on (or, with false/null/0, off) the faults named; the others stay as they are. */
  set(settings: FaultSettings): void {
    const a = this.active;
    if ("unreachable" in settings) {
      const v = settings.unreachable;
      a.unreachable = !v ? null : { ...scope(v === true ? {} : v) };
    }
    if ("slowMs" in settings) {
      const v = settings.slowMs;
      a.slow = !v ? null : typeof v === "number" ? { ms: v, ...scope({}) } : { ms: v.ms, ...scope(v) };
    }
    if ("status5xx" in settings) {
      const v = settings.status5xx;
      if (!v) a.status5xx = null;
      else if (typeof v === "object") a.status5xx = { status: v.status ?? 503, ...scope(v) };
      else a.status5xx = { status: v === true ? 503 : v, ...scope({}) };
      if (a.status5xx && (a.status5xx.status < 500 || a.status5xx.status > 599)) throw new Error("status5xx must be a 5xx status");
    }
    if ("rateLimit" in settings) {
      const v = settings.rateLimit;
      a.rateLimit = !v ? null : { retryAfterSeconds: v.retryAfterSeconds ?? 1, ...scope(v) };
    }
    if ("consentRefused" in settings) a.consentRefused = Boolean(settings.consentRefused);
    if ("callbackTenant" in settings) a.callbackTenant = settings.callbackTenant || null;
    if ("jwksWithoutKey" in settings) a.jwksWithoutKey = Boolean(settings.jwksWithoutKey);
    if ("rememberedSignIn" in settings) {
      const v = settings.rememberedSignIn;
      if (v && !(Number.isInteger(v.ageSeconds) && v.ageSeconds > 0)) throw new Error("rememberedSignIn.ageSeconds must be a positive whole number");
      a.rememberedSignIn = v ? { ageSeconds: v.ageSeconds, ignorePrompt: Boolean(v.ignorePrompt) } : null;
    }
    if ("grantedRoles" in settings) {
      const v = settings.grantedRoles;
      if (v && !Object.values(v).every((roles) => Array.isArray(roles) && roles.every((r) => typeof r === "string")))
        throw new Error("grantedRoles must map tenant IDs to lists of permission names");
      a.grantedRoles = v ? Object.fromEntries(Object.entries(v).map(([tenant, roles]) => [tenant.toLowerCase(), [...roles]])) : null;
    }
  }

  clear(): void {
    this.active = none();
  }

  /** What is switched on now (for assertions and GET /_standin/faults). */
  get current(): Readonly<Active> {
    return structuredClone(this.active);
  }

  get consentRefused() {
    return this.active.consentRefused;
  }
  get callbackTenant() {
    return this.active.callbackTenant;
  }
  get jwksWithoutKey() {
    return this.active.jwksWithoutKey;
  }

  /** The permissions a tenant's app-only token carries when a test narrowed them; null: all the app asks for. */
  grantedRolesFor(tenantId: string): string[] | null {
    return this.active.grantedRoles?.[tenantId.toLowerCase()] ?? null;
  }

  /** The `auth_time` a sign-in reports (seconds): now, or the remembered session's when Entra would reuse it. */
  authTimeFor(request: { prompt: string | null; maxAge: number | null }, now = Math.floor(Date.now() / 1000)): number {
    const remembered = this.active.rememberedSignIn;
    if (!remembered) return now;
    const reused = remembered.ignorePrompt || (request.prompt !== "login" && (request.maxAge === null || request.maxAge >= remembered.ageSeconds));
    return reused ? now - remembered.ageSeconds : now;
  }

  /** The delay for a request, counting it against the fault's `times`. */
  delayFor(area: Area | null, path: string): number {
    return this.take("slow", area, path)?.ms ?? 0;
  }

  /** The network fault a request meets, if any (unreachable first, then 5xx, then 429). */
  networkFaultFor(area: Area | null, path: string): NetworkFault | null {
    if (this.take("unreachable", area, path)) return { kind: "unreachable" };
    const failure = this.take("status5xx", area, path);
    if (failure) return { kind: "status", status: failure.status };
    const limit = this.take("rateLimit", area, path);
    if (limit) return { kind: "rateLimit", retryAfterSeconds: limit.retryAfterSeconds };
    return null;
  }

  private take<K extends "unreachable" | "slow" | "status5xx" | "rateLimit">(key: K, area: Area | null, path: string): Active[K] {
    const fault = this.active[key];
    if (!fault) return null;
    if (fault.paths && !fault.paths.some((p) => (p.startsWith("/") ? path.startsWith(p) : p === area))) return null;
    if (fault.spared > 0) {
      fault.spared--;
      return null;
    }
    if (fault.remaining !== null && --fault.remaining <= 0) this.active[key] = null;
    return fault;
  }
}
