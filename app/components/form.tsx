import { useNavigation } from "@remix-run/react";
import type { InputHTMLAttributes } from "react";
import { PASSWORD_MAX } from "~/lib/password-rules.ts";

type FieldProps = InputHTMLAttributes<HTMLInputElement> & { name: string; label: string; error?: string; hint?: string };

/** A labelled input whose error and hint are announced by screen readers. */
export function Field({ name, label, error, hint, id = name, ...input }: FieldProps) {
  const describedBy = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The new password and its repetition, as every form that sets a password asks for them (newPasswordFields). */
export function NewPasswordFields({ errors }: { errors?: { newPassword?: string; confirmPassword?: string } }) {
  return (
    <>
      <Field
        name="newPassword"
        label="New password"
        type="password"
        autoComplete="new-password"
        required
        maxLength={PASSWORD_MAX}
        hint="At least 8 characters. A few unrelated words make a strong, memorable password."
        error={errors?.newPassword}
      />
      <Field
        name="confirmPassword"
        label="Repeat the new password"
        type="password"
        autoComplete="new-password"
        required
        maxLength={PASSWORD_MAX}
        error={errors?.confirmPassword}
      />
    </>
  );
}

export function FormError({ message }: { message?: string | null }) {
  if (!message) return null;
  return (
    <p className="form-error" role="alert">
      {message}
    </p>
  );
}

export function Submit({
  children,
  pendingText,
  name,
  value,
  className,
}: {
  children: React.ReactNode;
  pendingText?: string;
  name?: string;
  value?: string;
  className?: string;
}) {
  const navigation = useNavigation();
  const busy = navigation.state === "submitting" && (!name || navigation.formData?.get(name) === value);
  return (
    <button type="submit" name={name} value={value} className={className} disabled={busy}>
      {busy && pendingText ? pendingText : children}
    </button>
  );
}
