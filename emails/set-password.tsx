import { minutes } from "../app/lib/wording.ts";
import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type SetPasswordProps = { name: string; orgName: string; setPasswordUrl: string; expiresMinutes: number };

export const setPasswordSubject = () => "Set a password for your account";

export function SetPasswordEmail({ name, orgName, setPasswordUrl, expiresMinutes }: SetPasswordProps) {
  return (
    <Layout preview={`Set a password to sign in to ${orgName}.`} title="Set a password for your account">
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        Your account at {orgName} now signs in with a password. To set yours, open the link below. It works once and expires in {minutes(expiresMinutes)}.
      </Paragraph>
      <Action href={setPasswordUrl} label="Set your password" />
      <Note>If you did not expect this, you can ignore this email; nothing changes until the link is used.</Note>
    </Layout>
  );
}
