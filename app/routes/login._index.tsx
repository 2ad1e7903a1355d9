import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { IDENTIFIER_MAX, parseIdentifier } from "~/lib/identifier.ts";
import { PASSWORD_MAX } from "~/lib/password-rules.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { requireAnonymous } from "~/lib/session.server.ts";
import { completeSignIn } from "~/lib/signin/complete.server.ts";
import { checkPasswordStep, describeFailure, findUserByIdentifier } from "~/lib/signin/steps.server.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { microsoftSignInFor } from "~/lib/signin/microsoft.server.ts";

const MICROSOFT_DOWN = "Microsoft sign-in is unavailable right now: Microsoft did not answer in time. Try again in a few minutes.";

export const meta: MetaFunction = () => [{ title: "Sign in" }];

const identifierField = z
  .string()
  .trim()
  .min(1, "Enter your email address or mobile number.")
  .max(IDENTIFIER_MAX, `That is too long for an email address or mobile number (at most ${IDENTIFIER_MAX} characters).`)
  .refine((v) => parseIdentifier(v) !== null, "Enter a valid email address or a mobile number with its country code, e.g. +44 7911 123456.");

const schemas = {
  identifier: z.object({ intent: z.literal("identifier"), identifier: identifierField, redirectTo: z.string().optional() }),
  password: z.object({
    intent: z.literal("password"),
    identifier: identifierField,
    password: z.string().min(1, "Enter your password.").max(PASSWORD_MAX, `Passwords are at most ${PASSWORD_MAX} characters.`),
    redirectTo: z.string().optional(),
  }),
};

type ActionData = { step: "identifier" | "password"; identifier: string; errors?: Record<string, string>; formError?: string };

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAnonymous(request);
  const query = new URL(request.url).searchParams;
  const redirectTo = safeRedirectPath(query.get("redirectTo"), "");
  return { redirectTo, microsoftDown: query.get("microsoft") === "unavailable" };
}

export async function action({ request, context }: ActionFunctionArgs) {
  await requireAnonymous(request);
  const form = await request.formData();
  const intent = form.get("intent") === "password" ? "password" : "identifier";
  const parsed = parseForm(form, schemas[intent]);
  const typed = String(form.get("identifier") ?? "").slice(0, IDENTIFIER_MAX);
  if (!parsed.ok) {
    const step = intent === "password" && !parsed.errors.identifier ? "password" : "identifier";
    return data<ActionData>({ step, identifier: typed, errors: parsed.errors }, { status: 400 });
  }
  if (parsed.data.intent === "identifier") {
    // Users whose method is Microsoft go straight there; everyone else, known or not, gets the password page.
    const user = await findUserByIdentifier(parsed.data.identifier);
    if (user && user.status === "active") {
      try {
        const microsoft = await microsoftSignInFor(user, safeRedirectPath(parsed.data.redirectTo, "/"));
        if (microsoft) return redirect(microsoft.url, { headers: { "Set-Cookie": microsoft.setCookie } });
      } catch (error) {
        if (!(error instanceof MicrosoftUnavailableError)) throw error;
        return data<ActionData>({ step: "identifier", identifier: parsed.data.identifier, formError: MICROSOFT_DOWN }, { status: 503 });
      }
    }
    return data<ActionData>({ step: "password", identifier: parsed.data.identifier });
  }

  const { identifier, password } = parsed.data;
  const result = await checkPasswordStep(identifier, password, clientAddress(context));
  if (result.kind !== "ok") {
    return data<ActionData>({ step: "password", identifier, formError: describeFailure(result, "password") }, { status: 400 });
  }
  const next = await completeSignIn(request, result.user, { factor: "password" }, clientAddress(context), parsed.data.redirectTo);
  return redirect(next.location, { headers: { "Set-Cookie": next.setCookie } });
}

export default function Login() {
  const { redirectTo, microsoftDown } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const step = result?.step ?? "identifier";
  return (
    <main className="narrow">
      <h1>Sign in</h1>
      <div className="card">
        {step === "identifier" ? (
          <Form method="post" noValidate>
            <input type="hidden" name="intent" value="identifier" />
            <input type="hidden" name="redirectTo" value={redirectTo} />
            <Field
              name="identifier"
              label="Email address or mobile number"
              autoComplete="username"
              inputMode="email"
              autoFocus
              required
              maxLength={IDENTIFIER_MAX}
              defaultValue={result?.identifier}
              error={result?.errors?.identifier}
            />
            <FormError message={result?.formError ?? (microsoftDown ? MICROSOFT_DOWN : null)} />
            <Submit pendingText="Checking…">Continue</Submit>
          </Form>
        ) : (
          <Form method="post" noValidate>
            <input type="hidden" name="intent" value="password" />
            <input type="hidden" name="redirectTo" value={redirectTo} />
            <input type="hidden" name="identifier" value={result?.identifier} />
            <p>
              Signing in as <strong>{result?.identifier}</strong> ·{" "}
              <Link to={redirectTo ? `/login?redirectTo=${encodeURIComponent(redirectTo)}` : "/login"}>Use another account</Link>
            </p>
            {/* Lets password managers pair the password with the account. */}
            <input type="text" name="username" value={result?.identifier} autoComplete="username" readOnly hidden />
            <FormError message={result?.formError} />
            <Field
              name="password"
              label="Password"
              type="password"
              autoComplete="current-password"
              autoFocus
              required
              maxLength={PASSWORD_MAX}
              error={result?.errors?.password}
            />
            <Submit pendingText="Signing in…">Sign in</Submit>
            <p className="hint">
              <Link to="/forgot-password">Forgot your password?</Link>
            </p>
          </Form>
        )}
      </div>
      {step === "identifier" ? (
        <Form method="post" action="/auth/microsoft" className="card alt-signin">
          <input type="hidden" name="redirectTo" value={redirectTo} />
          <button type="submit" className="secondary">
            Sign in with Microsoft
          </button>
        </Form>
      ) : null}
    </main>
  );
}
