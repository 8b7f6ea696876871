/** Plain-text tables for CLI output: one header line, columns padded, `-` for empty cells. */
export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)";
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => (r[c] === null || r[c] === undefined ? "-" : String(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(cols), ...cells.map(line)].join("\n");
}

/** A comma-separated flag value as a list (`--redirect-uris a,b`); undefined when the flag was not given. */
export function commaList(value: string | boolean | undefined): string[] | undefined {
  return typeof value === "string"
    ? value
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean)
    : undefined;
}
