// "Confirm it's you": the step-up before changing a factor (link, unlink, password, authenticator app, recovery
// codes) when the session's sign-in is older than 15 minutes. Password users enter their password and a code;
// Microsoft users sign in at Microsoft again (prompt=login).
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { PASSWORD_MAX } from "~/lib/password-rules.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { microsoftReauthFor } from "~/lib/signin/microsoft.server.ts";
import { confirmWithPassword, freshness, RECENT_AUTH_MINUTES } from "~/lib/signin/step-up.server.ts";
import { describeFailure } from "~/lib/signin/steps.server.ts";
import { duration } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Confirm it's you" }];

const back = (request: Request) => safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"), "/settings");

/** An app's sign-in that must be newer than a moment (prompt=login, max_age: app/lib/oidc/interaction.server.ts). */
const since = (request: Request) => {
  const value = new URL(request.url).searchParams.get("since");
  return value && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
};

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const fresh = await freshness(session, Date.now(), since(request));
  if (fresh.recent) throw redirect(back(request));
  return { method: fresh.method, redirectTo: back(request), minutes: RECENT_AUTH_MINUTES, forApp: since(request) !== undefined };
}

const schemas = {
  password: z.object({
    intent: z.literal("password"),
    password: z.string().min(1, "Enter your password.").max(PASSWORD_MAX, "That is not your password."),
    code: z.string().trim().min(1, "Enter the code from your authenticator app, or a recovery code.").max(32, "That is not a code."),
  }),
  microsoft: z.object({ intent: z.literal("microsoft") }),
};

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const form = await request.formData();
  const parsed = parseForm(form, schemas[form.get("intent") === "microsoft" ? "microsoft" : "password"]);
  if (!parsed.ok) return data({ errors: parsed.errors, formError: undefined }, { status: 400 });
  const redirectTo = back(request);
  if (parsed.data.intent === "microsoft") {
    try {
      const url = await microsoftReauthFor(session, redirectTo);
      return url
        ? redirect(url)
        : data({ errors: undefined, formError: "You don't sign in with Microsoft: confirm with your password and code." }, { status: 400 });
    } catch (error) {
      if (!(error instanceof MicrosoftUnavailableError)) throw error;
      return data({ errors: undefined, formError: "Microsoft is unavailable right now. Try again in a few minutes." }, { status: 503 });
    }
  }
  const result = await confirmWithPassword(session, parsed.data.password, parsed.data.code, clientAddress(context));
  if (result.kind !== "ok") return data({ errors: undefined, formError: describeFailure(result, "password") }, { status: 400 });
  return redirect(redirectTo);
}

export default function ConfirmItsYou() {
  const { method, redirectTo, minutes, forApp } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <section className="card" aria-labelledby="confirm-heading">
      <h2 id="confirm-heading">Confirm it's you</h2>
      <p>
        {forApp
          ? "The app you are signing in to asks you to sign in again."
          : `Changing how you sign in needs a sign-in within the last ${duration(minutes * 60)}.`}
      </p>
      <FormError message={result?.formError} />
      {method === "microsoft" ? (
        <Form method="post" action={`/settings/confirm?redirectTo=${encodeURIComponent(redirectTo)}`}>
          <Submit name="intent" value="microsoft" pendingText="Going to Microsoft…">
            Sign in with Microsoft again
          </Submit>
        </Form>
      ) : method === "password" ? (
        <Form method="post" action={`/settings/confirm?redirectTo=${encodeURIComponent(redirectTo)}`} noValidate>
          <input type="hidden" name="intent" value="password" />
          <Field
            name="password"
            label="Password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={PASSWORD_MAX}
            error={result?.errors?.password}
          />
          <Field
            name="code"
            label="6-digit code from your authenticator app"
            autoComplete="one-time-code"
            inputMode="numeric"
            required
            maxLength={32}
            error={result?.errors?.code}
          />
          <Submit pendingText="Checking…">Confirm</Submit>
        </Form>
      ) : (
        <p>You have no way to sign in right now, so nothing can be confirmed. Ask your administrator.</p>
      )}
    </section>
  );
}
