// What the portal counts for Prometheus (prom-client), served at /metrics (server/operations.ts). Each instance
// counts its own: several instances are scraped one by one and summed in queries. WEB_CONCURRENCY's processes
// share one port, so the one a scrape meets answers for all of them (summed by the primary).
// The README's "Logs and metrics" says what each one means.
import cluster from "node:cluster";
import { randomUUID } from "node:crypto";
import client from "prom-client";
import { db } from "./db.server.ts";
import { processWide } from "./process-wide.server.ts";

export type SignInMethod = "password" | "totp" | "recovery" | "microsoft";
/** success; failure: wrong credentials or a refused identity; blocked: refused unchecked by the throttle; locked: the password is locked. */
export type SignInOutcome = "success" | "failure" | "blocked" | "locked";
/** What Microsoft answered: ok (2xx, 3xx), rejected (4xx but 429), throttled (429), server_error (5xx), timeout, unreachable. */
export type MicrosoftOutcome = "ok" | "rejected" | "throttled" | "server_error" | "timeout" | "unreachable";

const SECONDS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function create() {
  const registry = client.register;
  return {
    registry,
    signIns: new client.Counter({
      name: "portal_sign_ins_total",
      help: "Sign-in steps by method (password, totp, recovery, microsoft) and outcome (success, failure, blocked, locked).",
      labelNames: ["method", "outcome"] as const,
    }),
    throttleBlocks: new client.Counter({
      name: "portal_throttle_blocks_total",
      help: "Password and code attempts the throttle refused before checking them (sign-ins, step-ups, factor changes), by reason (wait, locked).",
      labelNames: ["reason"] as const,
    }),
    microsoftRequests: new client.Counter({
      name: "portal_microsoft_requests_total",
      help: "Requests to Microsoft (sign-in, consent, Graph) by endpoint and outcome.",
      labelNames: ["endpoint", "outcome"] as const,
    }),
    microsoftSeconds: new client.Histogram({
      name: "portal_microsoft_request_duration_seconds",
      help: "How long Microsoft took to answer, by endpoint (timeouts and unreachable hosts included).",
      labelNames: ["endpoint"] as const,
      buckets: SECONDS,
    }),
    syncRuns: new client.Counter({
      name: "portal_sync_runs_total",
      help: "Entra ID Sync runs that ended, by outcome (succeeded, failed).",
      labelNames: ["outcome"] as const,
    }),
    syncSeconds: new client.Histogram({
      name: "portal_sync_run_duration_seconds",
      help: "How long an Entra ID Sync run took, from its start to its recorded end.",
      buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    }),
    syncPages: new client.Counter({ name: "portal_sync_pages_total", help: "Graph pages written by Entra ID Sync runs." }),
    syncUsers: new client.Counter({
      name: "portal_sync_users_total",
      help: "Users Entra ID Sync created, updated or deactivated, by change.",
      labelNames: ["change"] as const,
    }),
    mailSent: new client.Counter({ name: "portal_mail_sent_total", help: "Mails delivered to the SMTP server (or the outbox folder)." }),
    mailFailures: new client.Counter({
      name: "portal_mail_delivery_failures_total",
      help: "Delivery attempts that failed; the mail stays queued and is tried again later.",
    }),
    mailQueue: new client.Gauge({
      name: "portal_mail_queue_depth",
      help: "Mails waiting to be delivered (all instances: read from the database at each scrape).",
      aggregator: "max",
      async collect() {
        await readMailQueue();
      },
    }),
    mailOldest: new client.Gauge({
      name: "portal_mail_queue_oldest_seconds",
      help: "Age of the oldest mail waiting to be delivered; 0 when none waits.",
      aggregator: "max",
      async collect() {
        await readMailQueue();
      },
    }),
    databaseUnavailable: new client.Counter({
      name: "portal_database_unavailable_total",
      help: "Requests answered 503 because the database was unavailable.",
    }),
  };
}

export const metrics = processWide("metrics", create);

// Both gauges come from one query; the registry collects them side by side, so they share the read in flight.
let reading: Promise<void> | null = null;
function readMailQueue(): Promise<void> {
  reading ??= queryMailQueue().finally(() => (reading = null));
  return reading;
}

async function queryMailQueue() {
  try {
    const queue = await db.outgoingMail.aggregate({ where: { status: "pending" }, _count: { _all: true }, _min: { createdAt: true } });
    metrics.mailQueue.set(queue._count._all);
    const oldest = queue._min.createdAt;
    metrics.mailOldest.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
  } catch {
    // The database is unavailable: the scrape still answers, with the last values (portal_database_unavailable_total and /healthz say why).
  }
}

/** Node's own figures (memory, CPU, event loop lag, GC) for this process; the server turns them on. */
export function collectProcessMetrics() {
  processWide("processMetrics", () => {
    client.collectDefaultMetrics({ register: metrics.registry });
    // One of WEB_CONCURRENCY's processes: answers the primary's requests for its figures.
    if (cluster.isWorker) new client.AggregatorRegistry();
    return true;
  });
}

type Text = { contentType: string; body: string };
const ASK = "portal:metrics";
const ANSWER = "portal:metrics:answer";

/** The Prometheus text of this process's metrics, or of all WEB_CONCURRENCY processes. */
export async function metricsText(): Promise<Text> {
  if (cluster.isWorker) return askPrimary();
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

function askPrimary(): Promise<Text> {
  return new Promise((resolve, reject) => {
    const id = randomUUID();
    const done = (message: { type?: string; id?: string; error?: string } & Partial<Text>) => {
      if (message?.type !== ANSWER || message.id !== id) return;
      process.off("message", done);
      clearTimeout(timer);
      if (message.error) reject(new Error(message.error));
      else resolve({ contentType: message.contentType!, body: message.body! });
    };
    const timer = setTimeout(() => {
      process.off("message", done);
      reject(new Error("The primary process did not send the metrics of the server processes within 5 s."));
    }, 5000);
    process.on("message", done);
    process.send!({ type: ASK, id });
  });
}

/** In the primary of WEB_CONCURRENCY's processes: sums every process's figures for the one a scrape reached. */
export function answerForWorkers() {
  const aggregator = new client.AggregatorRegistry();
  cluster.on("message", (worker, message: { type?: string; id?: string }) => {
    if (message?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: ANSWER, id: message.id, contentType: aggregator.contentType, body }),
      (error: Error) => worker.send({ type: ANSWER, id: message.id, error: error.message }),
    );
  });
}

/** Times one request to Microsoft and counts its outcome; `classify` reads the outcome from the answer or the error. */
export async function measureMicrosoft<T>(
  endpoint: string,
  call: () => Promise<T>,
  classify: (result: { value?: T; error?: unknown }) => MicrosoftOutcome,
): Promise<T> {
  const stop = metrics.microsoftSeconds.startTimer({ endpoint });
  try {
    const value = await call();
    metrics.microsoftRequests.inc({ endpoint, outcome: classify({ value }) });
    return value;
  } catch (error) {
    metrics.microsoftRequests.inc({ endpoint, outcome: classify({ error }) });
    throw error;
  } finally {
    stop();
  }
}
