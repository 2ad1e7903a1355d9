// The built server for the logs and metrics tests: every line it writes on stdout, parsed, and /metrics read
// with its bearer token.
import { expect } from "vitest";
import { appEnv, freePort, Instance } from "./processes.ts";

export const METRICS_TOKEN = "metrics-token-for-the-tests-0123456789abcdef";

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export class LoggedPortal {
  readonly instance: Instance;
  stdout = "";
  stderr = "";

  private constructor(port: number) {
    this.instance = new Instance(port);
  }

  static async start(extra: Record<string, string> = {}) {
    const portal = new LoggedPortal(await freePort());
    portal.instance.start(
      appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0", METRICS_TOKEN, ...extra }),
    );
    const child = portal.instance.server!.child;
    child.stdout!.on("data", (chunk: Buffer) => (portal.stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (portal.stderr += chunk.toString()));
    await portal.instance.ready();
    return portal;
  }

  get port() {
    return this.instance.port;
  }

  /** Every stdout line, each of which must be one JSON object. */
  lines(): LogLine[] {
    return this.stdout
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          throw new Error(`A log line is not JSON: ${line}`);
        }
      });
  }

  /** The request lines (msg "request") for a path, once the server has written them. */
  async requestLines(path: string, count = 1): Promise<LogLine[]> {
    for (let i = 0; i < 100; i++) {
      const found = this.lines().filter((line) => line.msg === "request" && line.path === path);
      if (found.length >= count) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`No request line for ${path}:\n${this.stdout.slice(-3000)}`);
  }

  fetch(path: string, headers: Record<string, string> = {}) {
    return fetch(`http://127.0.0.1:${this.port}${path}`, { headers, redirect: "manual" });
  }

  async metrics(): Promise<string> {
    const response = await this.fetch("/metrics", { Authorization: `Bearer ${METRICS_TOKEN}` });
    expect(response.status).toBe(200);
    return response.text();
  }

  stop = () => this.instance.stop();
}

/** One sample's value from the Prometheus text (0 when the series has not appeared yet). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? "").split(",").filter(Boolean);
    if (wanted.length === have.length && wanted.every((pair) => have.includes(pair))) return Number(match[3]);
  }
  return 0;
}
