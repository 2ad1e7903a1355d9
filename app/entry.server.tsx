import { PassThrough } from "node:stream";
import type { AppLoadContext, EntryContext, HandleErrorFunction } from "@remix-run/node";
import { createReadableStreamFromReadable } from "@remix-run/node";
import { isRouteErrorResponse, RemixServer } from "@remix-run/react";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";
import { RETRY_AFTER_SECONDS } from "./lib/db-errors.server.ts";
import { currentRequest, log } from "./lib/log.server.ts";

const ABORT_DELAY = 5_000;

// A 503 (the database or Microsoft unavailable) always says when to try again, on pages and on the data
// requests that client-side navigation makes.
function sayWhenToRetry(status: number, headers: Headers) {
  if (status === 503 && !headers.has("Retry-After")) headers.set("Retry-After", String(RETRY_AFTER_SECONDS));
}

/**
 * Errors Remix meets while answering. A URL no route matches (every /favicon.ico a browser asks for) or a method a
 * route does not take is an answer, not an error: the request log line says 404 or 405. Anything else is one
 * error line with its stack, under the request's id; an aborted request (the client went away) is neither.
 */
export const handleError: HandleErrorFunction = (error, { request }) => {
  if (request.signal.aborted) return;
  if (isRouteErrorResponse(error) && error.status < 500) return;
  const cause = isRouteErrorResponse(error) ? ((error as { error?: unknown }).error ?? error) : error;
  log.error({ err: cause, requestId: currentRequest()?.requestId, method: request.method, path: new URL(request.url).pathname }, "Request failed");
};

export function handleDataRequest(response: Response) {
  sayWhenToRetry(response.status, response.headers);
  return response;
}

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
  loadContext: AppLoadContext,
) {
  const nonce = loadContext.cspNonce;
  const waitForAll = isbot(request.headers.get("user-agent") ?? "");
  return new Promise((resolve, reject) => {
    let shellRendered = false;
    // Cleared once the whole page is written, so that finished responses leave no timer behind.
    const timer = setTimeout(() => abort(), ABORT_DELAY);
    const { pipe, abort } = renderToPipeableStream(<RemixServer context={remixContext} url={request.url} abortDelay={ABORT_DELAY} nonce={nonce} />, {
      nonce,
      [waitForAll ? "onAllReady" : "onShellReady"]() {
        shellRendered = true;
        const body = new PassThrough();
        responseHeaders.set("Content-Type", "text/html; charset=utf-8");
        sayWhenToRetry(responseStatusCode, responseHeaders);
        body.on("end", () => clearTimeout(timer));
        resolve(new Response(createReadableStreamFromReadable(body), { headers: responseHeaders, status: responseStatusCode }));
        pipe(body);
      },
      onShellError(error: unknown) {
        clearTimeout(timer);
        reject(error);
      },
      onError(error: unknown) {
        responseStatusCode = 500;
        if (shellRendered) log.error({ err: error, requestId: currentRequest()?.requestId }, "Rendering the page failed");
      },
    });
  });
}
