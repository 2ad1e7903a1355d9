// Where mail goes: an SMTP server when SMTP_URL is set; in demo mode without it, a folder of files that the
// outbox page (/dev/outbox) reads back, the demo's mailbox; otherwise nowhere: mail stays queued.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import { env, type Env } from "../env.server.ts";

export type MailMessage = { id: string; from: string; to: string; subject: string; html: string; text: string };

export interface MailTransport {
  send(message: MailMessage): Promise<void>;
}

export function smtpTransport(url: string): MailTransport {
  // Short timeouts: a dead server must fail the attempt quickly so the worker can retry later.
  const transporter = nodemailer.createTransport({ url, connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 10_000 });
  return {
    async send({ from, to, subject, html, text }) {
      await transporter.sendMail({ from, to, subject, html, text });
    },
  };
}

export type OutboxFile = MailMessage & { date: string };

// OutgoingMail ids are cuids; anything else could name a path outside the folder.
const OUTBOX_ID = /^[a-z0-9]{1,40}$/i;

export function isOutboxId(id: unknown): id is string {
  return typeof id === "string" && OUTBOX_ID.test(id);
}

export function outboxTransport(dir: string): MailTransport {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    async send(message) {
      if (!isOutboxId(message.id)) throw new Error(`The mail id "${message.id}" cannot be used as a file name.`);
      const date = new Date().toISOString();
      // Colons and dots are not allowed in Windows file names.
      const base = path.join(dir, `${date.replace(/[:.]/g, "-")}-${message.id}`);
      const { id, ...mail } = message;
      const info = await composer.sendMail(mail);
      await mkdir(dir, { recursive: true });
      await writeFile(`${base}.eml`, info.message as Buffer);
      // The JSON last: the outbox page lists JSON files, so it never shows a half-written message.
      const file: OutboxFile = { id, ...mail, date };
      await writeFile(`${base}.json`, JSON.stringify(file, null, 2));
    },
  };
}

/** null: no SMTP_URL outside demo mode, so mail stays queued until SMTP_URL is set (docs/decisions/013). */
export function transportFromEnv(config: Env = env()): MailTransport | null {
  if (config.SMTP_URL) return smtpTransport(config.SMTP_URL);
  return config.demo ? outboxTransport(config.OUTBOX_DIR) : null;
}

/** The outbox page lists every message with its sign-in links: only in demo mode, which production refuses. */
export function outboxPageEnabled(config: Env = env()): boolean {
  return config.demo;
}

export function requireOutboxPage() {
  if (!outboxPageEnabled()) throw new Response("Not Found", { status: 404 });
}

async function outboxFileNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith(".json"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function readOutboxFile(dir: string, name: string): Promise<OutboxFile | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, name), "utf8")) as OutboxFile;
  } catch {
    return null;
  }
}

/** The newest messages first; names start with the timestamp, so they sort by date. */
export async function listOutbox(dir = env().OUTBOX_DIR, limit = 200): Promise<OutboxFile[]> {
  const names = (await outboxFileNames(dir)).sort().reverse().slice(0, limit);
  const files = await Promise.all(names.map((name) => readOutboxFile(dir, name)));
  return files.filter((file): file is OutboxFile => file !== null);
}

export async function readOutboxMessage(id: unknown, dir = env().OUTBOX_DIR): Promise<OutboxFile | null> {
  if (!isOutboxId(id)) return null;
  const name = (await outboxFileNames(dir)).find((candidate) => candidate.endsWith(`-${id}.json`));
  return name ? readOutboxFile(dir, name) : null;
}
