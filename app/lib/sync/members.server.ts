// A group scope: membership comes from /groups/delta (members@delta), the members' attributes from a
// lookup on /users/delta (membership changes carry only IDs). Deletions are noticed on the users side: a
// soft-deleted user stays a member until permanently deleted.
import { applyUsers, addCounts, noCounts, type Counts, type SyncScope } from "./apply.server.ts";
import type { GraphPage } from "./graph.server.ts";
import type { Tx } from "./lock.server.ts";
import { isObjectId, readDirectoryUser, type DirectoryUser } from "./records.server.ts";

export type MemberChanges = {
  /** The group itself was in the page (a full round that never lists it means the group does not exist). */
  groupListed: boolean;
  groupDeleted: boolean;
  added: string[];
  removed: string[];
};

/** The scope group's membership changes in a /groups/delta page; nested groups and devices are not users. */
export function readMemberChanges(page: GraphPage, groupId: string): MemberChanges {
  const changes: MemberChanges = { groupListed: false, groupDeleted: false, added: [], removed: [] };
  for (const group of page.value) {
    if (typeof group.id !== "string" || group.id.toLowerCase() !== groupId) continue;
    changes.groupListed = true;
    if (group["@removed"]) changes.groupDeleted = true;
    const members = group["members@delta"];
    if (!Array.isArray(members)) continue;
    for (const member of members as Record<string, unknown>[]) {
      if (!member || !isObjectId(member.id)) continue;
      const type = member["@odata.type"];
      if (type !== undefined && type !== "#microsoft.graph.user") continue;
      (member["@removed"] ? changes.removed : changes.added).push(member.id.toLowerCase());
    }
  }
  return changes;
}

/**
 * Applies membership changes, given the current records of the members added (`records`, from a users
 * lookup). A member who did not come back from the lookup is soft-deleted (or unknown): one the portal
 * knows stays in scope, deactivated, so that restoring them in Entra brings them back.
 */
export async function applyMemberChanges(tx: Tx, scope: SyncScope, changes: MemberChanges, records: Map<string, Record<string, unknown>>): Promise<Counts> {
  const added = changes.added.map((oid): DirectoryUser => {
    const record = records.get(oid);
    return (record && readDirectoryUser(record)) || { oid, removed: "soft", raw: {} };
  });
  const removed = changes.removed.map((oid): DirectoryUser => ({ oid, removed: "left_scope", raw: {} }));
  let counts = noCounts();
  if (added.length) counts = addCounts(counts, await applyUsers(tx, scope, added, true));
  if (removed.length) counts = addCounts(counts, await applyUsers(tx, scope, removed, false));
  return counts;
}
