import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { RecoveryCodeList } from "~/components/recovery-codes.tsx";
import { TotpSetupPanel } from "~/components/totp-setup.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { getSession, PENDING_MINUTES, requirePending } from "~/lib/session.server.ts";
import { completeSignIn } from "~/lib/signin/complete.server.ts";
import { confirmEnrolment, describeFailure } from "~/lib/signin/steps.server.ts";
import { pendingTotpSetup } from "~/lib/two-factor.server.ts";
import { minutes } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Set up your authenticator app" }];

const schema = z.object({
  code: z
    .string()
    .trim()
    .regex(/^\d{6}$/, "Enter the 6-digit code your authenticator app shows for this account."),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const redirectTo = safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"), "/");
  // After the enrolment action this loader still sees the old cookie, whose session was just replaced:
  // render the page (the recovery codes come from the action) instead of redirecting away from them.
  const session = await getSession(request);
  const lifetime = minutes(PENDING_MINUTES);
  if (session?.stage === "pending_enrolment") return { setup: await pendingTotpSetup(session), redirectTo, expired: false, lifetime };
  if (session?.stage === "pending_totp") throw redirect("/login/totp");
  return { setup: null, redirectTo, expired: !session, lifetime };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requirePending(request, "pending_enrolment");
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ codes: null, next: null, errors: parsed.errors, formError: undefined }, { status: 400 });

  const address = clientAddress(context);
  const result = await confirmEnrolment(session, parsed.data.code, address);
  if (result.kind !== "ok") {
    const formError =
      result.kind === "invalid"
        ? "That code doesn't match. Check that the app shows this account and enter its current code."
        : describeFailure(result, "code");
    return data({ codes: null, next: null, errors: undefined, formError }, { status: 400 });
  }
  const next = await completeSignIn(
    request,
    session.user,
    { factor: "password_totp", enrolled: true },
    address,
    new URL(request.url).searchParams.get("redirectTo"),
  );
  return data({ codes: result.codes, next: next.location, errors: undefined, formError: undefined }, { headers: { "Set-Cookie": next.setCookie } });
}

export default function Enrol() {
  const { setup, redirectTo, expired, lifetime } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (!result?.codes && expired) {
    return (
      <main className="narrow">
        <h1>Your sign-in expired</h1>
        <p>
          For your security, unfinished sign-ins end after {lifetime}. <Link to="/login">Sign in again</Link>.
        </p>
      </main>
    );
  }
  if (result?.codes || !setup) {
    return (
      <main className="narrow">
        <h1>Your authenticator app is set up</h1>
        <div className="card">
          {result?.codes ? <RecoveryCodeList codes={result.codes} /> : null}
          <p>
            <Link className="button" to={result?.next ?? redirectTo}>
              I've saved my codes, continue
            </Link>
          </p>
        </div>
      </main>
    );
  }
  return (
    <main className="narrow">
      <h1>Set up your authenticator app</h1>
      <div className="card">
        <p>Your organization asks for a code from an authenticator app at every sign-in.</p>
        <TotpSetupPanel {...setup} />
        <Form method="post" noValidate>
          <FormError message={result?.formError} />
          <Field
            name="code"
            label="6-digit code from the app"
            autoComplete="one-time-code"
            inputMode="numeric"
            required
            maxLength={6}
            error={result?.errors?.code}
          />
          <Submit pendingText="Checking…">Confirm and continue</Submit>
        </Form>
      </div>
    </main>
  );
}
