// What a request carries down to code far below its route (the device on an audit row) without threading it
// through every signature. One store per process: server/app.ts and the app's build are separate module graphs,
// so the store hangs on a global symbol that both find.
import { AsyncLocalStorage } from "node:async_hooks";

export type RequestInfo = { userAgent: string | null };

const KEY = Symbol.for("entra-sso-portal.request-context");
const holder = globalThis as { [KEY]?: AsyncLocalStorage<RequestInfo> };
const store = (holder[KEY] ??= new AsyncLocalStorage<RequestInfo>());

/** Runs `fn` (a request's handling) with `info` visible to everything it calls. */
export function withRequest<T>(info: RequestInfo, fn: () => T): T {
  return store.run(info, fn);
}

/** The request being handled, or undefined outside one (the schedule, the mail worker, the CLI). */
export function currentRequest(): RequestInfo | undefined {
  return store.getStore();
}
