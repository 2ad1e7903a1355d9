// Every request to Microsoft (sign-in, consent, Graph) goes through here: one timeout, and one way of
// telling "Microsoft said no" apart from "Microsoft could not be reached".
import diagnostics_channel from "node:diagnostics_channel";
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { env } from "../env.server.ts";
import { measureMicrosoft, type MicrosoftOutcome } from "../metrics.server.ts";

/** Microsoft could not be reached, was too slow, or answered with a server error or a rate limit. */
export class MicrosoftUnavailableError extends Error {
  constructor(
    public reason: string,
    /** The HTTP status when Microsoft answered (5xx or 429); absent when it could not be reached. */
    public status?: number,
    /** A 429's Retry-After in seconds, when Microsoft said how long to wait. */
    public retryAfterSeconds?: number,
  ) {
    super(`Microsoft is unavailable: ${reason}`);
  }
}

/** Retry-After as seconds: either a number of seconds or an HTTP date. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined;
}

// Node's fetch says on this channel when a request's headers are written to its socket.
const sentWaiters = new Map<string, Set<() => void>>();
diagnostics_channel.subscribe("undici:client:sendHeaders", (message) => {
  const { request } = message as { request: { origin: string; path: string } };
  const key = `${request.origin}${request.path}`;
  const waiters = sentWaiters.get(key);
  if (!waiters) return;
  sentWaiters.delete(key);
  for (const resolve of waiters) resolve();
});

/**
 * Resolves once a request to `url` has left this process (its headers are on the socket), or after `mostMs`.
 * Call it just before starting the request. A caller about to hold the event loop (a better-sqlite3 write)
 * waits for it, or the request it just started would go out only once the loop is free again.
 */
export function requestSent(url: string, mostMs = 50): Promise<void> {
  const parsed = new URL(url);
  const key = `${parsed.origin}${parsed.pathname}${parsed.search}`;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      const waiters = sentWaiters.get(key);
      waiters?.delete(done);
      if (waiters?.size === 0) sentWaiters.delete(key);
      resolve();
    };
    const timer = setTimeout(done, mostMs);
    sentWaiters.set(key, (sentWaiters.get(key) ?? new Set()).add(done));
  });
}

/** `timeoutMs` overrides MICROSOFT_TIMEOUT_MS, for requests that are not in front of a person (directory sync). */
export function microsoftFetch(url: string, init: RequestInit = {}, options: { timeoutMs?: number } = {}): Promise<Response> {
  return measureMicrosoft(endpointOf(url), () => fetchMicrosoft(url, init, options), outcomeOf);
}

/** The kind of request, for the metrics: a few fixed names, never the tenant or the query. */
export function endpointOf(url: string): string {
  const { pathname } = new URL(url);
  if (pathname.endsWith("/.well-known/openid-configuration")) return "openid_configuration";
  if (pathname.endsWith("/oauth2/v2.0/token")) return "token";
  if (pathname.endsWith("/discovery/v2.0/keys")) return "keys";
  if (pathname.endsWith("/discovery/instance")) return "instance_discovery";
  if (/\/users\/delta$/.test(pathname)) return "graph_users_delta";
  if (/\/groups\/delta$/.test(pathname)) return "graph_groups_delta";
  if (/\/groups(\/|$)/.test(pathname)) return "graph_groups";
  if (/\/organization$/.test(pathname)) return "graph_organization";
  return "other";
}

/** What Microsoft's answer (or the failure to get one) was, for the metrics. */
export function outcomeOf({ value, error }: { value?: Response; error?: unknown }): MicrosoftOutcome {
  const status = value?.status ?? (error instanceof MicrosoftUnavailableError ? error.status : undefined);
  if (status === 429) return "throttled";
  if (status !== undefined && status >= 500) return "server_error";
  if (status !== undefined) return status >= 400 ? "rejected" : "ok";
  const name = (error as Error | undefined)?.name;
  return name === "TimeoutError" || name === "AbortError" || (error as MicrosoftUnavailableError | undefined)?.reason === "no answer in time"
    ? "timeout"
    : "unreachable";
}

async function fetchMicrosoft(url: string, init: RequestInit, options: { timeoutMs?: number }): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(options.timeoutMs ?? env().MICROSOFT_TIMEOUT_MS) });
  } catch (error) {
    const name = (error as Error).name;
    throw new MicrosoftUnavailableError(name === "TimeoutError" ? "no answer in time" : `unreachable (${(error as Error).message})`);
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new MicrosoftUnavailableError(
      `HTTP ${response.status}`,
      response.status,
      response.status === 429 ? retryAfter(response.headers.get("Retry-After")) : undefined,
    );
  }
  return response;
}

async function toMsal<T>(response: Response): Promise<NetworkResponse<T>> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new MicrosoftUnavailableError(`an answer that is not JSON (HTTP ${response.status})`);
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body: body as T };
}

/** MSAL's network client, with our timeout and error classification. */
export const msalNetworkClient: INetworkModule = {
  async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions) {
    return toMsal<T>(await microsoftFetch(url, { headers: options?.headers }));
  },
  async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions) {
    return toMsal<T>(await microsoftFetch(url, { method: "POST", headers: options?.headers, body: options?.body }));
  },
};
