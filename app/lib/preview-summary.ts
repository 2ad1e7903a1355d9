import { csvLine } from "./csv.ts";

// A switch's preview as a page shows it: counts and the first names of each list, not 20,000 names (a 1.66 MB
// page at 20k users); the full lists are a CSV download (previewCsv). Pure, so pages and tests share it.

export const PREVIEW_NAMES = 20;

type Person = { id: string; name: string; email: string | null };
type Lists = { toPassword: Person[]; toNone: Person[]; toMicrosoft?: Person[]; locksOut?: boolean };

export type PersonList = { count: number; first: Person[]; withEmail: number; withoutEmail: number };
export type PreviewSummary = { toPassword: PersonList; toNone: PersonList; toMicrosoft: number; locksOut: boolean };

function list(people: Person[], shown: number): PersonList {
  const withEmail = people.filter((p) => p.email).length;
  return {
    count: people.length,
    first: people.slice(0, shown).map(({ id, name, email }) => ({ id, name, email })),
    withEmail,
    withoutEmail: people.length - withEmail,
  };
}

export function summarisePreview(preview: Lists, shown = PREVIEW_NAMES): PreviewSummary {
  return {
    toPassword: list(preview.toPassword, shown),
    toNone: list(preview.toNone, shown),
    toMicrosoft: preview.toMicrosoft?.length ?? 0,
    locksOut: preview.locksOut ?? false,
  };
}

type CsvPerson = Person & { role?: string };

/** Everyone a change moves, one row each: who, and how they sign in after it. */
export function previewCsv(preview: { toPassword: CsvPerson[]; toNone: CsvPerson[]; toMicrosoft?: CsvPerson[] }): string {
  const rows: string[][] = [["name", "email", "role", "after the change"]];
  const add = (people: CsvPerson[], after: string) => people.forEach((p) => rows.push([p.name, p.email ?? "", p.role ?? "", after]));
  add(preview.toPassword, "password + authenticator app");
  add(preview.toNone, "no way to sign in");
  add(preview.toMicrosoft ?? [], "Microsoft");
  return rows.map(csvLine).join("");
}
