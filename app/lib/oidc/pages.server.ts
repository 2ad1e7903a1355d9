// The few pages the provider answers itself (an error, the sign-out confirmation), in the portal's look. They are
// rendered outside Remix, like server/boundary.ts's pages, so they inline the stylesheet and need no script.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { KoaContextWithOIDC } from "oidc-provider";

let styles: string | undefined;
const stylesheet = () => (styles ??= readFileSync(path.resolve(import.meta.dirname, "../../styles.css"), "utf8"));

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function page(title: string, body: string, head = ""): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">${head}
<title>${escape(title)}</title><style>${stylesheet()}</style></head>
<body><main class="narrow"><h1>${escape(title)}</h1>${body}</main></body></html>
`;
}

export const sentence = (text: string) => `<p>${escape(text)}</p>`;

/** What an app sent that the provider refuses, said to the person in the browser (the app gets the error code). */
export async function errorPage(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
  ctx.type = "html";
  ctx.set("Cache-Control", "no-store");
  ctx.body = page(
    "The app's sign-in request was refused",
    sentence(`The app asked the portal for something it cannot do (${out.error}${out.error_description ? `: ${out.error_description}` : ""}).`) +
      sentence("Go back to the app and sign in again; if this keeps happening, tell your administrator which app it was.") +
      `<p><a href="/">Go to the portal</a></p>`,
  );
}

/** The app asks to sign the user out of it (RP-initiated logout): one button, no script. */
export async function logoutPage(ctx: KoaContextWithOIDC, form?: string) {
  ctx.type = "html";
  ctx.set("Cache-Control", "no-store");
  if (form === undefined) {
    ctx.body = page(
      "Signed out of the app",
      sentence("The app no longer has access to your account. You are still signed in to the portal.") + `<p><a href="/">Go to the portal</a></p>`,
    );
    return;
  }
  const name = ctx.oidc.client?.clientName;
  ctx.body = page(
    "Sign out of the app?",
    `${form}${sentence(`${name ? `${name} asks` : "An app asks"} to sign you out of it. You stay signed in to the portal.`)}
<p><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out of the app</button></p>`,
  );
}
