// A self-signed certificate for the stand-in (localhost, 127.0.0.1, ::1), made once per folder with the
// openssl CLI. Node trusts it only when started with NODE_EXTRA_CA_CERTS=certPath (read at process start).
import { execFileSync } from "node:child_process";
import { X509Certificate, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";

export type Certificate = { certPath: string; keyPath: string };

const DAYS = 825;
const RENEW_BEFORE_MS = 7 * 24 * 3600_000;

function usable(certPath: string, keyPath: string): boolean {
  if (!existsSync(certPath) || !existsSync(keyPath)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certPath));
    return Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS && /DNS:localhost/.test(cert.subjectAltName ?? "");
  } catch {
    return false;
  }
}

/** The certificate and key in `dir` (cert.pem, key.pem), generated when missing or about to expire. */
export function ensureCertificate(dir: string): Certificate {
  mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, "cert.pem");
  const keyPath = path.join(dir, "key.pem");
  if (usable(certPath, keyPath)) return { certPath, keyPath };

  // Written under temporary names and renamed, key first: a concurrent reader never sees half a pair.
  const tmp = randomUUID();
  const tmpCert = path.join(dir, `cert.${tmp}.pem`);
  const tmpKey = path.join(dir, `key.${tmp}.pem`);
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        tmpKey,
        "-out",
        tmpCert,
        "-days",
        String(DAYS),
        "-subj",
        "/CN=localhost/O=Entra ID stand-in (test only)",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    renameSync(tmpKey, keyPath);
    renameSync(tmpCert, certPath);
  } finally {
    rmSync(tmpCert, { force: true });
    rmSync(tmpKey, { force: true });
  }
  return { certPath, keyPath };
}
