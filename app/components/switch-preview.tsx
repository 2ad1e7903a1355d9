// The "what happens if I turn this off" lists: who falls back to password, who is left with no way to sign in,
// and the offer to email the latter a set-password link. Rendered inside the confirming form.
import type { Preview } from "~/lib/signin/methods.server.ts";

type Props = { preview: Pick<Preview, "toPassword" | "toNone"> & { locksOut?: boolean }; sendLinksName?: string };

/**
 * The warning, and the explicit yes, before a change that leaves no admin of the org able to sign in with a
 * password + authenticator (the method-change path refuses without `lockoutConfirmed=yes`).
 */
export function LockoutConfirm({ self = false }: { self?: boolean }) {
  return (
    <div className="warning" role="alert" data-testid="lockout-warning">
      <p>
        <strong>
          {self
            ? "You are the last admin who signs in with a password and authenticator app."
            : "After this, no admin of your organization can sign in with a password and authenticator app."}
        </strong>{" "}
        If Microsoft is down or the integration breaks, nobody will be able to sign in to manage the organization.
      </p>
      <label>
        <input type="checkbox" name="lockoutConfirmed" value="yes" /> I understand:{" "}
        {self ? "sign me in with Microsoft only" : "no admin keeps password sign-in"}
      </label>
    </div>
  );
}

export function SwitchPreview({ preview, sendLinksName = "sendLinks" }: Props) {
  const withEmail = preview.toNone.filter((u) => u.email);
  const withoutEmail = preview.toNone.filter((u) => !u.email);
  const lockout = preview.locksOut ? <LockoutConfirm /> : null;
  if (!preview.toPassword.length && !preview.toNone.length) return lockout ?? <p>Nobody's sign-in method changes.</p>;
  return (
    <div data-testid="switch-preview">
      {lockout}
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
              <input type="checkbox" name={sendLinksName} value="yes" defaultChecked /> Email the {withEmail.length} with an email address a link to set a
              password
            </label>
          ) : null}
          {withoutEmail.length ? <p className="hint">{withoutEmail.length} of them have no email address and can't be sent a link.</p> : null}
        </>
      ) : null}
    </div>
  );
}
