import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { LockoutConfirm } from "~/components/switch-preview.tsx";
import { parseForm } from "~/lib/forms.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { declineLinkPrompt, linkingLocksOut, startLink } from "~/lib/signin/microsoft.server.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { signInStrategyFor } from "~/lib/signin/methods.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign in with Microsoft from now on?" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const redirectTo = safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"), "/");
  if (!(await signInStrategyFor(session.user)).offerLink) throw redirect(redirectTo);
  return { redirectTo, lockout: await linkingLocksOut(session.user) };
}

const schema = z.object({
  intent: z.enum(["link", "later", "never"], { error: "Choose one of the three answers." }),
  redirectTo: z.string().max(2048).optional(),
  lockoutConfirmed: z.literal("yes").optional(),
});

export async function action({ request }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const redirectTo = safeRedirectPath(parsed.data.redirectTo, "/");
  if (parsed.data.intent === "later") return redirect(redirectTo);
  if (parsed.data.intent === "never") {
    await declineLinkPrompt(session);
    return redirect(redirectTo);
  }
  try {
    const start = await startLink(session, redirectTo, { lockoutConfirmed: parsed.data.lockoutConfirmed === "yes" });
    if (start.kind === "redirect") return redirect(start.url);
    if (start.kind === "not_offered") return redirect(redirectTo);
    if (start.kind === "step_up")
      return redirect(`/settings/confirm?redirectTo=${encodeURIComponent(`/link-microsoft?redirectTo=${encodeURIComponent(redirectTo)}`)}`);
    return data({ error: "Tick the box to confirm that you will sign in with Microsoft only, or choose Not now." }, { status: 409 });
  } catch (error) {
    if (!(error instanceof MicrosoftUnavailableError)) throw error;
    return data(
      { error: "Microsoft is unavailable right now, so your account can't be linked. You're signed in; try again later from My Profile → Settings." },
      { status: 503 },
    );
  }
}

export default function LinkPrompt() {
  const { redirectTo, lockout } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <main className="narrow">
      <h1>Sign in with your Microsoft account from now on?</h1>
      <div className="card">
        <p>Your organization uses Microsoft. Link your Microsoft work account and you'll sign in with it instead of a password and code.</p>
        <FormError message={result?.error} />
        <Form method="post">
          <input type="hidden" name="redirectTo" value={redirectTo} />
          {lockout ? <LockoutConfirm self /> : null}
          <Submit name="intent" value="link" pendingText="Going to Microsoft…">
            Use Microsoft
          </Submit>
          <Submit name="intent" value="later" className="secondary">
            Not now
          </Submit>
          <Submit name="intent" value="never" className="secondary">
            Don't ask again
          </Submit>
        </Form>
        <p className="hint">You can change your mind any time in My Profile → Settings.</p>
      </div>
    </main>
  );
}
