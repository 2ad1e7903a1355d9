// The stand-in's HTML pages: plain forms and links, so that they work without JavaScript.
// Buttons carry the words tests click ("Cancel", "Accept", an account's user principal name).
import type { DirectoryUser, Tenant } from "./directory.ts";
import { directoryRolesOf, ROLE_NAMES } from "./fixture.ts";

export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const STYLE = `body{font:15px/1.4 system-ui,sans-serif;background:#f2f2f2;margin:0}main{max-width:440px;margin:48px auto;background:#fff;padding:32px;box-shadow:0 2px 6px #0003}
h1{font-size:24px;font-weight:600;margin:0 0 8px}.banner{color:#666;font-size:13px;margin-bottom:16px}.error{color:#a80000}
ul{list-style:none;padding:0}li{margin:4px 0}button.account{width:100%;text-align:left;padding:8px 12px;background:#fff;border:1px solid #ccc;cursor:pointer}
button.account[aria-current]{border:2px solid #0067b8}button.account small{display:block;color:#666}
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:16px}.primary{background:#0067b8;color:#fff;border:0;padding:6px 20px}
input[type=text]{width:100%;padding:6px;box-sizing:border-box}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><main><p class="banner">Microsoft Entra ID stand-in (test only)</p>${body}</main></body></html>`;
}

export type AccountGroup = { tenant: Tenant; users: DirectoryUser[]; more: number };

type ChooserOptions = {
  title: string;
  subtitle: string;
  action: string;
  requestId: string;
  groups: AccountGroup[];
  hint: string | null;
  error?: string | null;
  cancel?: boolean;
};

/** "Pick an account": one button per account, a field for typing one, and Cancel. */
export function accountChooser(o: ChooserOptions): string {
  const hidden = `<input type="hidden" name="request" value="${escapeHtml(o.requestId)}">`;
  const hint = o.hint?.toLowerCase() ?? null;
  const lists = o.groups
    .map(({ tenant, users, more }) => {
      const items = users
        .map((u) => {
          const hinted = hint !== null && (u.userPrincipalName.toLowerCase() === hint || u.mail?.toLowerCase() === hint);
          const roles = directoryRolesOf(u).map((r) => ROLE_NAMES[r] ?? r);
          const role = roles.length ? `<small>${escapeHtml(roles.join(", "))}</small>` : "";
          return `<li><button class="account" type="submit" name="account" value="${u.oid}"${hinted ? ' aria-current="true" autofocus' : ""}>${escapeHtml(u.displayName)}<small>${escapeHtml(u.userPrincipalName)}</small>${role}</button></li>`;
        })
        .join("");
      const rest = more ? `<li><small>and ${more} more: type the account below</small></li>` : "";
      return `<h2>${escapeHtml(tenant.displayName)}</h2><ul>${items}${rest}</ul>`;
    })
    .join("");
  return page(
    o.title,
    `<h1>${escapeHtml(o.title)}</h1><p>${escapeHtml(o.subtitle)}</p>
${o.error ? `<p class="error" role="alert">${escapeHtml(o.error)}</p>` : ""}
<form method="post" action="${escapeHtml(o.action)}">${hidden}${lists || "<p>No accounts can sign in here.</p>"}</form>
<form method="post" action="${escapeHtml(o.action)}">${hidden}
<label for="login">Use another account</label>
<input type="text" id="login" name="login" autocomplete="username" value="${escapeHtml(o.hint ?? "")}">
<div class="actions"><button class="primary" type="submit">Next</button></div></form>
${o.cancel === false ? "" : `<form method="post" action="${escapeHtml(o.action)}">${hidden}<div class="actions"><button type="submit" name="action" value="cancel">Cancel</button></div></form>`}`,
  );
}

/** The admin-consent question, for an admin of the tenant. */
export function consentPage(o: { action: string; requestId: string; appName: string; tenant: Tenant; user: DirectoryUser; permissions: string[] }): string {
  const hidden = `<input type="hidden" name="request" value="${escapeHtml(o.requestId)}">`;
  return page(
    "Permissions requested",
    `<h1>Permissions requested</h1><p>${escapeHtml(o.user.userPrincipalName)}</p>
<p><strong>${escapeHtml(o.appName)}</strong> would like to:</p><ul>${o.permissions.map((p) => `<li>${escapeHtml(p)}</li>`).join("")}</ul>
<p>Accepting grants these permissions for all users in <strong>${escapeHtml(o.tenant.displayName)}</strong>.</p>
<form method="post" action="${escapeHtml(o.action)}">${hidden}<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button class="primary" type="submit" name="decision" value="accept">Accept</button></div></form>`,
  );
}

/** What a user who is not an admin sees at the admin-consent endpoint. */
export function needAdminPage(o: { appName: string; user: DirectoryUser; retryUrl: string; returnUrl: string }): string {
  return page(
    "Need admin approval",
    `<h1>Need admin approval</h1><p>${escapeHtml(o.user.userPrincipalName)}</p>
<p class="error" role="alert">${escapeHtml(o.appName)} needs permission to access resources in your organization that only an admin can grant.
Please ask an admin to grant permission to this app before you can use it.</p>
<p><a href="${escapeHtml(o.retryUrl)}">Have an admin account? Sign in with that account</a></p>
<p><a href="${escapeHtml(o.returnUrl)}">Return to the application without granting consent</a></p>`,
  );
}

/** An error Entra shows on its own page (it cannot safely redirect back). */
export function errorPage(code: string, message: string): string {
  return page(
    "Sign in error",
    `<h1>Sorry, but we’re having trouble signing you in.</h1><p class="error" role="alert">${escapeHtml(code)}: ${escapeHtml(message)}</p>`,
  );
}

/** response_mode=form_post: a form the browser posts to the app (a script submits it when JavaScript runs). */
export function formPostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("");
  return page(
    "Working…",
    `<form method="post" action="${escapeHtml(action)}">${inputs}<p>Signing you in…</p><button class="primary" type="submit">Continue</button></form>
<script>document.forms[0].submit()</script>`,
  );
}

export function signedOutPage(returnUrl: string | null): string {
  return page(
    "You signed out of your account",
    `<h1>You signed out of your account</h1><p>It’s a good idea to close all browser windows.</p>${returnUrl ? `<p><a href="${escapeHtml(returnUrl)}">Return to the application</a></p>` : ""}`,
  );
}
