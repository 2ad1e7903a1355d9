import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, NewPasswordFields, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { acceptWithMicrosoft, acceptWithPassword, openInvitation } from "~/lib/invitations.server.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { newPasswordFields, passwordsMatch } from "~/lib/password-rules.ts";
import { endSession } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "Your invitation" }];

const token = z.string().max(200);
const schemas = {
  password: passwordsMatch(z.object({ intent: z.literal("password"), token, ...newPasswordFields })),
  microsoft: z.object({ intent: z.literal("microsoft"), token }),
};

const MICROSOFT_DOWN = "Microsoft sign-in is unavailable right now: Microsoft did not answer in time. Try again in a few minutes.";

type View = { state: "invalid" } | { state: "password" | "microsoft"; token: string; name: string; email: string | null; orgName: string };

// 410 Gone: the link existed or never did, either way it will not work again.
const invalid = () => data<View>({ state: "invalid" }, { status: 410 });

export async function loader({ request }: LoaderFunctionArgs) {
  const raw = new URL(request.url).searchParams.get("token") ?? "";
  const invitation = await openInvitation(raw);
  if (!invitation) return invalid();
  const { user, orgName, method } = invitation;
  return data<View>({ state: method, token: raw, name: user.name, email: user.email, orgName });
}

type ActionData = { errors?: Record<string, string>; formError?: string; invalid?: boolean };

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const intent = form.get("intent") === "microsoft" ? "microsoft" : "password";
  const parsed = parseForm(form, schemas[intent]);
  if (!parsed.ok) return data<ActionData>({ errors: parsed.errors }, { status: 400 });
  const address = clientAddress(context);
  const again = `/invite?token=${encodeURIComponent(parsed.data.token)}`;

  if (parsed.data.intent === "microsoft") {
    try {
      const result = await acceptWithMicrosoft(parsed.data.token);
      if (result.kind === "invalid") return data<ActionData>({ invalid: true }, { status: 410 });
      // The method changed since the page was shown: show the page the strategy now calls for.
      if (result.kind === "password") return redirect(again);
      return redirect(result.url, result.setCookie ? { headers: { "Set-Cookie": result.setCookie } } : undefined);
    } catch (error) {
      if (!(error instanceof MicrosoftUnavailableError)) throw error;
      return data<ActionData>({ formError: MICROSOFT_DOWN }, { status: 503 });
    }
  }

  const outcome = await acceptWithPassword(parsed.data.token, parsed.data.newPassword, address);
  if (outcome === "invalid") return data<ActionData>({ invalid: true }, { status: 410 });
  if (outcome === "microsoft") return redirect(again);
  // Whoever was signed in on this browser is signed out, so that the next sign-in is the invitee's.
  const headers = new Headers();
  headers.append("Set-Cookie", await endSession(request));
  headers.append("Set-Cookie", await setFlash("Your password is set. Sign in with it; next you'll set up your authenticator app."));
  return redirect("/login", { headers });
}

export default function Invite() {
  const view = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (view.state === "invalid" || result?.invalid) {
    return (
      <main className="narrow">
        <h1>This invitation link is no longer valid</h1>
        <div className="card">
          <p>It was already used, it expired, or your administrator withdrew it or sent a newer one. Ask your administrator to send you a new invitation.</p>
          <p>
            If you have already accepted it, <Link to="/login">sign in</Link>.
          </p>
        </div>
      </main>
    );
  }
  if (view.state === "microsoft") {
    return (
      <main className="narrow">
        <h1>Welcome to {view.orgName}</h1>
        <div className="card">
          <p>
            {view.name}, you sign in to {view.orgName} with your Microsoft work account{view.email ? <> ({view.email})</> : null}. There is no separate password
            to create.
          </p>
          <Form method="post">
            <input type="hidden" name="token" value={view.token} />
            <FormError message={result?.formError ?? result?.errors?.token} />
            <Submit name="intent" value="microsoft" pendingText="Opening Microsoft…">
              Sign in with Microsoft
            </Submit>
          </Form>
        </div>
      </main>
    );
  }
  return (
    <main className="narrow">
      <h1>Set your password</h1>
      <div className="card">
        <p>
          Welcome to {view.orgName}, {view.name}. Choose a password for {view.email ? <strong>{view.email}</strong> : "your account"}. Then sign in with it:
          you'll set up an authenticator app that gives you a six-digit code at each sign-in.
        </p>
        <Form method="post" noValidate>
          <input type="hidden" name="intent" value="password" />
          <input type="hidden" name="token" value={view.token} />
          {/* Lets password managers pair the new password with the account. */}
          <input type="text" name="username" value={view.email ?? ""} autoComplete="username" readOnly hidden />
          <FormError message={result?.formError ?? result?.errors?.token ?? result?.errors?.intent} />
          <NewPasswordFields errors={result?.errors} />
          <Submit pendingText="Saving…">Set password</Submit>
        </Form>
      </div>
    </main>
  );
}
