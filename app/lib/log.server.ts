// One logger for the server, the app and its background jobs: JSON lines on stdout (pino), readable in
// development through pino-pretty (`npm run dev`). Nothing a person types or holds goes in — passwords, codes,
// tokens, cookies, query strings: fields are chosen by the caller, and the keys below are censored besides.
import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type Logger } from "pino";
import { processWide } from "./process-wide.server.ts";

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_LEVELS: readonly string[] = LEVELS;

// Not "code": errors carry theirs (ECONNREFUSED, P1001); no caller logs a sign-in code under any key.
const SECRET_KEYS = ["password", "token", "secret", "cookie", "authorization"];

// Read here rather than from env(): the logger exists before the configuration is checked, which refuses a
// level outside LEVELS with a sentence (app/lib/env.server.ts).
function level(): string {
  const wanted = process.env.LOG_LEVEL?.trim().toLowerCase();
  return wanted && LEVELS.includes(wanted as (typeof LEVELS)[number]) ? wanted : "info";
}

export const log: Logger = processWide("log", () =>
  pino({
    level: level(),
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: SECRET_KEYS.flatMap((key) => [key, `*.${key}`]), censor: "[redacted]" },
  }),
);

/** What the request log line says about a request besides its method, path and status; filled in as it runs. */
export type RequestFacts = {
  requestId: string;
  route?: string;
  userId?: string;
  orgId?: string;
  /** For the device on audit events (app/lib/audit.server.ts); not written to the request line. */
  userAgent?: string | null;
};

const requests = processWide("requests", () => new AsyncLocalStorage<RequestFacts>());

/** Runs `handle` as the request `facts` describes: its loaders, actions and log lines know the request. */
export function withRequest<T>(facts: RequestFacts, handle: () => T): T {
  return requests.run(facts, handle);
}

export function currentRequest(): RequestFacts | undefined {
  return requests.getStore();
}

/** The request had a session (or started one): its log line names the user and the org, never the session. */
export function noteRequestUser(user: { id: string; orgId: string }) {
  const facts = requests.getStore();
  if (!facts) return;
  facts.userId = user.id;
  facts.orgId = user.orgId;
}
