// Tells "the database cannot be reached or cannot take a query now" apart from a query that is wrong, so that
// requests answer 503 ("try again in a minute") instead of 500. The shapes are the ones Prisma 7 throws through
// its driver adapters, observed by cutting SQLite and PostgreSQL off (test/database-down.test.ts).
// Checked by shape rather than instanceof: in development Vite loads a second copy of the Prisma runtime.

/** How long the 503 page and its Retry-After header ask people and clients to wait. */
export const RETRY_AFTER_SECONDS = 60;

// Can't reach the server; reached but timed out; operation timed out (SQLite: busy past the timeout);
// connection closed; pool timeout; too many connections.
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2037"]);
// Driver adapter error kinds behind those codes (meta.driverAdapterError.cause.kind).
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "SocketTimeout", "ConnectionClosed", "TooManyConnections"]);
// PostgreSQL SQLSTATEs: connection exceptions (class 08), the server shutting down or starting up
// (57P01-57P03, e.g. pg_terminate_backend or a restart), disk full, too many connections.
const POSTGRES_STATES = /^(08[0-9A-Z]{3}|57P0[1-3]|53100|53300)$/;
// better-sqlite3's codes: locked by another connection past the busy timeout, the file cannot be opened,
// an I/O error, disk full. Prisma puts them in `code` when opening the connection fails.
const SQLITE_CODES = /^SQLITE_(BUSY|CANTOPEN|IOERR|FULL)/;
// Errors that reach the app without a code, as plain Errors: node-postgres's messages when a connection drops,
// cannot be made within connectionTimeoutMillis or no pool client frees up in time, and better-sqlite3's
// when the database's folder is missing.
const MESSAGES = new Set([
  "Connection terminated unexpectedly",
  "Connection terminated due to connection timeout",
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Cannot open database because the directory does not exist",
]);

type AdapterCause = { kind?: unknown; code?: unknown; originalCode?: unknown };
type PrismaShaped = Error & { code?: unknown; errorCode?: unknown; meta?: { driverAdapterError?: { cause?: AdapterCause } } };

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errorCode, meta, message } = error as PrismaShaped;
  if (typeof code === "string" && (PRISMA_CODES.has(code) || SQLITE_CODES.test(code))) return true;
  // PrismaClientInitializationError carries its code as errorCode.
  if (typeof errorCode === "string" && PRISMA_CODES.has(errorCode)) return true;
  const cause = meta?.driverAdapterError?.cause;
  if (cause) {
    if (typeof cause.kind === "string" && ADAPTER_KINDS.has(cause.kind)) return true;
    if (cause.kind === "postgres" && typeof cause.code === "string" && POSTGRES_STATES.test(cause.code)) return true;
    if (cause.kind === "sqlite" && typeof cause.originalCode === "string" && SQLITE_CODES.test(cause.originalCode)) return true;
  }
  return MESSAGES.has(message);
}

/** What a request gets when the database is unavailable: 503, and a sentence that says whether its form was saved. */
export function databaseUnavailableResponse(request: Request): Response {
  const sent = request.method !== "GET" && request.method !== "HEAD";
  const sentence = sent
    ? "The portal cannot reach its database right now, so the form you sent was not saved. Go back and send it again in a minute."
    : "The portal cannot reach its database right now, so it cannot show this page. Try again in a minute.";
  return new Response(sentence, {
    status: 503,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Retry-After": String(RETRY_AFTER_SECONDS), "Cache-Control": "no-store" },
  });
}

/** A unique index refused the row (Prisma's P2002): someone else has it already. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}
