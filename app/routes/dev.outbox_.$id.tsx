// One message of the development outbox. Its links are repeated as plain anchors so that a tester
// (or a browser without JavaScript) can follow a reset link without opening the sandboxed frame.
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { readOutboxMessage, requireOutboxPage } from "~/lib/mail/transport.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.message.subject ?? "Message"} · Outbox (development)` }];

const ENTITIES: Record<string, string> = { "&amp;": "&", "&quot;": '"', "&#x27;": "'", "&#39;": "'", "&lt;": "<", "&gt;": ">" };

/** The distinct http(s) links of an HTML message, in order. */
function linksIn(html: string): string[] {
  const links = [...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1].replace(/&(amp|quot|#x27|#39|lt|gt);/g, (entity) => ENTITIES[entity]));
  return [...new Set(links.filter((link) => /^https?:\/\//i.test(link)))];
}

export async function loader({ params }: LoaderFunctionArgs) {
  requireOutboxPage();
  const file = await readOutboxMessage(params.id);
  if (!file) throw new Response("Not Found", { status: 404 });
  return {
    message: { to: file.to, from: file.from, subject: file.subject, date: file.date, text: file.text, html: file.html },
    links: linksIn(file.html),
  };
}

export default function OutboxMessage() {
  const { message, links } = useLoaderData<typeof loader>();
  return (
    <main>
      <p>
        <Link to="/dev/outbox">Back to the outbox</Link>
      </p>
      <h1>{message.subject}</h1>
      <dl>
        <dt>To</dt>
        <dd>{message.to}</dd>
        <dt>From</dt>
        <dd>{message.from}</dd>
        <dt>Date</dt>
        <dd>
          <time dateTime={message.date}>{message.date.slice(0, 19).replace("T", " ")} UTC</time>
        </dd>
      </dl>
      <h2>Links</h2>
      {links.length === 0 ? (
        <p>This message has no links.</p>
      ) : (
        <ul>
          {links.map((link) => (
            <li key={link}>
              <a href={link}>{link}</a>
            </li>
          ))}
        </ul>
      )}
      <h2>Plain text</h2>
      <pre>{message.text}</pre>
      <h2>HTML</h2>
      <iframe sandbox="" srcDoc={message.html} title={`HTML version of “${message.subject}”`} />
    </main>
  );
}
