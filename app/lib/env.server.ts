// The configuration contract (DESIGN.md), validated once at boot: a missing or malformed variable
// stops the app with a sentence that names it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { z } from "zod";

const minutes = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  DATABASE_URL: z
    .string()
    .regex(/^(file:|postgres(ql)?:\/\/)/, "must start with file: (SQLite) or postgresql://")
    .default("file:./data/portal.db"),
  /** SQLite: how long a query waits for another connection's lock before the request gets the 503 page. */
  SQLITE_BUSY_TIMEOUT_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  APP_ORIGIN: z.url({ protocol: /^https?$/ }).optional(),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  TOTP_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, "must be 64 hexadecimal characters (32 bytes)")
    .optional(),
  SESSION_IDLE_MINUTES: minutes(30),
  SESSION_ABSOLUTE_MINUTES: minutes(12 * 60),
  /** The retention job (app/lib/retention.server.ts): how often it runs in the server; 0 leaves it to `retention:run`. */
  RETENTION_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(60),
  /** Used or expired one-time tokens (reset, invitation, set-password links) are kept this long after use or expiry. */
  TOKEN_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** Delivered mail is kept this long after delivery. */
  MAIL_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(7),
  /** Audit events older than this are deleted; unset keeps them all. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).optional(),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().min(3).default("Sign-in portal <no-reply@localhost>"),
  OUTBOX_DIR: z.string().default("data/outbox"),
  /** true: /dev/outbox shows every mail sent (the demo's mailbox); refused with NODE_ENV=production. */
  DEMO_MODE: z.enum(["true", "false"]).default("false"),
  ENTRA_CLIENT_ID: z
    .string()
    .regex(/^[0-9a-f-]{36}$/i, "must be the application (client) ID, a GUID")
    .optional(),
  ENTRA_CLIENT_SECRET: z.string().min(1).max(512).optional(),
  ENTRA_AUTHORITY_HOST: z.url({ protocol: /^https$/ }).default("https://login.microsoftonline.com"),
  GRAPH_BASE_URL: z.url({ protocol: /^https$/ }).default("https://graph.microsoft.com"),
  /** How long to wait for Microsoft before telling the user to try again later. */
  MICROSOFT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** Whose X-Forwarded-For to believe: a hop count or the proxies' addresses (Express's forms), never anyone's. */
  TRUST_PROXY: z.string().default("false").transform(trustProxy),
  /** The largest request body read (bytes); the portal's forms need a few kilobytes and it takes no uploads. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 2 ** 20)
    .default(64 * 1024),
  /** The OpenID Provider's signing keys: a JWKS with private keys, the first signs (app/lib/oidc/keys.server.ts). */
  OIDC_JWKS: z.string().optional().transform(signingKeys),
  /** Server processes sharing the port (node:cluster); one per core uses the whole machine. */
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** The least severe log lines written (app/lib/log.server.ts); debug adds /healthz and /metrics requests. */
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "must be one of fatal, error, warn, info, debug, trace, silent"))
    .default("info"),
  /** The bearer token a Prometheus scraper sends to /metrics; unset, /metrics answers 404. */
  METRICS_TOKEN: z.string().min(32, "must be at least 32 characters (e.g. openssl rand -hex 32)").max(512).optional(),
  /** Entra ID Sync runs this often for every org with a sync connection; 0 turns the schedule off. */
  SYNC_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(30),
});

/** A JWKS of private signing keys (RS256 or ES256): what the provider signs id_tokens with; the first signs. */
function signingKeys(value: string | undefined, ctx: z.RefinementCtx): SigningKey[] | undefined {
  if (value === undefined) return undefined;
  const problem = jwksProblem(value);
  if (!problem) return (JSON.parse(value) as { keys: SigningKey[] }).keys;
  ctx.addIssue({ code: "custom", message: problem });
  return z.NEVER;
}

export type SigningKey = { kty: "RSA" | "EC"; kid: string; alg: "RS256" | "ES256"; d: string; [member: string]: unknown };

function jwksProblem(value: string): string | null {
  const form = 'write a JSON Web Key Set with private keys, {"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","kid":"…","x":"…","y":"…","d":"…"}]}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return `it is not JSON; ${form}`;
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return `it has no "keys" array with at least one key; ${form}`;
  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    const k = key as Record<string, unknown>;
    const name = `key ${i + 1}`;
    if (typeof k.kid !== "string" || !k.kid) return `${name} has no "kid" (key ID); every key needs its own, so that apps find the key a token was signed with`;
    if (kids.has(k.kid)) return `${name} repeats the kid "${k.kid}"`;
    kids.add(k.kid);
    if (k.kty === "EC" ? k.crv !== "P-256" || k.alg !== "ES256" : k.kty !== "RSA" || k.alg !== "RS256") {
      return `${name} (${k.kid}) must be an EC P-256 key with "alg":"ES256" or an RSA key with "alg":"RS256"`;
    }
    if (typeof k.d !== "string") return `${name} (${k.kid}) is a public key: the provider needs the private key ("d") to sign`;
    if (!signsForItsPublicKey(k)) return `${name} (${k.kid}) is not a valid ${k.kty} private key: what it signs does not verify with its public part`;
  }
  return null;
}

/** A test signature with the private key, checked with the public members alone (what apps get from /oidc/jwks). */
function signsForItsPublicKey(k: Record<string, unknown>): boolean {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = k;
  try {
    const data = Buffer.from("OIDC_JWKS check");
    const signature = sign("sha256", data, createPrivateKey({ key: k as JsonWebKey, format: "jwk" }));
    return verify("sha256", data, createPublicKey({ key: publicPart as JsonWebKey, format: "jwk" }), signature);
  } catch {
    return false;
  }
}

const PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);
const TRUST_PROXY_FORMS = "write the number of proxies in front of the portal (e.g. 1), or their addresses or CIDR ranges (e.g. 10.0.0.0/8, loopback)";

/** "false" | hop count | addresses, CIDR ranges and Express's names, comma-separated: what Express's trust proxy takes. */
function trustProxy(value: string, ctx: z.RefinementCtx): false | number | string[] {
  const refuse = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (value === "false" || value === "0") return false;
  if (value === "true") {
    return refuse(`"true" would believe whatever address a client writes into X-Forwarded-For; ${TRUST_PROXY_FORMS}`);
  }
  if (/^\d+$/.test(value)) return Number(value) <= 10 ? Number(value) : refuse(`${value} proxies is more than any setup has; ${TRUST_PROXY_FORMS}`);
  const entries = value.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    if (PROXY_NAMES.has(entry)) continue;
    const [address = "", prefix, ...more] = entry.split("/");
    const kind = isIP(address);
    const bits = kind === 4 ? 32 : 128;
    const valid = kind !== 0 && more.length === 0 && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits));
    if (!valid) return refuse(`"${entry}" is not an address, a CIDR range or one of loopback, linklocal, uniquelocal; ${TRUST_PROXY_FORMS}`);
    if (prefix === "0") return refuse(`"${entry}" would believe every address, as "true" would; ${TRUST_PROXY_FORMS}`);
  }
  return entries;
}

export type Env = z.infer<typeof schema> & {
  APP_ORIGIN: string;
  SESSION_SECRET: string;
  TOTP_ENCRYPTION_KEY: string;
  OIDC_JWKS: SigningKey[];
  demo: boolean;
};

// Outside production the two secrets are generated once and kept under data/, so that a fresh
// checkout runs without setup and sessions survive restarts.
function devSecret(name: string, make: () => string): string {
  const file = path.resolve("data", `.${name.toLowerCase()}`);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(path.dirname(file), { recursive: true });
  const value = make();
  writeFileSync(file, value, { mode: 0o600 });
  return value;
}

/** One ES256 key, as a JWKS: what development and the demo sign with (`data/.oidc_jwks`). */
export function newSigningKeySet(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  return JSON.stringify({ keys: [{ ...jwk, alg: "ES256", use: "sig", kid: randomBytes(8).toString("base64url") }] });
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const input = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ""));
  const result = schema.safeParse(input);
  if (!result.success) {
    const sentences = result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `The environment variable ${name} ${issue.code === "invalid_type" && input[name] === undefined ? "is missing" : `is invalid: ${issue.message}`}.`;
    });
    throw new Error(sentences.join("\n"));
  }
  const env = result.data;
  const production = env.NODE_ENV === "production";
  for (const name of ["SESSION_SECRET", "TOTP_ENCRYPTION_KEY", "OIDC_JWKS"] as const) {
    if (production && !env[name]) throw new Error(`The environment variable ${name} is missing; it is required in production.`);
  }
  if (production && env.DEMO_MODE === "true") {
    throw new Error(
      "The environment variable DEMO_MODE must not be true with NODE_ENV=production: demo mode shows every mail sent, including sign-in links, at /dev/outbox.",
    );
  }
  return {
    ...env,
    APP_ORIGIN: (env.APP_ORIGIN ?? `http://localhost:${env.PORT}`).replace(/\/$/, ""),
    SESSION_SECRET: env.SESSION_SECRET ?? devSecret("SESSION_SECRET", () => randomBytes(32).toString("base64url")),
    TOTP_ENCRYPTION_KEY: env.TOTP_ENCRYPTION_KEY ?? devSecret("TOTP_ENCRYPTION_KEY", () => randomBytes(32).toString("hex")),
    OIDC_JWKS: env.OIDC_JWKS ?? (JSON.parse(devSecret("OIDC_JWKS", newSigningKeySet)) as { keys: SigningKey[] }).keys,
    ENTRA_AUTHORITY_HOST: env.ENTRA_AUTHORITY_HOST.replace(/\/$/, ""),
    GRAPH_BASE_URL: env.GRAPH_BASE_URL.replace(/\/$/, ""),
    demo: env.DEMO_MODE === "true",
  };
}

let cached: Env | undefined;

export function env(): Env {
  return (cached ??= parseEnv(process.env));
}

/** Reads the environment again on next use: tests start the Microsoft stand-in after the first read. */
export function reloadEnv() {
  cached = undefined;
}
