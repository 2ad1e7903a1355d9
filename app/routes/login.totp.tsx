import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { requirePending } from "~/lib/session.server.ts";
import { completeSignIn } from "~/lib/signin/complete.server.ts";
import { checkSignInCode, describeFailure } from "~/lib/signin/steps.server.ts";

export const meta: MetaFunction = () => [{ title: "Enter your code" }];

const schema = z.object({
  code: z
    .string()
    .trim()
    .min(1, "Enter the 6-digit code from your authenticator app.")
    .max(32, "That is not a code: codes have 6 digits, recovery codes 10 characters."),
});

export async function loader({ request }: LoaderFunctionArgs) {
  await requirePending(request, "pending_totp");
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requirePending(request, "pending_totp");
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ errors: parsed.errors, formError: undefined }, { status: 400 });

  const address = clientAddress(context);
  const result = await checkSignInCode(session.user, parsed.data.code, address);
  if (result.kind !== "ok") return data({ errors: undefined, formError: describeFailure(result, "code") }, { status: 400 });

  const next = await completeSignIn(request, session.user, { factor: result.method }, address, new URL(request.url).searchParams.get("redirectTo"));
  return redirect(next.location, { headers: { "Set-Cookie": next.setCookie } });
}

export default function TotpStep() {
  const result = useActionData<typeof action>();
  return (
    <main className="narrow">
      <h1>Enter your code</h1>
      <div className="card">
        <Form method="post" noValidate>
          <FormError message={result?.formError} />
          <Field
            name="code"
            label="6-digit code from your authenticator app"
            autoComplete="one-time-code"
            inputMode="numeric"
            autoFocus
            required
            maxLength={32}
            hint="Lost your device? Enter one of your recovery codes instead."
            error={result?.errors?.code}
          />
          <Submit pendingText="Checking…">Verify</Submit>
        </Form>
        <Form method="post" action="/logout">
          <button type="submit" className="secondary">
            Cancel and start over
          </button>
        </Form>
      </div>
    </main>
  );
}
