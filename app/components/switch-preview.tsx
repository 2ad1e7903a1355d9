// The "what happens if I turn this off" lists: who falls back to password, who is left with no way to sign in,
// and the offer to email the latter a set-password link. Rendered inside the confirming form.
import type { Preview } from "~/lib/previews.server.ts";

type Props = { preview: Pick<Preview, "toPassword" | "toNone">; sendLinksName?: string };

export function SwitchPreview({ preview, sendLinksName = "sendLinks" }: Props) {
  const withEmail = preview.toNone.filter((u) => u.email);
  const withoutEmail = preview.toNone.filter((u) => !u.email);
  if (!preview.toPassword.length && !preview.toNone.length) return <p>Nobody's sign-in method changes.</p>;
  return (
    <div data-testid="switch-preview">
      {preview.toPassword.length ? (
        <>
          <p>
            <strong>{preview.toPassword.length}</strong> {preview.toPassword.length === 1 ? "user goes" : "users go"} back to password + authenticator app:
          </p>
          <ul>
            {preview.toPassword.map((u) => (
              <li key={u.id}>
                {u.name} {u.email ? <span className="hint">({u.email})</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {preview.toNone.length ? (
        <>
          <p className="form-error">
            <strong>{preview.toNone.length}</strong> {preview.toNone.length === 1 ? "user is" : "users are"} left with no way to sign in (no password):
          </p>
          <ul>
            {preview.toNone.map((u) => (
              <li key={u.id}>
                {u.name} <span className="hint">{u.email ? `(${u.email})` : "(no email address: give them a new user ID first)"}</span>
              </li>
            ))}
          </ul>
          {withEmail.length ? (
            <label>
              <input type="checkbox" name={sendLinksName} value="yes" defaultChecked /> Email the {withEmail.length} with an email address a link to set a password
            </label>
          ) : null}
          {withoutEmail.length ? <p className="hint">{withoutEmail.length} of them have no email address and can't be sent a link.</p> : null}
        </>
      ) : null}
    </div>
  );
}
