// OIDC_JWKS, the OpenID Provider's signing keys: validated at boot with a sentence naming the variable.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newSigningKeySet, parseEnv } from "~/lib/env.server.ts";

const secrets = { SESSION_SECRET: "s".repeat(40), TOTP_ENCRYPTION_KEY: "ab".repeat(32) };
const ec = () => JSON.parse(newSigningKeySet()).keys[0];
const rsa = () => ({ ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), alg: "RS256", kid: "rsa-1" });
const jwks = (...keys: unknown[]) => JSON.stringify({ keys });

describe("OIDC_JWKS", () => {
  it("takes EC P-256 (ES256) and RSA (RS256) private keys, the first first", () => {
    const first = ec();
    const env = parseEnv({ ...secrets, NODE_ENV: "production", OIDC_JWKS: jwks(first, rsa()) });
    expect(env.OIDC_JWKS.map((k) => k.kid)).toEqual([first.kid, "rsa-1"]);
  });

  it("is required in production", () => {
    expect(() => parseEnv({ ...secrets, NODE_ENV: "production" })).toThrow(/^The environment variable OIDC_JWKS is missing; it is required in production\.$/);
  });

  it.each([
    ["not JSON", "{keys:", /OIDC_JWKS is invalid: it is not JSON/],
    ["no keys", jwks(), /OIDC_JWKS is invalid: it has no "keys" array/],
    ["a key without kid", jwks({ ...ec(), kid: undefined }), /key 1 has no "kid"/],
    ["two keys with one kid", jwks({ ...ec(), kid: "a" }, { ...ec(), kid: "a" }), /key 2 repeats the kid "a"/],
    ["a public key", jwks({ ...ec(), d: undefined }), /is a public key: the provider needs the private key \("d"\)/],
    ["an EC key said to be RS256", jwks({ ...ec(), alg: "RS256" }), /must be an EC P-256 key with "alg":"ES256" or an RSA key/],
    ["another curve", jwks({ ...ec(), crv: "P-384" }), /must be an EC P-256 key/],
    ["a private key that does not match its public part", jwks({ ...ec(), d: ec().d }), /is not a valid EC private key: what it signs does not verify/],
  ])("refuses %s with a sentence naming the variable", (_what, value, message) => {
    expect(() => parseEnv({ ...secrets, OIDC_JWKS: value })).toThrow(message);
    expect(() => parseEnv({ ...secrets, OIDC_JWKS: value })).toThrow(/^The environment variable OIDC_JWKS is invalid: /);
  });
});
