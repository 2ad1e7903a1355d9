import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, NewPasswordFields, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { newPasswordFields, passwordsMatch } from "~/lib/password-rules.ts";
import { resetPassword } from "~/lib/password-reset.server.ts";
import { peekToken, tokenTypeOf } from "~/lib/tokens.server.ts";
import { linkLifetimeSentence } from "~/lib/link-lifetimes.ts";

export const meta: MetaFunction = () => [{ title: "Choose a new password" }];

const schema = passwordsMatch(z.object({ token: z.string().max(200), ...newPasswordFields }));

const KINDS = ["password_reset", "set_password"] as const;

async function tokenIsGood(token: unknown) {
  return Boolean((await peekToken("password_reset", token)) ?? (await peekToken("set_password", token)));
}

/** Why the link does not work, with the lifetime of the kind of link that was opened (reset: 30 minutes, set: 24 hours). */
async function deadLinkSentence(token: unknown) {
  const type = await tokenTypeOf(token);
  const kind = KINDS.find((k) => k === type);
  return kind
    ? `This link has expired or was already used. ${linkLifetimeSentence(kind)}`
    : "This link isn't valid: it may have expired, been used already or been copied only in part.";
}

export async function loader({ request }: LoaderFunctionArgs) {
  const token = new URL(request.url).searchParams.get("token") ?? "";
  const valid = await tokenIsGood(token);
  return { token: token.slice(0, 200), valid, problem: valid ? null : await deadLinkSentence(token) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ errors: parsed.errors, formError: undefined }, { status: 400 });
  const done = await resetPassword(parsed.data.token, parsed.data.newPassword, clientAddress(context));
  if (done === "microsoft") {
    const flash = await setFlash("You sign in with your Microsoft work account, so no password was set. Sign in with Microsoft.");
    return redirect("/login", { headers: { "Set-Cookie": flash } });
  }
  if (done === "invalid") return data({ errors: undefined, formError: "This link has expired or was already used. Ask for a new one." }, { status: 400 });
  const flash = await setFlash("Your password is set. Sign in with it; you'll still be asked for your authenticator code.");
  return redirect("/login", { headers: { "Set-Cookie": flash } });
}

export default function ResetPassword() {
  const { token, valid, problem } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <main className="narrow">
      <h1>Choose a new password</h1>
      <div className="card">
        {!valid ? (
          <div>
            <p className="form-error" role="alert">
              {problem}
            </p>
            <p>
              <Link to="/forgot-password">Send me a new link</Link>
            </p>
          </div>
        ) : (
          <Form method="post" noValidate>
            <input type="hidden" name="token" value={token} />
            <FormError message={result?.formError} />
            {result?.formError ? (
              <p>
                <Link to="/forgot-password">Send me a new link</Link>
              </p>
            ) : null}
            <NewPasswordFields errors={result?.errors} />
            <Submit pendingText="Saving…">Set password</Submit>
          </Form>
        )}
      </div>
    </main>
  );
}
