// Binds an anonymous "Sign in with Microsoft" to the browser that started it, so that a callback URL
// handed to someone else (or forged) is refused.
import { createCookie } from "@remix-run/node";
import { randomToken, sha256 } from "../crypto.server.ts";
import { env } from "../env.server.ts";

let cookie: ReturnType<typeof createCookie> | undefined;
function flowCookie() {
  const secure = env().APP_ORIGIN.startsWith("https:");
  return (cookie ??= createCookie(secure ? "__Host-msflow" : "__msflow", {
    httpOnly: true,
    // Lax: the cookie must come back on Microsoft's top-level redirect to the callback.
    sameSite: "lax",
    secure,
    path: "/",
    maxAge: 10 * 60,
    secrets: env().SESSION_SECRET.split(","),
  }));
}

export async function bindBrowser(): Promise<{ binding: string; setCookie: string }> {
  const value = randomToken();
  return { binding: `browser:${sha256(value)}`, setCookie: await flowCookie().serialize(value) };
}

export async function browserBinding(request: Request): Promise<string | null> {
  const value = await flowCookie().parse(request.headers.get("Cookie"));
  return typeof value === "string" && value.length === 43 ? `browser:${sha256(value)}` : null;
}
