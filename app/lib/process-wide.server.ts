// The server (tsx) loads app/lib itself for its background jobs, and the built app bundles its own copy of the same
// modules (Vite in development may load a third): what must exist once per process — the logger, the request
// facts, the metrics — is kept on globalThis under one key, whichever copy asks first.
export function processWide<T>(key: string, make: () => T): T {
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  const symbol = Symbol.for(`portal.${key}`);
  return (store[symbol] ??= make());
}
