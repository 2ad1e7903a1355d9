import { db } from "./db.server.ts";
import { describeDevice } from "./device.ts";
import { currentRequest } from "./log.server.ts";

export type AuditInput = {
  action: string;
  orgId?: string | null;
  actorId?: string | null;
  targetType?: string;
  targetId?: string;
  result?: "success" | "failure";
  detail?: Record<string, unknown>;
  ipAddress?: string;
};

/** Writes one audit event; the device is the current request's, if the event happens inside one. */
export async function audit(event: AuditInput) {
  const request = currentRequest();
  await db.auditEvent.create({
    data: {
      action: event.action,
      orgId: event.orgId ?? null,
      actorId: event.actorId ?? null,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      result: event.result ?? "success",
      detail: event.detail ? JSON.stringify(event.detail) : null,
      ipAddress: event.ipAddress ?? null,
      device: request ? describeDevice(request.userAgent ?? null) : null,
    },
  });
}
