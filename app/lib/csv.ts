/**
 * One CSV cell (RFC 4180): quoted when needed, and never read as a formula by a spreadsheet: a cell that starts
 * with = + - @, tab or CR gets a leading ' (OWASP CSV injection).
 */
export function csvCell(value: string | null): string {
  let text = value ?? "";
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (cells: (string | null)[]) => `${cells.map(csvCell).join(",")}\r\n`;
