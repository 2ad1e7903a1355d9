const labels: Record<string, string> = {
  pending_consent: "Waiting for consent",
  active: "Active",
  failed: "Failed",
  removed: "Removed",
};

export function IntegrationStatus({ status, reason }: { status: string; reason?: string | null }) {
  return (
    <span>
      <strong className={`status status-${status}`}>{labels[status] ?? status}</strong>
      {reason && status !== "active" ? <span className="hint"> — {reason}</span> : null}
    </span>
  );
}
