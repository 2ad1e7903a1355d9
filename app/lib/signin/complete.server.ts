// One completion for every sign-in step, from any path (password, code, recovery code, enrolment, Microsoft):
// the new session, the audit event, and the next step — enrolment, the code, the link offer, or where the
// person was going.
import type { User } from "~/generated/prisma/client.ts";
import { audit } from "../audit.server.ts";
import { safeRedirectPath } from "../security.server.ts";
import { startSession, type AuthMethod } from "../session.server.ts";
import { signInStrategyFor } from "./methods.server.ts";
import { metrics } from "../metrics.server.ts";
import { noteRequestUser } from "../log.server.ts";

export type Completed =
  /** Password accepted: the code (or the first-sign-in enrolment) comes next. */
  | { factor: "password" }
  /** The second factor (or its enrolment) accepted: signed in. */
  | { factor: "password_totp" | "password_recovery_code"; enrolled?: boolean }
  | { factor: "microsoft"; tenantId: string };

export type Next = { location: string; setCookie: string };

const withRedirect = (path: string, back: string) => (back && back !== "/" ? `${path}?redirectTo=${encodeURIComponent(back)}` : path);

export async function completeSignIn(request: Request, user: User, step: Completed, address: string, redirectTo: unknown): Promise<Next> {
  const back = safeRedirectPath(redirectTo, "/");
  const method = step.factor === "password_totp" ? "totp" : step.factor === "password_recovery_code" ? "recovery" : step.factor;
  metrics.signIns.inc({ method, outcome: "success" });
  noteRequestUser(user);
  if (step.factor === "password") {
    const stage = user.totpEnrolledAt ? "pending_totp" : "pending_enrolment";
    const setCookie = await startSession(request, { userId: user.id, stage, clientAddress: address });
    return { setCookie, location: withRedirect(stage === "pending_totp" ? "/login/totp" : "/login/enrol", back) };
  }
  const authMethod: AuthMethod = step.factor;
  const tenantId = step.factor === "microsoft" ? step.tenantId : undefined;
  const setCookie = await startSession(request, { userId: user.id, stage: "active", authMethod, microsoftTenantId: tenantId, clientAddress: address });
  if (step.factor !== "microsoft" && step.enrolled) await audit({ action: "totp.enrolled", orgId: user.orgId, actorId: user.id, ipAddress: address });
  await audit({
    action: "signin.succeeded",
    orgId: user.orgId,
    actorId: user.id,
    ipAddress: address,
    detail: { method: authMethod, ...(tenantId ? { tenantId } : {}) },
  });
  // After password + TOTP (and after a first-sign-in enrolment), offer the Microsoft link when the rule says so.
  const offer = step.factor !== "microsoft" && (await signInStrategyFor(user)).offerLink;
  return { setCookie, location: offer ? `/link-microsoft?redirectTo=${encodeURIComponent(back)}` : back };
}
