import { Fragment } from "react";

/** The QR code and the same secret as text, for people who type it into their app. */
export function TotpSetupPanel({ qrSvg, secretGroups, uri }: { qrSvg: string; secretGroups: string; uri: string }) {
  return (
    <div>
      <p>Scan this QR code with an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password, …).</p>
      {/* The SVG is generated on our server from our own data. */}
      <div className="qr" role="img" aria-label="QR code for your authenticator app" dangerouslySetInnerHTML={{ __html: qrSvg }} />
      <p>Can't scan it? Enter this key in the app instead (time-based, 6 digits, every 30 seconds):</p>
      {/* One element per group of four, none of which may break: a narrow screen wraps between groups only. */}
      <p className="secret" data-testid="totp-secret" data-uri={uri}>
        {secretGroups.split(" ").map((group, i) => (
          <Fragment key={i}>
            {i ? " " : null}
            <span className="secret-group">{group}</span>
          </Fragment>
        ))}
      </p>
    </div>
  );
}
