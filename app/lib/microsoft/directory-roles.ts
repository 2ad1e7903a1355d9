// The built-in Microsoft Entra directory roles that can grant tenant-wide admin consent to a multi-tenant app.
// Registering a tenant needs a sign-in by a holder of one of them (decision 015). Template IDs are the same in
// every tenant; the id_token's `wids` claim lists the holder's roles by these IDs.

export const CONSENT_ADMIN_ROLES = [
  { id: "62e90394-69f5-4237-9190-012177145e10", name: "Global Administrator" },
  { id: "e8611ab8-c189-46e8-94e1-60213ab1f814", name: "Privileged Role Administrator" },
  { id: "158c047a-c907-4556-b7ef-446551a6b5f7", name: "Cloud Application Administrator" },
  { id: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", name: "Application Administrator" },
] as const;

export type ConsentAdminRole = (typeof CONSENT_ADMIN_ROLES)[number];

/** The first consent-capable role among `roleIds` (template IDs, any case), or null. */
export function consentAdminRole(roleIds: readonly string[]): ConsentAdminRole | null {
  const held = new Set(roleIds.map((r) => r.toLowerCase()));
  return CONSENT_ADMIN_ROLES.find((role) => held.has(role.id)) ?? null;
}

export const roleName = (id: string | null | undefined) => CONSENT_ADMIN_ROLES.find((role) => role.id === id)?.name ?? id ?? null;
