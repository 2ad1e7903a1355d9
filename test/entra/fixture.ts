// What the stand-in for Microsoft Entra ID starts with: one multi-tenant app registration and the tenants
// (directories) that can sign in to it, with their users, admins, groups and whether an admin has consented.

export type FixtureUser = {
  /** Object ID: with the tenant ID, the only identity key the app may use. */
  oid: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string | null;
  givenName?: string | null;
  surname?: string | null;
  mobilePhone?: string | null;
  jobTitle?: string | null;
  accountEnabled: boolean;
  /** May grant admin consent for the tenant (a Global or Cloud Application Administrator). */
  isAdmin: boolean;
  /**
   * Directory role template IDs the user holds (the id_token's `wids`); when absent, Global Administrator
   * for an admin and none for the others.
   */
  directoryRoles?: string[];
};

/** Built-in directory role template IDs (the same in every tenant), by name. */
export const ROLE = {
  globalAdministrator: "62e90394-69f5-4237-9190-012177145e10",
  privilegedRoleAdministrator: "e8611ab8-c189-46e8-94e1-60213ab1f814",
  cloudApplicationAdministrator: "158c047a-c907-4556-b7ef-446551a6b5f7",
  applicationAdministrator: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
  userAdministrator: "fe930be7-5e62-47db-91af-98c3a49a38b1",
  /** Every member user holds it; Entra lists it in `wids` too. */
  defaultUser: "b79fbf4d-3ef9-4689-8143-76b194e85509",
} as const;

export const ROLE_NAMES: Record<string, string> = {
  [ROLE.globalAdministrator]: "Global Administrator",
  [ROLE.privilegedRoleAdministrator]: "Privileged Role Administrator",
  [ROLE.cloudApplicationAdministrator]: "Cloud Application Administrator",
  [ROLE.applicationAdministrator]: "Application Administrator",
  [ROLE.userAdministrator]: "User Administrator",
};

/** The directory roles a user holds, as the id_token's `wids` lists them (without the default user role). */
export const directoryRolesOf = (user: Pick<FixtureUser, "isAdmin" | "directoryRoles">): string[] =>
  user.directoryRoles ?? (user.isAdmin ? [ROLE.globalAdministrator] : []);

export type FixtureGroup = { id: string; displayName: string; mail?: string | null; members: string[] };

export type FixtureTenant = {
  id: string;
  displayName: string;
  /** The first *.onmicrosoft.com domain is the initial one; `defaultDomain` or else the last domain is the default. */
  domains: string[];
  defaultDomain?: string;
  users: FixtureUser[];
  groups?: FixtureGroup[];
  /** An admin of this tenant has already consented to the fixture's app. */
  adminConsent?: boolean;
  /** This many more users, made up on demand (user00001@initial-domain …) so that big tenants cost no memory. */
  syntheticUsers?: number;
};

export type AppRegistration = {
  clientId: string;
  clientSecret: string;
  displayName: string;
  /** Allowed redirect URIs; when absent, any http(s) URI on localhost or 127.0.0.1 is accepted. */
  redirectUris?: string[];
  /** The manifest's groupMembershipClaims: "DirectoryRole" or "All" puts `wids` into id_tokens (Entra's default is none). */
  groupMembershipClaims?: "None" | "SecurityGroup" | "DirectoryRole" | "All";
};

export type Fixture = { app: AppRegistration; tenants: FixtureTenant[] };

export const STANDIN_APP: AppRegistration = {
  clientId: "4333d23b-8f47-4ad6-bc49-80f8893889a1",
  clientSecret: "standin~Secret.NotForProduction-7Qx2",
  displayName: "Sign-in portal (demo)",
  groupMembershipClaims: "DirectoryRole",
};

/** The linking model: users link their Microsoft account after password + TOTP. */
export const CONTOSO: FixtureTenant = {
  id: "abd0e3c2-466b-4402-8988-abfcac3ed307",
  displayName: "Contoso",
  domains: ["contoso.onmicrosoft.com", "contoso.com"],
  adminConsent: true,
  users: [
    {
      oid: "79d199be-4abb-44de-9b90-a899fe427bfa",
      displayName: "Adele Vance",
      givenName: "Adele",
      surname: "Vance",
      userPrincipalName: "adele@contoso.com",
      mail: "adele@contoso.com",
      jobTitle: "IT Administrator",
      mobilePhone: "+1 425 555 0101",
      accountEnabled: true,
      isAdmin: true,
    },
    {
      oid: "4b450d5b-6425-4736-8c25-715b3f6172ef",
      displayName: "Alex Wilber",
      givenName: "Alex",
      surname: "Wilber",
      userPrincipalName: "alex@contoso.com",
      mail: "alex@contoso.com",
      jobTitle: "Marketing Assistant",
      accountEnabled: true,
      isAdmin: false,
    },
    {
      oid: "03247f43-3fe9-4642-b18c-4b9b5bc06b1f",
      displayName: "Megan Bowen",
      givenName: "Megan",
      surname: "Bowen",
      userPrincipalName: "megan@contoso.com",
      mail: "megan@contoso.com",
      jobTitle: "Marketing Manager",
      mobilePhone: "+1 412 555 0109",
      accountEnabled: true,
      isAdmin: false,
      directoryRoles: [ROLE.userAdministrator],
    },
    {
      oid: "ea7cd55b-9422-494d-a3c5-d8c6d6abd57c",
      displayName: "Lee Gu",
      givenName: "Lee",
      surname: "Gu",
      userPrincipalName: "lee@contoso.com",
      mail: "lee@contoso.com",
      jobTitle: "Director",
      accountEnabled: true,
      isAdmin: false,
    },
    {
      oid: "c1470fbe-fc4e-4d63-9654-30b272e84568",
      displayName: "Diego Siciliani",
      givenName: "Diego",
      surname: "Siciliani",
      userPrincipalName: "diego@contoso.com",
      mail: "diego@contoso.com",
      jobTitle: "HR Manager",
      accountEnabled: false,
      isAdmin: false,
    },
  ],
};

/** The sync model: users come from Graph /users/delta (and the "Portal users" group). */
export const FABRIKAM: FixtureTenant = {
  id: "fc019b49-c592-4d2a-bed9-a89d883fc1dc",
  displayName: "Fabrikam",
  domains: ["fabrikam.onmicrosoft.com", "fabrikam.com"],
  adminConsent: true,
  users: [
    {
      oid: "920cc7d5-6b78-4d01-b7b6-cb9406808778",
      displayName: "Nestor Wilke",
      givenName: "Nestor",
      surname: "Wilke",
      userPrincipalName: "nestor@fabrikam.com",
      mail: "nestor@fabrikam.com",
      jobTitle: "Global Administrator",
      mobilePhone: "+1 206 555 0110",
      accountEnabled: true,
      isAdmin: true,
    },
    {
      oid: "99f41388-2d5d-4ab3-903f-438c3da68ef1",
      displayName: "Patti Fernandez",
      givenName: "Patti",
      surname: "Fernandez",
      userPrincipalName: "patti@fabrikam.com",
      mail: "patti@fabrikam.com",
      jobTitle: "President",
      mobilePhone: "+1 206 555 0111",
      accountEnabled: true,
      isAdmin: false,
    },
    {
      oid: "71b0b5c9-9ad2-4415-a37e-d088cc4411e5",
      displayName: "Johanna Lorenz",
      givenName: "Johanna",
      surname: "Lorenz",
      userPrincipalName: "johanna@fabrikam.com",
      mail: "johanna@fabrikam.com",
      jobTitle: "Senior Engineer",
      accountEnabled: true,
      isAdmin: false,
    },
    {
      oid: "58f31546-f121-499b-b37d-1d69413aaed7",
      displayName: "Pradeep Gupta",
      givenName: "Pradeep",
      surname: "Gupta",
      userPrincipalName: "pradeep@fabrikam.com",
      mail: "pradeep@fabrikam.com",
      jobTitle: "Accountant",
      accountEnabled: true,
      isAdmin: false,
    },
    // No mailbox: sync must cope with a user who has no email address.
    {
      oid: "314d5fd9-b971-4973-97d1-470fc006e1db",
      displayName: "Lidia Holloway",
      givenName: "Lidia",
      surname: "Holloway",
      userPrincipalName: "lidia@fabrikam.com",
      mail: null,
      jobTitle: "Product Manager",
      mobilePhone: "+1 206 555 0114",
      accountEnabled: true,
      isAdmin: false,
    },
  ],
  groups: [
    {
      id: "29b697a7-d452-46b7-9550-ff5cdc3a9ffa",
      displayName: "Portal users",
      members: ["99f41388-2d5d-4ab3-903f-438c3da68ef1", "71b0b5c9-9ad2-4415-a37e-d088cc4411e5", "314d5fd9-b971-4973-97d1-470fc006e1db"],
    },
    // For picking a group by name: a second "Portal …" group, and a name with a quote, a backslash and an ampersand.
    { id: "5d0b6a8e-3f2c-4e1a-9b7d-2c4f6e8a0b13", displayName: "Portal admins", mail: "portal-admins@fabrikam.com", members: [] },
    { id: "b3e1c9d2-7a64-4f08-8e5b-91a2c3d4e5f6", displayName: 'Sales "West" \\ R&D', mail: null, members: ["71b0b5c9-9ad2-4415-a37e-d088cc4411e5"] },
  ],
};

/** A tenant whose admin has not consented yet: client credentials fail until someone approves. */
export const NORTHWIND: FixtureTenant = {
  id: "c7c05269-6432-4cd1-a144-a3cfdb272279",
  displayName: "Northwind Traders",
  domains: ["northwind.onmicrosoft.com", "northwindtraders.com"],
  adminConsent: false,
  users: [
    {
      oid: "881aff76-54e2-4f92-81cd-96b8be85b33c",
      displayName: "Nancy Davolio",
      givenName: "Nancy",
      surname: "Davolio",
      userPrincipalName: "nancy@northwindtraders.com",
      mail: "nancy@northwindtraders.com",
      jobTitle: "IT Administrator",
      accountEnabled: true,
      isAdmin: true,
    },
    {
      oid: "4b739363-d58d-4fad-a450-394f184e959b",
      displayName: "Andrew Fuller",
      givenName: "Andrew",
      surname: "Fuller",
      userPrincipalName: "andrew@northwindtraders.com",
      mail: "andrew@northwindtraders.com",
      jobTitle: "Vice President, Sales",
      accountEnabled: true,
      isAdmin: false,
    },
    {
      oid: "d7b7391f-b834-4111-919e-d6f5103ac904",
      displayName: "Janet Leverling",
      givenName: "Janet",
      surname: "Leverling",
      userPrincipalName: "janet@northwindtraders.com",
      mail: "janet@northwindtraders.com",
      jobTitle: "Sales Representative",
      accountEnabled: true,
      isAdmin: false,
    },
  ],
};

/** A fresh copy of the default fixture (safe to modify). */
export function defaultFixture(): Fixture {
  return structuredClone({ app: STANDIN_APP, tenants: [CONTOSO, FABRIKAM, NORTHWIND] });
}

/** A consented tenant of `users` users in all: one admin and `users - 1` synthetic ones, for paging and benchmarks. */
export function syntheticTenant(options: { id: string; displayName: string; domain: string; users: number }): FixtureTenant {
  const initial = `${options.domain.split(".")[0]}.onmicrosoft.com`;
  return {
    id: options.id,
    displayName: options.displayName,
    domains: initial === options.domain ? [initial] : [initial, options.domain],
    adminConsent: true,
    syntheticUsers: Math.max(0, options.users - 1),
    users: [
      {
        oid: options.id.replace(/^.{8}/, "adadadad"),
        displayName: `${options.displayName} Admin`,
        userPrincipalName: `admin@${options.domain}`,
        mail: `admin@${options.domain}`,
        accountEnabled: true,
        isAdmin: true,
      },
    ],
  };
}
