// What is refused before the Remix app sees a request: forms that do not come from this site, and bodies too
// large to be a form (docs/decisions/012-http-boundary.md). Both answer with a small page in the app's look.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { NextFunction, Request, Response } from "express";
import { isCrossSiteRequest } from "../app/lib/security.server.ts";

// The app's own stylesheet, inlined: these pages are answered before Remix, without its asset links.
const styles = readFileSync(path.resolve(import.meta.dirname, "../app/styles.css"), "utf8");

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page with a heading, a sentence and the way back, for answers given outside the Remix app. */
export function boundaryPage(title: string, sentence: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${escape(title)}</title><style>${styles}</style></head>
<body><main class="narrow"><h1>${escape(title)}</h1><p>${escape(sentence)}</p><p><a href="/">Go to the portal</a></p></main></body></html>
`;
}

function answer(res: Response, status: number, title: string, sentence: string) {
  res.status(status).type("html").setHeader("Cache-Control", "no-store");
  res.send(boundaryPage(title, sentence));
}

/**
 * State-changing requests need an Origin of this site, or a Sec-Fetch-Site saying so (app/lib/security.server.ts),
 * except on `appEndpoints`: the OpenID Provider's endpoints that native apps call with their own credentials (a
 * code and its PKCE verifier, a refresh token, a bearer token), where no browser and no cookie is involved.
 */
export function refuseCrossSite(appOrigin: string, appEndpoints: ReadonlySet<string> = new Set()) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (appEndpoints.has(req.path)) return next();
    const headers = new Headers();
    for (const name of ["origin", "sec-fetch-site"]) {
      const value = req.get(name);
      if (value) headers.set(name, value);
    }
    if (!isCrossSiteRequest({ method: req.method, headers }, appOrigin)) return next();
    answer(res, 403, "This form was refused", "This form was sent from another site, so it was refused. Go back to the portal and try again.");
  };
}

/**
 * Reads every request body into memory up to `maxBytes` (res.locals.body) before anything parses it: a declared
 * Content-Length over the limit is answered 413 before the body is read, a chunked body as soon as it grows past
 * it. The portal's forms need a few kilobytes; it takes no uploads. Bodies for which `streamed(path)` holds (the
 * OpenID Provider's, which reads and caps them itself) are checked against a declared Content-Length and left unread.
 */
export function limitBodies(maxBytes: number, streamed: (path: string) => boolean = () => false) {
  return (req: Request, res: Response, next: NextFunction) => {
    const declared = req.headers["content-length"];
    if (req.headers["transfer-encoding"] === undefined && (declared === undefined || declared === "0")) return next();
    if (declared !== undefined && !(Number(declared) <= maxBytes)) return tooLarge(req, res, maxBytes);
    if (streamed(req.path)) return next();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      done = true;
      chunks.length = 0;
      tooLarge(req, res, maxBytes);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      res.locals.body = Buffer.concat(chunks, size);
      next();
    });
    // The client went away mid-body: there is nobody to answer.
    req.on("error", () => (done = true));
  };
}

// Node closes the connection as soon as a "Connection: close" answer is written, and closing a socket with unread
// data resets it: the client may then never see the answer. So only our side is closed, and the rest of the body
// is read and dropped for a moment (at most a second and 16 MiB) before the connection goes.
const LINGER_MS = 1000;
const LINGER_BYTES = 16 * 2 ** 20;

function tooLarge(req: Request, res: Response, maxBytes: number) {
  const socket = req.socket;
  let dropped = 0;
  req.on("data", (chunk: Buffer) => (dropped += chunk.length) > LINGER_BYTES && socket.destroy());
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  res.setHeader("Connection", "close");
  answer(
    res,
    413,
    "That was too large",
    `The portal received more than ${Math.floor(maxBytes / 1024)} KiB in one request, which is more than any of its forms needs, so the request was not read. Go back and try again; if you pasted text into a field, shorten it.`,
  );
}
