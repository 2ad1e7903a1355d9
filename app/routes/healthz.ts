import { checkDatabase } from "~/lib/db.server.ts";

export async function loader() {
  const headers = { "Content-Type": "text/plain", "Cache-Control": "no-store" };
  try {
    await checkDatabase();
    return new Response("ok", { headers });
  } catch {
    return new Response("database unavailable", { status: 503, headers });
  }
}
