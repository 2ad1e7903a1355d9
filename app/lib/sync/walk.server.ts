// The pages of one run. Each page is written in one transaction together with the run's counts and the link
// to the next page (SyncRun.resumeLink), after renewing the lease: a run that crashes resumes from the last
// written page and writes nothing twice; a run that lost its lease writes nothing at all.
//
// Tenant scope: /users/delta. Group scope: /groups/delta for membership, then /users/delta for the members'
// changes and deletions. A phase without a stored delta link is a full round, ended by a sweep.
import type { Integration } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";
import { addCounts, applyUsers, noCounts, type Counts, type SyncScope } from "./apply.server.ts";
import { deltaPages, groupMembersDeltaStart, latestUsersDeltaLink, usersById, usersDeltaStart, type GraphPage, type ReaderOptions } from "./graph.server.ts";
import { renewLease, type Tx } from "./lock.server.ts";
import { applyMemberChanges, readMemberChanges } from "./members.server.ts";
import { readDirectoryUser, type DirectoryUser } from "./records.server.ts";
import { markUnseen, sweep } from "./sweep.server.ts";

const TX = { timeout: 60_000, maxWait: 30_000 };

export class GroupNotFoundError extends Error {
  constructor(groupId: string) {
    super(
      `The group ${groupId} was not found in the tenant (or it was deleted). Nobody was deactivated; check the group's object ID on the Entra ID Sync page.`,
    );
  }
}

type Phase = "users" | "groups";
type LinkField = "usersDeltaLink" | "groupsDeltaLink";

export type Walk = {
  scope: Omit<SyncScope, "now">;
  /** The run's copy of the integration; its delta links are kept up to date as they are stored. */
  integration: Integration;
  holder: string;
  leaseMs: number;
  reader: ReaderOptions;
  counts: Counts;
  pages: number;
  /** Tests stop a run midway here (before a page is written). */
  onPage?: (page: number) => void | Promise<void>;
};

/** Graph's links: a next link carries $skiptoken, a delta link (the end of a round) $deltatoken. */
const isDeltaLink = (link: string) => new URL(link).searchParams.has("$deltatoken");
const phaseOf = (link: string): Phase => (new URL(link).pathname.toLowerCase().endsWith("/groups/delta") ? "groups" : "users");
const scopeNow = (walk: Walk): SyncScope => ({ ...walk.scope, now: new Date() });

/** Runs the scope's phases, continuing from `resume` (the last run's saved next link) when there is one. */
export async function walkScope(walk: Walk, resume: string | null) {
  if (walk.integration.syncScope !== "group") return walkPhase(walk, "users", resume);
  const resumeIn = resume ? phaseOf(resume) : null;
  if (resumeIn !== "users") {
    // Taken before the members are read, so that no change made meanwhile is missed.
    if (!walk.integration.usersDeltaLink) await storeLink(walk, "usersDeltaLink", await latestUsersDeltaLink(walk.scope.tenantId, walk.reader));
    await walkPhase(walk, "groups", resume);
  }
  await walkPhase(walk, "users", resumeIn === "users" ? resume : null);
}

/** Microsoft no longer knows our delta token (410): forget both links and read the scope from the start. */
export async function startOver(walk: Walk) {
  await db.$transaction(async (tx) => {
    await renewLease(tx, walk.scope.integrationId, walk.holder, walk.leaseMs);
    await tx.integration.update({ where: { id: walk.scope.integrationId }, data: { usersDeltaLink: null, groupsDeltaLink: null } });
    await tx.syncRun.update({ where: { id: walk.scope.runId }, data: { resumeLink: null } });
  }, TX);
  walk.integration.usersDeltaLink = null;
  walk.integration.groupsDeltaLink = null;
}

async function walkPhase(walk: Walk, phase: Phase, resume: string | null) {
  const field: LinkField = phase === "users" ? "usersDeltaLink" : "groupsDeltaLink";
  const stored = walk.integration[field];
  const groupScope = walk.integration.syncScope === "group";
  // Only the phase that decides who is in scope can be a full round; a group's users phase always has a link.
  const full = !stored;
  if (full && phase === "users" && groupScope) throw new Error("a group scope's users phase started without a delta link");
  const admit = !groupScope || phase === "groups";
  if (full && !resume) await markUnseen(walk.scope);

  // A full round whose pages are all written resumes at its delta link: only the sweep is left.
  let deltaLink = full && resume && isDeltaLink(resume) ? resume : null;
  if (!deltaLink) {
    const start = resume ?? stored ?? (phase === "users" ? usersDeltaStart() : groupMembersDeltaStart(walk.integration.syncGroupId!));
    let firstOfRound = full && !resume;
    for await (const page of deltaPages(start, walk.scope.tenantId, walk.reader)) {
      const write = phase === "users" ? usersPage(walk, page, admit) : await membersPage(walk, page, firstOfRound);
      firstOfRound = false;
      const last = !page.nextLink;
      await walk.onPage?.(walk.pages + 1);
      await commitPage(walk, write, page.nextLink ?? (full ? page.deltaLink : null), last && !full ? { field, value: page.deltaLink! } : null);
      if (last) deltaLink = page.deltaLink;
    }
  }
  if (!full) return void (walk.integration[field] = deltaLink);
  walk.counts = addCounts(walk.counts, await sweep(scopeNow(walk), walk));
  await commitPage(walk, null, null, { field, value: deltaLink! });
}

function usersPage(walk: Walk, page: GraphPage, admit: boolean): (tx: Tx) => Promise<Counts> {
  const users: DirectoryUser[] = [];
  let unreadable = 0;
  for (const body of page.value) {
    const user = readDirectoryUser(body);
    if (user) users.push(user);
    else unreadable++;
  }
  return async (tx) => {
    const counts = await applyUsers(tx, scopeNow(walk), users, admit);
    return { ...counts, errors: counts.errors + unreadable };
  };
}

async function membersPage(walk: Walk, page: GraphPage, firstOfRound: boolean): Promise<(tx: Tx) => Promise<Counts>> {
  const groupId = walk.integration.syncGroupId!;
  const changes = readMemberChanges(page, groupId);
  // An unknown group lists nothing; a full round of nothing would deactivate everyone.
  if ((firstOfRound && !changes.groupListed) || changes.groupDeleted) throw new GroupNotFoundError(groupId);
  const records = changes.added.length ? await usersById(changes.added, walk.scope.tenantId, walk.reader) : new Map<string, Record<string, unknown>>();
  return (tx) => applyMemberChanges(tx, scopeNow(walk), changes, records);
}

/** One page's writes, the run's progress and where to continue, and the lease: all or nothing. */
async function commitPage(
  walk: Walk,
  write: ((tx: Tx) => Promise<Counts>) | null,
  resumeLink: string | null,
  link: { field: LinkField; value: string } | null,
) {
  const counts = await db.$transaction(async (tx) => {
    await renewLease(tx, walk.scope.integrationId, walk.holder, walk.leaseMs);
    const counts = write ? await write(tx) : noCounts();
    await tx.syncRun.update({
      where: { id: walk.scope.runId },
      data: {
        ...(write ? { pagesDone: { increment: 1 } } : {}),
        created: { increment: counts.created },
        updated: { increment: counts.updated },
        deactivated: { increment: counts.deactivated },
        conflicts: { increment: counts.conflicts },
        errors: { increment: counts.errors },
        resumeLink,
      },
    });
    if (link) await tx.integration.update({ where: { id: walk.scope.integrationId }, data: { [link.field]: link.value } });
    return counts;
  }, TX);
  if (write) walk.pages++;
  walk.counts = addCounts(walk.counts, counts);
  if (link) walk.integration[link.field] = link.value;
}

async function storeLink(walk: Walk, field: LinkField, value: string) {
  await db.$transaction(async (tx) => {
    await renewLease(tx, walk.scope.integrationId, walk.holder, walk.leaseMs);
    await tx.integration.update({ where: { id: walk.scope.integrationId }, data: { [field]: value } });
  }, TX);
  walk.integration[field] = value;
}
