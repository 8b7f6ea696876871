/** Writes docs/configuration.md from src/config/definitions.ts (`npm run docs`). */
import { writeFileSync } from "node:fs";
import { renderConfigurationReference } from "../config/index.js";

writeFileSync("docs/configuration.md", renderConfigurationReference());
process.stdout.write("wrote docs/configuration.md\n");
