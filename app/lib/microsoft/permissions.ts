// Which Microsoft Graph application permissions an org's use of an integration needs, and which of them the
// tenant's app-only token lacks (its `roles` claim). Sign-in needs none; directory sync reads /users/delta,
// and a group scope also /groups/delta. A broader permission Graph accepts for the same call counts as held.

export type IntegrationUse = { sync: false } | { sync: true; groupScope: boolean };

const ACCEPTED: Record<string, string[]> = {
  "User.Read.All": ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  "GroupMember.Read.All": [
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
  ],
};

export function neededPermissions(use: IntegrationUse): string[] {
  if (!use.sync) return [];
  return use.groupScope ? ["User.Read.All", "GroupMember.Read.All"] : ["User.Read.All"];
}

/** The needed permissions that `granted` (the token's roles) does not cover, in a stable order. */
export function missingPermissions(use: IntegrationUse, granted: readonly string[]): string[] {
  const held = new Set(granted);
  return neededPermissions(use).filter((permission) => !ACCEPTED[permission]!.some((p) => held.has(p)));
}

const list = (names: string[]) => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`);

/** The sentence an admin reads: what is missing, what for, and who can grant it. */
export function missingPermissionsSentence(use: IntegrationUse, missing: string[]): string {
  const what = use.sync && use.groupScope ? "Entra ID Sync with a group scope" : "Entra ID Sync";
  return (
    `The app lacks the Microsoft Graph application permission${missing.length > 1 ? "s" : ""} ${list(missing)} in this tenant, ` +
    `which ${what} needs. An admin of the tenant must grant ${missing.length > 1 ? "them" : "it"} (Grant permissions, on the integration's page).`
  );
}
