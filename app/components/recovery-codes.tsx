/** Recovery codes shown once, with a plain-text download that works without JavaScript. */
export function RecoveryCodeList({ codes }: { codes: string[] }) {
  const file = `Recovery codes for the sign-in portal. Each works once.\n\n${codes.join("\n")}\n`;
  return (
    <section aria-labelledby="codes-heading">
      <h2 id="codes-heading">Your recovery codes</h2>
      <p>
        Each code signs you in once if you lose your authenticator app. <strong>They are shown only now:</strong> save them somewhere safe.
      </p>
      <ul className="codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </ul>
      <p>
        <a className="button secondary" download="recovery-codes.txt" href={`data:text/plain;charset=utf-8,${encodeURIComponent(file)}`}>
          Download as a text file
        </a>
      </p>
    </section>
  );
}
