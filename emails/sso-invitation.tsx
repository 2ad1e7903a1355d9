import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type SsoInvitationProps = { name: string; orgName: string; inviterName: string; signInUrl: string };

export const ssoInvitationSubject = ({ orgName }: SsoInvitationProps) => `You're invited to ${orgName}`;

export function SsoInvitationEmail({ name, orgName, inviterName, signInUrl }: SsoInvitationProps) {
  return (
    <Layout preview={`Sign in to ${orgName} with your Microsoft account.`} title={`You're invited to ${orgName}`}>
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        {inviterName} gave you access to {orgName}. You sign in with your Microsoft work account: there is no separate
        password to create.
      </Paragraph>
      <Action href={signInUrl} label="Sign in with Microsoft" />
      <Note>If you were not expecting this invitation, you can ignore this email.</Note>
    </Layout>
  );
}
