// Delivers the OutgoingMail table. A message stays pending until a transport accepts it; failures
// are retried with growing delays, and a conditional claim keeps two instances from sending it twice.
import { db } from "../db.server.ts";
import { env } from "../env.server.ts";
import { transportFromEnv, type MailTransport } from "./transport.server.ts";

const BATCH = 50;
// Longer than the SMTP timeouts together, so that a claim never expires during a send.
const LEASE_MS = 2 * 60_000;
const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 60 * 60_000;

/** The wait after the nth failed attempt: 10 s, 20 s, 40 s … up to one hour. */
export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(attempts - 1, 0), MAX_RETRY_MS);
}

export async function deliverDueMail(now = new Date(), transport: MailTransport = transportFromEnv()): Promise<{ sent: number; failed: number }> {
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
      console.warn(`Mail ${mail.id} (${mail.template}) was not delivered, attempt ${attempts}: ${message}`);
      failed++;
      continue;
    }
    await db.outgoingMail.update({ where: { id: mail.id }, data: { status: "sent", sentAt: new Date(), lastError: null } });
    sent++;
  }
  return { sent, failed };
}

// Kept on globalThis: in development Vite loads a second copy of this module for the routes,
// and queueEmail there must reach the worker that server/index.ts started.
type WorkerState = { started: number; running: Promise<void> | null; again: boolean; transport?: MailTransport };
const state = ((globalThis as unknown as { portalMailWorker?: WorkerState }).portalMailWorker ??= {
  started: 0,
  running: null,
  again: false,
});

async function drain() {
  do {
    state.again = false;
    try {
      await deliverDueMail(new Date(), (state.transport ??= transportFromEnv()));
    } catch (error) {
      console.warn(`A mail delivery run stopped early; pending mail is retried on the next run: ${error instanceof Error ? error.message : String(error)}`);
    }
  } while (state.again && state.started > 0);
}

/** Delivers due mail soon, once at a time; resolves when that run ends and never rejects. */
export function kickMailWorker(): Promise<void> {
  if (state.started === 0) return Promise.resolve();
  if (state.running) {
    // Mail queued during a run may have missed its query: run once more afterwards.
    state.again = true;
    return state.running;
  }
  state.running = drain().finally(() => {
    state.running = null;
  });
  return state.running;
}

export function startMailWorker(intervalMs = 5000): () => void {
  state.started++;
  const timer = setInterval(() => void kickMailWorker(), intervalMs);
  timer.unref();
  void kickMailWorker();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    state.started--;
  };
}
