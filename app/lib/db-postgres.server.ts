// The PostgreSQL client, chosen by db.server.ts when DATABASE_URL is postgresql://… (docs/decisions/008-postgresql.md).
// Its client is generated from prisma/postgres/schema.prisma, which has the same models as the SQLite one,
// so the app keeps the SQLite client's types.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as PostgresClient } from "~/generated/prisma-pg/client.ts";
import type { PrismaClient } from "~/generated/prisma/client.ts";

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

export function createPostgresClient(url: string): PrismaClient {
  const poolSize = Number(new URL(url).searchParams.get("connection_limit")) || 10;
  // pg waits forever for a connection by default; 5 s is Prisma 6's connect_timeout. It also bounds the wait for
  // a free pool client, so an unreachable or swamped database gives the 503 page instead of a hung request.
  // TCP keep-alive notices a database host that vanished without closing its connections (a crashed VM, a
  // dropped network path) within minutes (the kernel's probe settings), where queries on those connections
  // would otherwise wait for good.
  const adapter = new PrismaPg({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  return new PostgresClient({ adapter }) as unknown as PrismaClient;
}
