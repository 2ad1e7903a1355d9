// The "what happens if I turn this off" lists: who falls back to password, who is left with no way to sign in,
// and the offer to email the latter a set-password link. Rendered inside the confirming form.
import type { PersonList, PreviewSummary } from "~/lib/preview-summary.ts";
import { count } from "~/lib/wording.ts";

type Props = { preview: PreviewSummary; sendLinksName?: string; csvHref?: string };

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

function Names({ list, unit }: { list: PersonList; unit: (email: string | null) => string }) {
  return (
    <>
      <ul>
        {list.first.map((u) => (
          <li key={u.id}>
            {u.name} <span className="hint">{unit(u.email)}</span>
          </li>
        ))}
      </ul>
      {list.count > list.first.length ? <p className="hint">…and {count(list.count - list.first.length, "more user")}.</p> : null}
    </>
  );
}

/**
 * Counts and the first names of who falls back to password and who is left with none; the full lists are the
 * CSV at `csvHref` (a preview at 20,000 users must not be a 20,000-name page).
 */
export function SwitchPreview({ preview, sendLinksName = "sendLinks", csvHref }: Props) {
  const { toPassword, toNone } = preview;
  const lockout = preview.locksOut ? <LockoutConfirm /> : null;
  if (!toPassword.count && !toNone.count) return lockout ?? <p>Nobody's sign-in method changes.</p>;
  const long = toPassword.count > toPassword.first.length || toNone.count > toNone.first.length;
  return (
    <div data-testid="switch-preview">
      {lockout}
      {toPassword.count ? (
        <>
          <p>
            <strong>{count(toPassword.count, "user")}</strong> {toPassword.count === 1 ? "goes" : "go"} back to password + authenticator app:
          </p>
          <Names list={toPassword} unit={(email) => (email ? `(${email})` : "")} />
        </>
      ) : null}
      {toNone.count ? (
        <>
          <p className="form-error">
            <strong>{count(toNone.count, "user")}</strong> {toNone.count === 1 ? "is" : "are"} left with no way to sign in (no password):
          </p>
          <Names list={toNone} unit={(email) => (email ? `(${email})` : "(no email address: give them a new user ID first)")} />
          {toNone.withEmail ? (
            <label>
              <input type="checkbox" name={sendLinksName} value="yes" defaultChecked /> Email the {count(toNone.withEmail, "user")} with an email address a link
              to set a password
            </label>
          ) : null}
          {toNone.withoutEmail ? (
            <p className="hint">{count(toNone.withoutEmail, "of them has", "of them have")} no email address and can't be sent a link.</p>
          ) : null}
        </>
      ) : null}
      {csvHref && long ? (
        <p>
          <a href={csvHref} download>
            Download the full list (CSV)
          </a>
        </p>
      ) : null}
    </div>
  );
}
