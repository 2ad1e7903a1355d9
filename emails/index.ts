// Every email the portal sends: its props, its subject and its component, keyed by template name.
import type { ReactElement } from "react";
import { InvitationEmail, invitationSubject, type InvitationProps } from "./invitation.tsx";
import { MicrosoftSignInEmail, microsoftSignInSubject, type MicrosoftSignInProps } from "./microsoft-sign-in.tsx";
import { PasswordResetEmail, passwordResetSubject, type PasswordResetProps } from "./password-reset.tsx";
import { SetPasswordEmail, setPasswordSubject, type SetPasswordProps } from "./set-password.tsx";
import { SsoInvitationEmail, ssoInvitationSubject, type SsoInvitationProps } from "./sso-invitation.tsx";

export type EmailProps = {
  "password-reset": PasswordResetProps;
  "set-password": SetPasswordProps;
  invitation: InvitationProps;
  "sso-invitation": SsoInvitationProps;
  "microsoft-sign-in": MicrosoftSignInProps;
};

export type TemplateName = keyof EmailProps;

export type EmailTemplate<P> = { subject: (props: P) => string; component: (props: P) => ReactElement };

export const emails: { [N in TemplateName]: EmailTemplate<EmailProps[N]> } = {
  "password-reset": { subject: passwordResetSubject, component: PasswordResetEmail },
  "set-password": { subject: setPasswordSubject, component: SetPasswordEmail },
  invitation: { subject: invitationSubject, component: InvitationEmail },
  "sso-invitation": { subject: ssoInvitationSubject, component: SsoInvitationEmail },
  "microsoft-sign-in": { subject: microsoftSignInSubject, component: MicrosoftSignInEmail },
};
