// The mail worker. A run first turns recorded forgot-password requests into mail (password-reset.server.ts:
// the per-account work happens here, after the form was answered), then delivers the OutgoingMail table.
// A message stays pending until a transport accepts it; failures are retried with growing delays, and a
// conditional claim keeps two instances from sending it twice. Once accepted, the message's body (which holds
// any one-time link) is emptied: the row stays only as a record of what was sent to whom (docs/decisions/013).
import { db } from "../db.server.ts";
import { env } from "../env.server.ts";
import { log } from "../log.server.ts";
import { metrics } from "../metrics.server.ts";
import { handlePasswordResetRequests } from "../password-reset.server.ts";
import { kickMailWorker, retryDelayMs, workerState } from "./queue.server.ts";
import { transportFromEnv, type MailTransport } from "./transport.server.ts";

export { kickMailWorker, retryDelayMs };

const BATCH = 50;
// Longer than the SMTP timeouts together, so that a claim never expires during a send.
const LEASE_MS = 2 * 60_000;

/** Delivers due mail through `transport`; with none (no SMTP_URL outside demo mode) mail stays queued. */
export async function deliverDueMail(now = new Date(), transport: MailTransport | null = transportFromEnv()): Promise<{ sent: number; failed: number }> {
  if (!transport) return { sent: 0, failed: 0 };
  const due = await db.outgoingMail.findMany({
    where: { status: "pending", nextAttemptAt: { lte: now } },
    orderBy: { createdAt: "asc" },
    take: BATCH,
  });
  const from = env().MAIL_FROM;
  let sent = 0;
  let failed = 0;
  for (const mail of due) {
    // Only the instance whose update still sees the value it read owns the message until the lease ends.
    const claim = await db.outgoingMail.updateMany({
      where: { id: mail.id, status: "pending", nextAttemptAt: mail.nextAttemptAt },
      data: { nextAttemptAt: new Date(now.getTime() + LEASE_MS) },
    });
    if (claim.count !== 1) continue;
    try {
      await transport.send({ id: mail.id, from, to: mail.to, subject: mail.subject, html: mail.html, text: mail.text });
    } catch (error) {
      const attempts = mail.attempts + 1;
      const message = error instanceof Error ? error.message : String(error);
      await db.outgoingMail.update({
        where: { id: mail.id },
        data: { attempts, lastError: message.slice(0, 1000), nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)) },
      });
      log.warn({ mailId: mail.id, template: mail.template, attempts, reason: message }, "A mail was not delivered; it is tried again later");
      metrics.mailFailures.inc();
      failed++;
      continue;
    }
    // The recipient has the link now; a backup of the database must not.
    await db.outgoingMail.update({ where: { id: mail.id }, data: { status: "sent", sentAt: new Date(), lastError: null, html: "", text: "" } });
    metrics.mailSent.inc();
    sent++;
  }
  return { sent, failed };
}

/**
 * Runs the worker in this process: every `intervalMs` and whenever something is queued. `transport` defaults to
 * the configured one (SMTP_URL; the outbox folder in demo mode; none otherwise).
 */
export function startMailWorker(intervalMs = 5000, transport?: MailTransport | null): () => void {
  let chosen = transport;
  // The latest start decides what a run does (a test may start it with its own transport).
  workerState.run = async () => {
    try {
      await handlePasswordResetRequests();
      if (chosen === undefined) chosen = transportFromEnv();
      await deliverDueMail(new Date(), chosen);
    } catch (error) {
      log.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        "A mail delivery run stopped early; pending mail is retried on the next run",
      );
    }
  };
  workerState.started++;
  const timer = setInterval(() => void kickMailWorker(), intervalMs);
  timer.unref();
  void kickMailWorker();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    workerState.started--;
  };
}
