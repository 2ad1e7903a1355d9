import { expect, test } from "./fixtures.ts";

test("a form posted from another site is refused", async ({ request }) => {
  const response = await request.post("/login?index", {
    form: { intent: "identifier", identifier: "someone@example.test" },
    headers: { Origin: "https://evil.example" },
  });
  expect(response.status()).toBe(403);
  expect(await response.text()).toContain("another site");
});

test("pages carry a nonce-based Content-Security-Policy and are not cached", async ({ request }) => {
  const response = await request.get("/login");
  const csp = response.headers()["content-security-policy"];
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
  expect(csp).not.toContain("unsafe-inline'; script");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(response.headers()["cache-control"]).toBe("no-store");
});
