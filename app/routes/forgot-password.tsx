import type { ActionFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, Link, useActionData } from "@remix-run/react";
import { z } from "zod";
import { Field, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { IDENTIFIER_MAX, parseIdentifier } from "~/lib/identifier.ts";
import { recordPasswordResetRequest } from "~/lib/password-reset.server.ts";
import { RESET_MINUTES } from "~/lib/password-rules.ts";
import { minutes } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Forgot your password?" }];

const schema = z.object({
  identifier: z
    .string()
    .trim()
    .min(1, "Enter your email address or mobile number.")
    .max(IDENTIFIER_MAX, `That is too long for an email address or mobile number (at most ${IDENTIFIER_MAX} characters).`)
    .refine((v) => parseIdentifier(v) !== null, "Enter a valid email address or a mobile number with its country code."),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ sent: false, errors: parsed.errors, identifier: (parsed.values.identifier ?? "").slice(0, IDENTIFIER_MAX) }, { status: 400 });
  // Only recorded here: the account is looked up after the answer, so known and unknown identifiers take the same time.
  await recordPasswordResetRequest(parsed.data.identifier, clientAddress(context));
  return data({ sent: true, errors: undefined, identifier: parsed.data.identifier });
}

export default function ForgotPassword() {
  const result = useActionData<typeof action>();
  return (
    <main className="narrow">
      <h1>Forgot your password?</h1>
      <div className="card">
        {result?.sent ? (
          <div role="status">
            <p>
              If an account exists for <strong>{result.identifier}</strong>, we've sent a link to its email address. The link works once, within{" "}
              {minutes(RESET_MINUTES)}.
            </p>
            <p>After you set a new password you'll still be asked for your authenticator code.</p>
            <p>
              <Link to="/login">Back to sign in</Link>
            </p>
          </div>
        ) : (
          <Form method="post" noValidate>
            <p>Enter the email address or mobile number you sign in with. We'll email you a link to set a new password.</p>
            <Field
              name="identifier"
              label="Email address or mobile number"
              autoComplete="username"
              required
              maxLength={IDENTIFIER_MAX}
              defaultValue={result?.identifier}
              error={result?.errors?.identifier}
            />
            <Submit pendingText="Sending…">Send reset link</Submit>
            <p className="hint">
              <Link to="/login">Back to sign in</Link>
            </p>
          </Form>
        )}
      </div>
    </main>
  );
}
