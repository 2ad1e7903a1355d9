// The apps signed in through the portal (issue 14), each with "Sign out": on My Profile → Sessions and on an
// admin's page of a user. The form posts intent=end-app to the page it is on.
import { Form } from "@remix-run/react";
import { DataTable } from "./data-table.tsx";
import { Submit } from "./form.tsx";

export type AppSession = { grantId: string; appName: string; signedInAt: string; lastUsedAt: string };

export function AppSessions({ apps }: { apps: AppSession[] }) {
  return (
    <DataTable columns={["App", "Signed in", "Last used", <span className="visually-hidden">Action</span>]}>
      {apps.map((a) => (
        <tr key={a.grantId} data-testid="app-session">
          <td>{a.appName}</td>
          <td>{new Date(a.signedInAt).toUTCString()}</td>
          <td>{new Date(a.lastUsedAt).toUTCString()}</td>
          <td>
            <Form method="post">
              <input type="hidden" name="grantId" value={a.grantId} />
              <Submit name="intent" value="end-app" className="secondary">
                Sign out<span className="visually-hidden"> of {a.appName}</span>
              </Submit>
            </Form>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}
