import { readFileSync } from "node:fs";

/**
 * Every code `docs/errors.md` documents for an HTTP caller: the backticked snake_case names in
 * the code column of its first table (the bus-only and execution tables come after).
 */
export function documentedHttpCodes(markdown: string = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8")): Set<string> {
  const httpTable = markdown.split(/^## /m)[0] ?? "";
  const codes = new Set<string>();
  for (const line of httpTable.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (!/^\d{3}$/.test(cells[1] ?? "")) continue;
    for (const match of (cells[2] ?? "").matchAll(/`([a-z][a-z0-9_]*)`/g)) if (match[1]) codes.add(match[1]);
  }
  return codes;
}
