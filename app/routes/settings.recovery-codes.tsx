import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, Submit } from "~/components/form.tsx";
import { RecoveryCodeList } from "~/components/recovery-codes.tsx";
import { audit } from "~/lib/audit.server.ts";
import { clientAddress } from "~/lib/context.ts";
import { parseForm } from "~/lib/forms.ts";
import { regenerateRecoveryCodes, remainingRecoveryCodes } from "~/lib/recovery-codes.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { checkSecondFactor, describeFailure } from "~/lib/signin.server.ts";

export const meta: MetaFunction = () => [{ title: "Recovery codes" }];

const schema = z.object({ code: z.string().trim().regex(/^\d{6}$/, "Enter the 6-digit code from your authenticator app.") });

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireUser(request);
  return { remaining: await remainingRecoveryCodes(user.id) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user } = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ codes: null, errors: parsed.errors }, { status: 400 });
  const address = clientAddress(context);
  const check = await checkSecondFactor(user, parsed.data.code, address);
  if (check.kind !== "ok") return data({ codes: null, errors: { code: describeFailure(check, "code") } }, { status: 400 });
  const codes = await regenerateRecoveryCodes(user.id);
  await audit({ action: "recovery_codes.regenerated", orgId: user.orgId, actorId: user.id, ipAddress: address });
  return data({ codes, errors: undefined });
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
        You have <strong>{remaining}</strong> unused recovery code{remaining === 1 ? "" : "s"}. Making new ones replaces all of them.
      </p>
      <Form method="post" noValidate>
        <Field name="code" label="6-digit code from your authenticator app" autoComplete="one-time-code" inputMode="numeric" required maxLength={6} error={result?.errors?.code} />
        <Submit pendingText="Making codes…">Make new recovery codes</Submit>
      </Form>
    </section>
  );
}
