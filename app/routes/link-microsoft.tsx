import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { audit } from "~/lib/audit.server.ts";
import { db } from "~/lib/db.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { microsoftLinkFor } from "~/lib/microsoft/start.server.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { signInStrategyFor } from "~/lib/sign-in-method.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign in with Microsoft from now on?" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const redirectTo = safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"), "/");
  if (!(await signInStrategyFor(session.user)).offerLink) throw redirect(redirectTo);
  return { redirectTo };
}

const schema = z.object({ intent: z.enum(["link", "later", "never"], { error: "Choose one of the three answers." }), redirectTo: z.string().max(2048).optional() });

export async function action({ request }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const redirectTo = safeRedirectPath(parsed.data.redirectTo, "/");
  if (parsed.data.intent === "later") return redirect(redirectTo);
  if (parsed.data.intent === "never") {
    await db.user.update({ where: { id: session.userId }, data: { linkPrompt: "declined" } });
    await audit({ action: "link.prompt.declined", orgId: session.user.orgId, actorId: session.userId });
    return redirect(redirectTo);
  }
  if (!(await signInStrategyFor(session.user)).offerLink) return redirect(redirectTo);
  try {
    return redirect(await microsoftLinkFor(session, redirectTo));
  } catch (error) {
    if (!(error instanceof MicrosoftUnavailableError)) throw error;
    return data({ error: "Microsoft is unavailable right now, so your account can't be linked. You're signed in; try again later from My Profile → Settings." }, { status: 503 });
  }
}

export default function LinkPrompt() {
  const { redirectTo } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <main className="narrow">
      <h1>Sign in with your Microsoft account from now on?</h1>
      <div className="card">
        <p>Your organization uses Microsoft. Link your Microsoft work account and you'll sign in with it instead of a password and code.</p>
        <FormError message={result?.error} />
        <Form method="post">
          <input type="hidden" name="redirectTo" value={redirectTo} />
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
