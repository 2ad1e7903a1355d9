// The audit log as a tool: filters (event type, actor, affected user, date range), cursor pages, and export of
// the filtered set as CSV or JSON Lines, streamed page by page so that a million events need no more memory
// than one page. Always within one org. See docs/decisions/023-audit-log.md.
import { z } from "zod";
import type { Prisma } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { ACTION_GROUPS, describeEvent, KNOWN_ACTIONS } from "./audit-sentences.ts";
import { csvLine } from "./csv.ts";

export const AUDIT_PAGE_SIZE = 50;
const EXPORT_BATCH = 1000;
const MATCHED_USERS = 50;

const date = z
  .string()
  .trim()
  .regex(/^$|^\d{4}-\d{2}-\d{2}$/, { error: "Enter dates as YYYY-MM-DD." })
  .refine((s) => !s || !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), { error: "That is not a date in the calendar." });

export const auditFilterSchema = z
  .object({
    type: z
      .string()
      .trim()
      .max(80)
      .refine((t) => !t || t in ACTION_GROUPS || KNOWN_ACTIONS.includes(t), { error: "Choose an event type from the list." })
      .default(""),
    actor: z.string().trim().max(100, { error: "Search for a name or email address of at most 100 characters." }).default(""),
    user: z.string().trim().max(100, { error: "Search for a name or email address of at most 100 characters." }).default(""),
    from: date.default(""),
    to: date.default(""),
    cursor: z.string().max(100).default(""),
  })
  .refine((f) => !f.from || !f.to || f.from <= f.to, { error: "The start date is after the end date.", path: ["to"] });

export type AuditFilter = z.infer<typeof auditFilterSchema>;

export type ParsedFilter = { ok: true; filter: AuditFilter } | { ok: false; filter: Record<string, string>; errors: Record<string, string> };

/** The filter from a URL's query; what was typed comes back with the errors, so the form keeps it. */
export function parseAuditFilter(params: URLSearchParams): ParsedFilter {
  const raw = Object.fromEntries([...params].filter(([k]) => ["type", "actor", "user", "from", "to", "cursor"].includes(k)));
  const parsed = auditFilterSchema.safeParse(raw);
  if (parsed.success) return { ok: true, filter: parsed.data };
  const errors: Record<string, string> = {};
  for (const issue of parsed.error.issues) errors[String(issue.path[0] ?? "form")] ??= issue.message;
  const kept = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v).slice(0, 100)]));
  return { ok: false, filter: kept, errors };
}

type Cursor = { at: Date; id: string };

function readCursor(text: string): Cursor | null {
  const match = /^(\d{1,15})\.([a-z0-9]{1,40})$/.exec(text);
  return match ? { at: new Date(Number(match[1])), id: match[2]! } : null;
}

const writeCursor = (e: { createdAt: Date; id: string }) => `${e.createdAt.getTime()}.${e.id}`;

/** The org's users whose email is the text, or whose name or email holds it. */
async function matchingUsers(orgId: string, text: string): Promise<string[]> {
  const rows = await db.user.findMany({
    where: { orgId, OR: [{ email: text.toLowerCase() }, { name: { contains: text } }, { email: { contains: text.toLowerCase() } }] },
    select: { id: true },
    take: MATCHED_USERS,
  });
  return rows.map((r) => r.id);
}

/** Disjoint conditions whose results together are the filtered events: each one can walk its own index. */
export type AuditQuery = { wheres: Prisma.AuditEventWhereInput[]; unmatched: ("actor" | "user")[] };

/** The filter as a query on the org's events; a name that matches nobody is reported, and matches nothing. */
export async function auditWhere(orgId: string, filter: AuditFilter): Promise<AuditQuery> {
  const and: Prisma.AuditEventWhereInput[] = [{ orgId }];
  const unmatched: AuditQuery["unmatched"] = [];
  if (filter.type)
    and.push(filter.type in ACTION_GROUPS ? { OR: [{ action: filter.type }, { action: { startsWith: `${filter.type}.` } }] } : { action: filter.type });
  if (filter.actor) {
    const ids = await matchingUsers(orgId, filter.actor);
    if (!ids.length) unmatched.push("actor");
    and.push({ actorId: { in: ids } });
  }
  let alternatives: Prisma.AuditEventWhereInput[] = [{}];
  if (filter.user) {
    const ids = await matchingUsers(orgId, filter.user);
    if (!ids.length) unmatched.push("user");
    // The affected user: the target, or the actor of what a user does to their own account (a sign-in). Two
    // queries rather than one OR, which the databases answer by scanning every event of the org.
    alternatives = [
      { targetType: "user", targetId: { in: ids } },
      { targetId: null, actorId: { in: ids } },
    ];
  }
  if (filter.from) and.push({ createdAt: { gte: new Date(`${filter.from}T00:00:00Z`) } });
  if (filter.to) and.push({ createdAt: { lt: new Date(Date.parse(`${filter.to}T00:00:00Z`) + 24 * 3600_000) } });
  return { wheres: alternatives.map((alternative) => ({ AND: [...and, alternative] })), unmatched };
}

// Older than the cursor. The range on createdAt comes first so that the database walks the index from the cursor
// on; an OR alone would make it start from the newest event again for every page (quadratic over an export).
const after = (c: Cursor): Prisma.AuditEventWhereInput => ({ createdAt: { lte: c.at }, OR: [{ createdAt: { lt: c.at } }, { id: { lt: c.id } }] });

export type AuditRow = {
  id: string;
  at: string;
  action: string;
  result: string;
  sentence: string;
  actorName: string | null;
  actorEmail: string | null;
  affected: string | null;
  address: string | null;
  device: string | null;
  detail: Record<string, unknown>;
};

type EventRow = Prisma.AuditEventGetPayload<{ include: { actor: { select: { name: true; email: true } } } }>;

function parseDetail(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { text };
  }
}

/** One batch of events with the names of whom they affected (users and integrations of the same org). */
async function withSentences(orgId: string, events: EventRow[]): Promise<AuditRow[]> {
  const ids = (type: string) => [...new Set(events.filter((e) => e.targetType === type && e.targetId).map((e) => e.targetId!))];
  const [users, integrations] = await Promise.all([
    db.user.findMany({ where: { orgId, id: { in: ids("user") } }, select: { id: true, name: true } }),
    db.integration.findMany({ where: { orgId, id: { in: ids("integration") } }, select: { id: true, displayName: true, tenantId: true } }),
  ]);
  const names = new Map<string, string>([
    ...users.map((u) => [u.id, u.name] as [string, string]),
    ...integrations.map((i) => [i.id, i.displayName ?? i.tenantId] as [string, string]),
  ]);
  return events.map((e) => {
    const detail = parseDetail(e.detail);
    const affected = e.targetId ? (names.get(e.targetId) ?? null) : null;
    return {
      id: e.id,
      at: e.createdAt.toISOString(),
      action: e.action,
      result: e.result,
      sentence: describeEvent({ action: e.action, result: e.result, detail, actor: e.actor?.name ?? null, target: affected }),
      actorName: e.actor?.name ?? null,
      actorEmail: e.actor?.email ?? null,
      affected,
      address: e.ipAddress,
      device: e.device,
      detail,
    };
  });
}

/** The next `take` events after the cursor, newest first, from each condition merged. */
async function batch(wheres: Prisma.AuditEventWhereInput[], cursor: Cursor | null, take: number): Promise<EventRow[]> {
  const parts = await Promise.all(
    wheres.map((where) =>
      db.auditEvent.findMany({
        where: cursor ? { AND: [where, after(cursor)] } : where,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take,
        include: { actor: { select: { name: true, email: true } } },
      }),
    ),
  );
  if (parts.length === 1) return parts[0]!;
  const newestFirst = (a: EventRow, b: EventRow) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  return parts.flat().sort(newestFirst).slice(0, take);
}

export type AuditPage = { rows: AuditRow[]; next: string | null; unmatched: AuditQuery["unmatched"]; badCursor: boolean };

/** One page of the filtered events, newest first, and the cursor of the next (older) page. */
export async function auditPage(orgId: string, filter: AuditFilter): Promise<AuditPage> {
  const { wheres, unmatched } = await auditWhere(orgId, filter);
  const cursor = filter.cursor ? readCursor(filter.cursor) : null;
  const events = await batch(wheres, cursor, AUDIT_PAGE_SIZE + 1);
  const page = events.slice(0, AUDIT_PAGE_SIZE);
  return {
    rows: await withSentences(orgId, page),
    next: events.length > AUDIT_PAGE_SIZE ? writeCursor(page.at(-1)!) : null,
    unmatched,
    badCursor: Boolean(filter.cursor) && !cursor,
  };
}

export type ExportFormat = "csv" | "jsonl";

const CSV_COLUMNS = ["time_utc", "event", "action", "result", "actor_name", "actor_email", "affected", "address", "device", "detail"] as const;

function line(format: ExportFormat, r: AuditRow): string {
  if (format === "jsonl") return `${JSON.stringify(r)}\n`;
  const cells = [r.at, r.sentence, r.action, r.result, r.actorName, r.actorEmail, r.affected, r.address, r.device, JSON.stringify(r.detail)];
  return csvLine(cells);
}

/**
 * The filtered events as a stream of CSV or JSON Lines, newest first, read one batch ahead of what the client
 * has taken (a pull stream): memory stays at one batch however many events there are.
 */
export async function auditExport(orgId: string, filter: AuditFilter, format: ExportFormat): Promise<ReadableStream<Uint8Array>> {
  const { wheres } = await auditWhere(orgId, filter);
  const encoder = new TextEncoder();
  let cursor: Cursor | null = null;
  let header = format === "csv";
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (header) {
          header = false;
          controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
        }
        const events = await batch(wheres, cursor, EXPORT_BATCH);
        if (events.length) {
          cursor = { at: events.at(-1)!.createdAt, id: events.at(-1)!.id };
          const rows = await withSentences(orgId, events);
          controller.enqueue(encoder.encode(rows.map((r) => line(format, r)).join("")));
        }
        if (events.length < EXPORT_BATCH) controller.close();
      },
    },
    { highWaterMark: 1 },
  );
}
