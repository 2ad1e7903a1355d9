import { minutes } from "../app/lib/wording.ts";
import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type InvitationProps = { name: string; orgName: string; inviterName: string; acceptUrl: string; expiresDays: number };

export const invitationSubject = ({ orgName }: InvitationProps) => `You're invited to ${orgName}`;

export function InvitationEmail({ name, orgName, inviterName, acceptUrl, expiresDays }: InvitationProps) {
  return (
    <Layout preview={`${inviterName} invited you to ${orgName}.`} title={`You're invited to ${orgName}`}>
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        {inviterName} created an account for you at {orgName}. To accept, open the link below: you will choose a password, then set up an authenticator app that
        gives you a six-digit code at each sign-in.
      </Paragraph>
      <Action href={acceptUrl} label="Accept the invitation" />
      <Note>The link works once and expires in {minutes(expiresDays * 24 * 60)}. If you were not expecting this invitation, you can ignore this email.</Note>
    </Layout>
  );
}
