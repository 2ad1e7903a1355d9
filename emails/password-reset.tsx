import { minutes } from "../app/lib/wording.ts";
import { Action, Layout, Note, Paragraph } from "./layout.tsx";

export type PasswordResetProps = { name: string; resetUrl: string; expiresMinutes: number };

export const passwordResetSubject = () => "Reset your password";

export function PasswordResetEmail({ name, resetUrl, expiresMinutes }: PasswordResetProps) {
  return (
    <Layout preview="Use this link to choose a new password." title="Reset your password">
      <Paragraph>Hello {name},</Paragraph>
      <Paragraph>
        Someone asked to reset the password of your account. To choose a new password, open the link below. It works once and expires in{" "}
        {minutes(expiresMinutes)}.
      </Paragraph>
      <Action href={resetUrl} label="Choose a new password" />
      <Note>If you did not ask for this, you can ignore this email: your password stays the same.</Note>
    </Layout>
  );
}
