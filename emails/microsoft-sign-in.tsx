import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type MicrosoftSignInProps = { name: string; signInUrl: string };

export const microsoftSignInSubject = () => "You sign in with Microsoft";

/** The answer to "forgot password" for a user whose method is Microsoft: there is no password to reset. */
export function MicrosoftSignInEmail({ name, signInUrl }: MicrosoftSignInProps) {
  return (
    <Layout preview="Your account has no password: sign in with your Microsoft work account." title="You sign in with Microsoft">
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        Someone asked to reset the password of your account. Your organization signs you in with your Microsoft work account, so there is no password to reset.
        Sign in with Microsoft instead; if you forgot your Microsoft password, your IT department resets it.
      </Paragraph>
      <Action href={signInUrl} label="Sign in with Microsoft" />
      <Note>If you did not ask for this, you can ignore this email: nothing was changed.</Note>
    </Layout>
  );
}
