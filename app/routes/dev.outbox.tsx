// Development outbox: the mail the portal would have sent, read from OUTBOX_DIR.
import type { MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { listOutbox, requireOutboxPage } from "~/lib/mail/transport.server.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Outbox (development) · Sign-in portal" }];

export async function loader() {
  requireOutboxPage();
  const files = await listOutbox();
  return { messages: files.map(({ id, to, subject, date }) => ({ id, to, subject, date })) };
}

export default function Outbox() {
  const { messages } = useLoaderData<typeof loader>();
  return (
    <main>
      <h1>Outbox</h1>
      <p>Mail the portal sends while no SMTP server is configured lands here instead, newest first.</p>
      {messages.length === 0 ? (
        <p>No messages yet.</p>
      ) : (
        <DataTable columns={["Date", "To", "Subject", "Message"]}>
          {messages.map((message) => (
            <tr key={message.id}>
              <td>
                <time dateTime={message.date}>{message.date.slice(0, 19).replace("T", " ")} UTC</time>
              </td>
              <td>{message.to}</td>
              <td>{message.subject}</td>
              <td>
                <Link to={`/dev/outbox/${message.id}`}>Open</Link>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </main>
  );
}
