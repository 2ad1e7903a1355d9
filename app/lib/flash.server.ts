// One-shot messages ("Password changed") carried across a redirect in a cookie.
import { createCookieSessionStorage } from "@remix-run/node";
import { env } from "./env.server.ts";

let storage: ReturnType<typeof createCookieSessionStorage<Record<string, never>, { message: string }>> | undefined;
function flashStorage() {
  return (storage ??= createCookieSessionStorage<Record<string, never>, { message: string }>({
    cookie: {
      name: "__flash",
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      secure: env().APP_ORIGIN.startsWith("https:"),
      secrets: env().SESSION_SECRET.split(","),
    },
  }));
}

export async function setFlash(message: string): Promise<string> {
  const session = await flashStorage().getSession();
  session.flash("message", message);
  return flashStorage().commitSession(session);
}

export async function readFlash(request: Request): Promise<{ message: string | null; setCookie: string | null }> {
  const session = await flashStorage().getSession(request.headers.get("Cookie"));
  const message = session.get("message");
  if (typeof message !== "string") return { message: null, setCookie: null };
  return { message, setCookie: await flashStorage().commitSession(session) };
}
