import { ConfidentialClientApplication, LogLevel } from "@azure/msal-node";
import { env } from "../env.server.ts";
import { msalNetworkClient } from "./http.server.ts";

export class MicrosoftNotConfiguredError extends Error {
  constructor() {
    super("Microsoft sign-in is not configured: set ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET.");
  }
}

export function microsoftConfigured(): boolean {
  return Boolean(env().ENTRA_CLIENT_ID && env().ENTRA_CLIENT_SECRET);
}

export function clientId(): string {
  const id = env().ENTRA_CLIENT_ID;
  if (!id || !env().ENTRA_CLIENT_SECRET) throw new MicrosoftNotConfiguredError();
  return id;
}

export const graphScope = () => `${env().GRAPH_BASE_URL}/.default`;

export const consentRedirectUri = () => `${env().APP_ORIGIN}/admin/integrations/callback`;

const clients = new Map<string, ConfidentialClientApplication>();

/**
 * An MSAL client for one tenant (or "organizations"). knownAuthorities keeps MSAL from asking
 * login.microsoftonline.com for instance discovery, so the configured authority host is the only one used.
 */
export function msalFor(tenant: string): ConfidentialClientApplication {
  let client = clients.get(tenant);
  if (!client) {
    client = new ConfidentialClientApplication({
      auth: {
        clientId: clientId(),
        clientSecret: env().ENTRA_CLIENT_SECRET!,
        authority: `${env().ENTRA_AUTHORITY_HOST}/${tenant}`,
        knownAuthorities: [new URL(env().ENTRA_AUTHORITY_HOST).host],
      },
      system: { networkClient: msalNetworkClient, loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => {} } },
    });
    clients.set(tenant, client);
  }
  return client;
}

/** Tests and the demo point the app at another authority; forget clients made for the old one. */
export function resetMicrosoftClients() {
  clients.clear();
}
