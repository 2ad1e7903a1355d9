import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { RecoveryCodeList } from "~/components/recovery-codes.tsx";
import { TotpSetupPanel } from "~/components/totp-setup.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { replaceAuthenticator } from "~/lib/signin/factors.server.ts";
import { requireRecentSignIn } from "~/lib/signin/step-up.server.ts";
import { describeFailure } from "~/lib/signin/steps.server.ts";
import { pendingTotpSetup } from "~/lib/two-factor.server.ts";

export const meta: MetaFunction = () => [{ title: "Authenticator app" }];

const schema = z.object({
  currentCode: z.string().trim().min(1, "Enter a code from your current authenticator app, or a recovery code.").max(32, "That is not a code."),
  newCode: z
    .string()
    .trim()
    .regex(/^\d{6}$/, "Enter the 6-digit code the new entry in your app shows."),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireRecentSignIn(request);
  return { enrolledAt: session.user.totpEnrolledAt?.toISOString() ?? null, setup: await pendingTotpSetup(session) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireRecentSignIn(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ codes: null, errors: parsed.errors, formError: undefined }, { status: 400 });
  const result = await replaceAuthenticator(session, parsed.data.currentCode, parsed.data.newCode, clientAddress(context));
  if (result.kind === "current_invalid")
    return data(
      { codes: null, errors: { currentCode: describeFailure(result.failure, "code") } as Record<string, string>, formError: undefined },
      { status: 400 },
    );
  if (result.kind === "new_invalid")
    return data(
      {
        codes: null,
        errors: { newCode: "That code doesn't match the new entry. Scan the QR code again and enter its current code." } as Record<string, string>,
        formError: undefined,
      },
      { status: 400 },
    );
  return data({ codes: result.codes, errors: undefined, formError: undefined });
}

export default function TwoFactor() {
  const { enrolledAt, setup } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (result?.codes) {
    return (
      <section className="card">
        <p role="status">Your authenticator app was replaced. Codes from the old entry no longer work, and your old recovery codes were replaced too.</p>
        <RecoveryCodeList codes={result.codes} />
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="totp-heading">
      <h2 id="totp-heading">Authenticator app</h2>
      <p>{enrolledAt ? `Set up on ${new Date(enrolledAt).toUTCString()}.` : "Not set up yet."}</p>
      <h3>Move to a new phone or app</h3>
      <TotpSetupPanel {...setup} />
      <Form method="post" noValidate>
        <FormError message={result?.formError} />
        <Field
          name="currentCode"
          label="Code from your current app (or a recovery code)"
          autoComplete="one-time-code"
          required
          maxLength={32}
          error={result?.errors?.currentCode}
        />
        <Field
          name="newCode"
          label="Code from the new entry"
          autoComplete="one-time-code"
          inputMode="numeric"
          required
          maxLength={6}
          error={result?.errors?.newCode}
        />
        <Submit pendingText="Checking…">Replace authenticator app</Submit>
      </Form>
    </section>
  );
}
