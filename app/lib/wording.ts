// How pages and emails say counts and durations: "1 user" / "2 users", "24 hours", never "1 seconds" or
// "1440 minutes". English only, like the rest of the portal; Intl picks the plural form and the digits.
const rules = new Intl.PluralRules("en");
const numbers = new Intl.NumberFormat("en");

/** "1 user", "20,000 users"; irregular words name their plural ("1 person", "3 people"). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${numbers.format(n)} ${rules.select(n) === "one" ? singular : plural}`;
}

/** The word alone, for sentences that put the number elsewhere ("3 of them have …"). */
export function plural(n: number, singular: string, plural = `${singular}s`): string {
  return rules.select(n) === "one" ? singular : plural;
}

type Unit = "second" | "minute" | "hour" | "day";
const SECONDS: Record<Unit, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };
const unitFormats = Object.fromEntries(
  (Object.keys(SECONDS) as Unit[]).map((unit) => [unit, new Intl.NumberFormat("en", { style: "unit", unit, unitDisplay: "long" })]),
) as Record<Unit, Intl.NumberFormat>;

// Waits (roundUp): each unit takes over at 1.5 of itself ("90 seconds", then "2 minutes"). Days start at two in
// both modes ("24 hours", "36 hours", "2 days"): people read a one-day link as "24 hours".
const FROM: [Unit, number][] = [
  ["day", 2 * 86_400],
  ["hour", 90 * 60],
  ["minute", 90],
  ["second", 0],
];

/**
 * A duration in words: "30 minutes", "24 hours", "7 days", "1 second". `exact` (the default, for lifetimes)
 * takes the largest unit that counts it whole ("1 hour", "100 minutes"); `roundUp` (for "try again in …")
 * rounds up in the largest unit that fits, so a wait is never understated ("8 minutes" for 437 seconds).
 */
export function duration(seconds: number, mode: "exact" | "roundUp" = "exact"): string {
  const s = Math.max(0, mode === "roundUp" ? Math.ceil(seconds) : Math.round(seconds));
  for (const [unit, from] of FROM) {
    const size = SECONDS[unit];
    if (mode === "roundUp" ? s >= from : s >= Math.max(size, unit === "day" ? from : 0) && s % size === 0) {
      return unitFormats[unit].format(mode === "roundUp" ? Math.ceil(s / size) : s / size);
    }
  }
  return unitFormats.second.format(s);
}

/** `duration` of a number of minutes, the unit the portal's lifetimes are configured in. */
export const minutes = (n: number, mode?: "exact" | "roundUp") => duration(n * 60, mode);
