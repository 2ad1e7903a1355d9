// One zod schema per form; the same helper turns FormData into data or field errors.
import { z } from "zod";

export type FieldErrors = Record<string, string>;
export type FormResult<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors; values: Record<string, string> };

export const MAX_FIELD = 4096;

export function parseForm<S extends z.ZodType>(form: FormData, schema: S): FormResult<z.infer<S>> {
  const values: Record<string, string> = {};
  const errors: FieldErrors = {};
  for (const [key, value] of form.entries()) {
    if (typeof value !== "string") {
      errors[key] = "Files are not accepted here.";
      continue;
    }
    // A field sent twice is a malformed request; say so rather than pick one.
    if (key in values) errors[key] = "This field was sent more than once.";
    values[key] = value.length > MAX_FIELD ? value.slice(0, MAX_FIELD) : value;
  }
  if (Object.keys(errors).length) return { ok: false, errors, values: {} };
  const result = schema.safeParse(values);
  if (result.success) return { ok: true, data: result.data };
  for (const issue of result.error.issues) {
    const key = String(issue.path[0] ?? "form");
    errors[key] ??= issue.message;
  }
  return { ok: false, errors, values };
}

/** Values safe to send back to the page: never passwords or codes. */
export function keepValues(values: Record<string, string>, keep: string[]): Record<string, string> {
  return Object.fromEntries(keep.filter((k) => k in values).map((k) => [k, values[k]!.slice(0, 320)]));
}
