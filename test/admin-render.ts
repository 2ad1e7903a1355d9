// Whole pages as the browser gets them: Remix's request handler over the app built by Vite from the sources
// (no build folder that could be stale), with the Browser's cookie jar. For what only the HTML shows: the
// header, the error page, the markup of a component.
import { createRequestHandler, type ServerBuild } from "@remix-run/node";
import { afterAll, beforeAll } from "vitest";
import type { Browser } from "./helpers.ts";

export type Page = { status: number; type: string; html: string; location: string | null };

/** Starts Vite with the Remix plugin for this test file; `render` then answers requests through the app. */
export function usePages() {
  let handle: ReturnType<typeof createRequestHandler> | undefined;
  let close = async () => {};
  beforeAll(async () => {
    const { createServer } = await import("vite");
    // vite.config.ts leaves the Remix plugin out under Vitest (for the unit tests); this server needs it.
    const vitest = process.env.VITEST;
    delete process.env.VITEST;
    try {
      const vite = await createServer({ server: { middlewareMode: true, hmr: false, watch: null }, appType: "custom", logLevel: "error" });
      close = () => vite.close();
      handle = createRequestHandler((await vite.ssrLoadModule("virtual:remix/server-build")) as ServerBuild, "production");
    } finally {
      process.env.VITEST = vitest;
    }
  }, 60_000);
  afterAll(() => close());

  return async function render(b: Browser, path: string, form?: Record<string, string>): Promise<Page> {
    const response = await handle!(b.request(path, form ? { form } : {}), { clientAddress: b.address, cspNonce: "test-nonce" });
    b.store(response.headers.getSetCookie());
    return {
      status: response.status,
      type: response.headers.get("Content-Type") ?? "",
      html: await response.text(),
      location: response.headers.get("Location"),
    };
  };
}

/** How many times `needle` occurs in `html`. */
export const occurrences = (html: string, needle: string | RegExp) => html.split(needle).length - 1;

/** The page's visible text, roughly: tags dropped, entities of the common characters decoded, spaces collapsed. */
export function textOf(html: string) {
  // React separates adjacent text with empty comments: they are not spaces.
  const body = html
    .replace(/<script[\s\S]*?<\/script>/g, "")
    .replace(/<style[\s\S]*?<\/style>/g, "")
    .replace(/<!--[\s\S]*?-->/g, "");
  return body
    .replace(/<[^>]+>/g, " ")
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}
