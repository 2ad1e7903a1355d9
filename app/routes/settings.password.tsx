import type { ActionFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, NewPasswordFields, Submit } from "~/components/form.tsx";
import { audit } from "~/lib/audit.server.ts";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { newPasswordFields, passwordsMatch, PASSWORD_MAX } from "~/lib/password-rules.ts";
import { hashPassword, verifyPassword } from "~/lib/passwords.server.ts";
import { endOtherSessions, requireUser } from "~/lib/session.server.ts";
import { accountKey, addressKey, blockedUntil, recordFailure } from "~/lib/throttle.server.ts";

export const meta: MetaFunction = () => [{ title: "Change password" }];

const schema = passwordsMatch(
  z.object({ currentPassword: z.string().min(1, "Enter your current password.").max(PASSWORD_MAX, "That is not your current password."), ...newPasswordFields }),
);

export async function loader({ request }: { request: Request }) {
  await requireUser(request);
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ errors: parsed.errors as Record<string, string>, formError: undefined }, { status: 400 });
  const { user } = session;
  const address = clientAddress(context);
  const keys = [accountKey(user.id), addressKey(address)];
  const until = await blockedUntil(keys);
  if (until) return data({ errors: undefined, formError: `Too many failed attempts. Try again after ${until.toISOString().slice(11, 19)} UTC.` }, { status: 429 });
  if (!user.passwordHash || !(await verifyPassword(user.passwordHash, parsed.data.currentPassword))) {
    await recordFailure(keys[0]!, keys[1]!);
    return data({ errors: { currentPassword: "That is not your current password." } as Record<string, string>, formError: undefined }, { status: 400 });
  }
  await db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(parsed.data.newPassword), passwordChangedAt: new Date() } });
  const ended = await endOtherSessions(user.id, session.id);
  await audit({ action: "password.changed", orgId: user.orgId, actorId: user.id, ipAddress: address, detail: { otherSessionsEnded: ended.count } });
  const flash = await setFlash(ended.count ? `Password changed. Your ${ended.count} other session(s) were signed out.` : "Password changed.");
  return redirect("/settings/password", { headers: { "Set-Cookie": flash } });
}

export default function ChangePassword() {
  const result = useActionData<typeof action>();
  return (
    <section className="card" aria-labelledby="pw-heading">
      <h2 id="pw-heading">Change password</h2>
      <Form method="post" noValidate>
        <FormError message={result?.formError} />
        <Field name="currentPassword" label="Current password" type="password" autoComplete="current-password" required maxLength={PASSWORD_MAX} error={result?.errors?.currentPassword} />
        <NewPasswordFields errors={result?.errors} />
        <Submit pendingText="Saving…">Change password</Submit>
        <p className="hint">Changing your password signs you out everywhere else.</p>
      </Form>
    </section>
  );
}
