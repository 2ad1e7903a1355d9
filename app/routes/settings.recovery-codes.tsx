import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, Submit } from "~/components/form.tsx";
import { RecoveryCodeList } from "~/components/recovery-codes.tsx";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { remainingRecoveryCodes } from "~/lib/recovery-codes.server.ts";
import { newRecoveryCodes } from "~/lib/signin/factors.server.ts";
import { requireRecentSignIn } from "~/lib/signin/step-up.server.ts";
import { describeFailure } from "~/lib/signin/steps.server.ts";
import { plural } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Recovery codes" }];

const schema = z.object({
  code: z
    .string()
    .trim()
    .regex(/^\d{6}$/, "Enter the 6-digit code from your authenticator app."),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireRecentSignIn(request);
  return { remaining: await remainingRecoveryCodes(session.userId) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireRecentSignIn(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ codes: null, errors: parsed.errors }, { status: 400 });
  const result = await newRecoveryCodes(session, parsed.data.code, clientAddress(context));
  if (result.kind === "current_invalid") return data({ codes: null, errors: { code: describeFailure(result.failure, "code") } }, { status: 400 });
  if (result.kind !== "ok") return data({ codes: null, errors: { code: "That code isn't valid." } }, { status: 400 });
  return data({ codes: result.codes, errors: undefined });
}

export default function RecoveryCodes() {
  const { remaining } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (result?.codes) {
    return (
      <section className="card">
        <p role="status">New recovery codes were made. The old ones no longer work.</p>
        <RecoveryCodeList codes={result.codes} />
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="rc-heading">
      <h2 id="rc-heading">Recovery codes</h2>
      <p>
        You have <strong>{remaining}</strong> unused {plural(remaining, "recovery code")}. Making new ones replaces all of them.
      </p>
      <Form method="post" noValidate>
        <Field
          name="code"
          label="6-digit code from your authenticator app"
          autoComplete="one-time-code"
          inputMode="numeric"
          required
          maxLength={6}
          error={result?.errors?.code}
        />
        <Submit pendingText="Making codes…">Make new recovery codes</Submit>
      </Form>
    </section>
  );
}
