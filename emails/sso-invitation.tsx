import { minutes } from "../app/lib/wording.ts";
import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type SsoInvitationProps = { name: string; orgName: string; inviterName: string; signInUrl: string; expiresDays?: number };

export const ssoInvitationSubject = ({ orgName }: SsoInvitationProps) => `You're invited to ${orgName}`;

export function SsoInvitationEmail({ name, orgName, inviterName, signInUrl, expiresDays }: SsoInvitationProps) {
  return (
    <Layout preview={`Sign in to ${orgName} with your Microsoft account.`} title={`You're invited to ${orgName}`}>
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        {inviterName} gave you access to {orgName}. You sign in with your Microsoft work account: there is no separate password to create.
      </Paragraph>
      <Action href={signInUrl} label="Sign in with Microsoft" />
      <Note>
        {expiresDays ? `The link works for ${minutes(expiresDays * 24 * 60)}; after that, sign in at the portal with your Microsoft account. ` : ""}
        If you were not expecting this invitation, you can ignore this email.
      </Note>
    </Layout>
  );
}
