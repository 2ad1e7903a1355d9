import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, NewPasswordFields, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { newPasswordFields, passwordsMatch, PASSWORD_MAX } from "~/lib/password-rules.ts";
import { changeOwnPassword } from "~/lib/signin/factors.server.ts";
import { signInStrategyFor } from "~/lib/signin/methods.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { ensureRecentSignIn } from "~/lib/signin/step-up.server.ts";
import { describeFailure } from "~/lib/signin/steps.server.ts";
import { count as countOf } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Change password" }];

const schema = passwordsMatch(
  z.object({
    currentPassword: z.string().min(1, "Enter your current password.").max(PASSWORD_MAX, "That is not your current password."),
    ...newPasswordFields,
  }),
);

const MICROSOFT = "You sign in with your Microsoft account, so you have no password here to change.";

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const { method } = await signInStrategyFor(session.user);
  // Only a password that can be changed needs the step-up; a Microsoft user is told they have none.
  if (method !== "microsoft") await ensureRecentSignIn(session, request);
  return { method };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  if ((await signInStrategyFor(session.user)).method === "microsoft") return data({ errors: undefined, formError: MICROSOFT }, { status: 409 });
  await ensureRecentSignIn(session, request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ errors: parsed.errors as Record<string, string>, formError: undefined }, { status: 400 });
  const result = await changeOwnPassword(session, parsed.data.currentPassword, parsed.data.newPassword, clientAddress(context));
  if (result.kind === "microsoft") return data({ errors: undefined, formError: MICROSOFT }, { status: 409 });
  if (result.kind === "invalid")
    return data({ errors: { currentPassword: "That is not your current password." } as Record<string, string>, formError: undefined }, { status: 400 });
  if (result.kind !== "ok") return data({ errors: undefined, formError: describeFailure(result, "password") }, { status: 429 });
  const ended = result.otherSessionsEnded;
  const flash = await setFlash(
    ended ? `Password changed. ${ended === 1 ? "Your other session was" : `Your ${countOf(ended, "other session")} were`} signed out.` : "Password changed.",
  );
  return redirect("/settings/password", { headers: { "Set-Cookie": flash } });
}

export default function ChangePassword() {
  const { method } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (method === "microsoft") {
    return (
      <section className="card" aria-labelledby="pw-heading">
        <h2 id="pw-heading">Password</h2>
        <p>{MICROSOFT}</p>
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="pw-heading">
      <h2 id="pw-heading">Change password</h2>
      <Form method="post" noValidate>
        <FormError message={result?.formError} />
        <Field
          name="currentPassword"
          label="Current password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={PASSWORD_MAX}
          error={result?.errors?.currentPassword}
        />
        <NewPasswordFields errors={result?.errors} />
        <Submit pendingText="Saving…">Change password</Submit>
        <p className="hint">Changing your password signs you out everywhere else.</p>
      </Form>
    </section>
  );
}
