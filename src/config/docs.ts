/** Renders docs/configuration.md from the definitions, so the reference can never drift from the code. */
import { CONFIG_DEFINITIONS } from "./definitions.js";

export function renderConfigurationReference(): string {
  const lines = [
    "# Configuration reference",
    "",
    "<!-- Generated from src/config/definitions.ts by `npm run docs`. Do not edit by hand. -->",
    "",
    "Each key can be set as a command-line flag, an environment variable, or a key of a JSON file given with",
    "`--config FILE` (or `TESSERA_CONFIG`). Precedence: flag > environment > file > default. A bad value stops",
    "start-up with a message naming the key, the value and what is allowed.",
    "",
    "| Key (JSON) | Environment | Flag | Default | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const d of CONFIG_DEFINITIONS) {
    let allowed = "";
    if (d.kind === "enum") allowed = ` One of: ${d.values?.map((v) => `\`${v}\``).join(", ")}.`;
    if (d.kind === "integer") allowed = ` Integer ${d.min}–${d.max}.`;
    const def = d.default === undefined ? "—" : `\`${d.default}\``;
    lines.push(`| \`${d.key}\` | \`${d.env}\` | \`${d.flag}\` | ${def} | ${d.doc}${allowed} |`);
  }
  return `${lines.join("\n")}\n`;
}
