// Reads Microsoft Graph delta queries page by page with an app-only token: /users/delta for attributes and
// deletions, /groups/delta (one group, members only) for membership. Throttling and outages are waited out
// here; what is left reaches the run as one of the errors below.
import { env } from "../env.server.ts";
import { appToken } from "../microsoft/consent.server.ts";
import { MicrosoftUnavailableError, microsoftFetch, requestSent } from "../microsoft/http.server.ts";

export const USER_SELECT = "id,displayName,givenName,surname,userPrincipalName,mail,mobilePhone,jobTitle,accountEnabled";

/** Graph's largest page; fewer round trips and fewer transactions per user. */
export const MAX_PAGE_SIZE = 999;
/** Graph reads `$filter=id eq …` on /users/delta for a limited number of IDs; kept well inside the URL limit. */
const IDS_PER_LOOKUP = 20;
const PAGE_TIMEOUT_MS = 30_000;

export type ReaderOptions = {
  pageSize: number;
  /** Attempts after the first when Graph is unreachable or answers 5xx. */
  retries: number;
  /** The first wait after an outage; it doubles at every further attempt. */
  backoffMs: number;
  /** Longest wait a 429's Retry-After is trusted with, and how many 429s in a row are waited out. */
  maxRetryAfterSeconds: number;
  maxThrottled: number;
  /** Called before every wait, so that the run can keep its lock while it waits. */
  keepAlive?: () => Promise<void>;
};

export type GraphPage = { value: Record<string, unknown>[]; nextLink: string | null; deltaLink: string | null };

/** 410 Gone: the delta token is too old; the directory must be read again from the start. */
export class DeltaExpiredError extends Error {
  constructor() {
    super("Microsoft Graph says the stored delta token has expired (410 resyncRequired).");
  }
}

/** Graph refused the request (4xx other than 410 and 429): retrying will not help. */
export class GraphRefusedError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

/** No app-only token: consent was revoked or the app registration changed. */
export class TokenRefusedError extends Error {}

const graphBase = () => `${env().GRAPH_BASE_URL}/v1.0`;

export const usersDeltaStart = () => `${graphBase()}/users/delta?$select=${USER_SELECT}`;
/** A delta link for "from now on", without reading the directory (for group scopes, whose users come from the group). */
export const usersDeltaLatest = () => `${usersDeltaStart()}&$deltatoken=latest`;
export const groupMembersDeltaStart = (groupId: string) => `${graphBase()}/groups/delta?$filter=${encodeURIComponent(`id eq '${groupId}'`)}&$select=members`;
const usersByIdUrl = (ids: string[]) => `${usersDeltaStart()}&$filter=${encodeURIComponent(ids.map((id) => `id eq '${id}'`).join(" or "))}`;

/** Links come from Graph's answers; the token is sent only to the configured Graph host. */
function checkedLink(link: unknown): string | null {
  if (link === undefined || link === null) return null;
  if (typeof link !== "string" || link.length > 8192)
    throw new GraphRefusedError(200, "badLink", "Microsoft Graph answered with a next or delta link that is not a URL.");
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new GraphRefusedError(200, "badLink", "Microsoft Graph answered with a next or delta link that is not a URL.");
  }
  if (url.origin !== new URL(env().GRAPH_BASE_URL).origin)
    throw new GraphRefusedError(200, "badLink", `Microsoft Graph sent a link to another host (${url.host}); it was not followed.`);
  return link;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function token(tenantId: string, fresh: boolean): Promise<string> {
  const result = await appToken(tenantId, { fromCache: !fresh });
  if (result.kind === "ok") return result.accessToken;
  if (result.kind === "unavailable") throw new MicrosoftUnavailableError(result.message);
  throw new TokenRefusedError(result.message);
}

async function graphErrorOf(response: Response): Promise<GraphRefusedError> {
  const text = await response.text().catch(() => "");
  let code = `HTTP ${response.status}`;
  let message = "";
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code.slice(0, 100);
    if (typeof body.error?.message === "string") message = body.error.message.slice(0, 300);
  } catch {}
  return new GraphRefusedError(response.status, code, `Microsoft Graph refused the request (${response.status} ${code})${message ? `: ${message}` : "."}`);
}

/**
 * One page, with 429s waited out (Retry-After, capped) and outages retried with growing waits. Once `stop`
 * is aborted (nobody will read the page) it neither waits nor retries, nor renews the lease.
 */
export async function fetchPage(url: string, tenantId: string, options: ReaderOptions, stop?: AbortSignal): Promise<GraphPage> {
  let outages = 0;
  let throttled = 0;
  let freshToken = false;
  for (;;) {
    stop?.throwIfAborted();
    let response: Response;
    try {
      response = await microsoftFetch(
        url,
        {
          headers: {
            Authorization: `Bearer ${await token(tenantId, freshToken)}`,
            Accept: "application/json",
            Prefer: `odata.maxpagesize=${options.pageSize}`,
          },
        },
        { timeoutMs: Math.max(env().MICROSOFT_TIMEOUT_MS, PAGE_TIMEOUT_MS) },
      );
    } catch (error) {
      if (!(error instanceof MicrosoftUnavailableError)) throw error;
      if (error.status === 429 && throttled < options.maxThrottled) {
        throttled++;
        stop?.throwIfAborted();
        await options.keepAlive?.();
        await sleep(Math.min(error.retryAfterSeconds ?? 10, options.maxRetryAfterSeconds) * 1000);
        continue;
      }
      if (error.status === 429 || outages >= options.retries) throw error;
      stop?.throwIfAborted();
      await options.keepAlive?.();
      // Jitter, so that instances that failed together do not come back together.
      await sleep(options.backoffMs * 2 ** outages * (0.75 + Math.random() / 2));
      outages++;
      continue;
    }
    if (response.status === 410) {
      await response.body?.cancel();
      throw new DeltaExpiredError();
    }
    if (response.status === 401 && !freshToken) {
      // The cached token may have been revoked or have expired early: ask Microsoft for a new one once.
      await response.body?.cancel();
      freshToken = true;
      continue;
    }
    if (response.status !== 200) throw await graphErrorOf(response);
    let body: { value?: unknown; "@odata.nextLink"?: unknown; "@odata.deltaLink"?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new MicrosoftUnavailableError("Microsoft Graph answered with a page that is not JSON");
    }
    if (!Array.isArray(body.value)) throw new GraphRefusedError(200, "badPage", "Microsoft Graph answered with a page without a value list.");
    const value = body.value.filter((v): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v));
    const page = { value, nextLink: checkedLink(body["@odata.nextLink"]), deltaLink: checkedLink(body["@odata.deltaLink"]) };
    if (!page.nextLink && !page.deltaLink)
      throw new GraphRefusedError(200, "badPage", "Microsoft Graph answered with a page that has neither a next nor a delta link.");
    return page;
  }
}

/**
 * The pages of a delta round from `url` until the one that carries the delta link. While the caller works
 * on a page (writes it), the next one is already being fetched: one page ahead, no more, so at most two pages
 * are held. The next page's failure reaches the caller when it asks for that page, as if it had been fetched
 * then; a caller that stops early leaves behind a request whose answer nobody reads and that retries nothing.
 */
export async function* deltaPages(url: string, tenantId: string, options: ReaderOptions): AsyncGenerator<GraphPage> {
  const stop = new AbortController();
  const fetchAhead = (link: string) => {
    const page = fetchPage(link, tenantId, options, stop.signal);
    // Handled when asked for; a page never asked for must not be an unhandled rejection.
    page.catch(() => {});
    return page;
  };
  let ahead: Promise<GraphPage> | null = fetchAhead(url);
  try {
    while (ahead) {
      const page: GraphPage = await ahead;
      const sent = page.nextLink ? requestSent(page.nextLink) : null;
      ahead = page.nextLink ? fetchAhead(page.nextLink) : null;
      // The caller's write holds the event loop (better-sqlite3 is synchronous): the next request goes out first.
      await sent;
      yield page;
    }
  } finally {
    stop.abort();
  }
}

/** A delta link for "changes from now on", read without walking the directory. */
export async function latestUsersDeltaLink(tenantId: string, options: ReaderOptions): Promise<string> {
  for await (const page of deltaPages(usersDeltaLatest(), tenantId, options)) if (page.deltaLink) return page.deltaLink;
  throw new GraphRefusedError(200, "badPage", "Microsoft Graph gave no delta link for $deltatoken=latest.");
}

/**
 * The current records of these users (a filtered /users/delta round whose link is thrown away). Users that
 * do not come back are deleted or unknown. Only the IDs asked for are kept, whatever the server sends.
 */
export async function usersById(ids: string[], tenantId: string, options: ReaderOptions): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < ids.length; i += IDS_PER_LOOKUP) {
    const wanted = new Set(ids.slice(i, i + IDS_PER_LOOKUP));
    for await (const page of deltaPages(usersByIdUrl([...wanted]), tenantId, options)) {
      for (const user of page.value) {
        const id = typeof user.id === "string" ? user.id.toLowerCase() : "";
        if (wanted.has(id) && !user["@removed"]) found.set(id, { ...found.get(id), ...user });
      }
    }
  }
  return found;
}
