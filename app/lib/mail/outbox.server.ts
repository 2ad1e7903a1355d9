// queueEmail is how the app sends mail: the message is rendered and stored first, then delivered
// by the worker, so a slow or absent SMTP server never fails or delays the request that sent it.
// The stored body holds the message's one-time link only until delivery (worker.server.ts empties it).
import { createElement } from "react";
import type { EmailProps, TemplateName } from "#emails/index.ts";
import { db } from "../db.server.ts";
import { kickMailWorker } from "./queue.server.ts";

export type { EmailProps, TemplateName };

export type RenderedEmail = { subject: string; html: string; text: string };

// React Email and the templates (~45 MiB of RSS once loaded) are loaded at the first mail a process renders,
// not at boot: most processes send mail rarely, and the server would carry them idle (bench/memory.ts).
let renderer: Promise<[typeof import("@react-email/render"), typeof import("#emails/index.ts")]> | undefined;
const loadRenderer = () => (renderer ??= Promise.all([import("@react-email/render"), import("#emails/index.ts")]));

export async function renderEmail<T extends TemplateName>(template: T, props: EmailProps[T]): Promise<RenderedEmail> {
  const [{ render }, { emails }] = await loadRenderer();
  const { subject, component } = emails[template];
  const element = createElement(component, props);
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { subject: subject(props), html, text };
}

// RFC 5321 limits a path to 256 octets; 320 (64 + 1 + 255) is the usual upper bound for an address.
const MAX_ADDRESS = 320;

export async function queueEmail<T extends TemplateName>(to: string, template: T, props: EmailProps[T]): Promise<string> {
  if (typeof to !== "string" || to.length > MAX_ADDRESS || !/^[^\s@]+@[^\s@]+$/.test(to)) {
    throw new Error(`Cannot queue the "${template}" email: the address is not a single email address of at most ${MAX_ADDRESS} characters.`);
  }
  const rendered = await renderEmail(template, props);
  const mail = await db.outgoingMail.create({ data: { to, template, ...rendered } });
  void kickMailWorker();
  return mail.id;
}
