// Where the OpenID Provider lives in the portal's URL space (shared by the server, the provider and the routes).

export const OIDC_PREFIX = "/oidc";
export const INTERACTION_PREFIX = `${OIDC_PREFIX}/interaction/`;
export const DISCOVERY_PATH = "/.well-known/openid-configuration";

const UID = /^[A-Za-z0-9_-]{1,64}$/;
export const isInteractionUid = (uid: unknown): uid is string => typeof uid === "string" && UID.test(uid);

/** Where the portal's pages send the browser when they are done: the page that leads back to the interaction. */
export const continuePath = (uid: string) => `/apps/continue?uid=${encodeURIComponent(uid)}`;
