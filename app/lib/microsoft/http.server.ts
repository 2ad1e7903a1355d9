// Every request to Microsoft (sign-in, consent, Graph) goes through here: one timeout, and one way of
// telling "Microsoft said no" apart from "Microsoft could not be reached".
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { env } from "../env.server.ts";

/** Microsoft could not be reached, was too slow, or answered with a server error or a rate limit. */
export class MicrosoftUnavailableError extends Error {
  constructor(public reason: string) {
    super(`Microsoft is unavailable: ${reason}`);
  }
}

export async function microsoftFetch(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(env().MICROSOFT_TIMEOUT_MS) });
  } catch (error) {
    const name = (error as Error).name;
    throw new MicrosoftUnavailableError(name === "TimeoutError" ? "no answer in time" : `unreachable (${(error as Error).message})`);
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new MicrosoftUnavailableError(`HTTP ${response.status}`);
  }
  return response;
}

async function toMsal<T>(response: Response): Promise<NetworkResponse<T>> {
  const text = await response.text();
  let body: unknown = {};
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
