/** Configuration: one typed, frozen object built from flags, environment and an optional file. */
export { CONFIG_DEFINITIONS, type ConfigDefinition } from "./definitions.js";
export { renderConfigurationReference } from "./docs.js";
export { type Config, type ConfigSources, loadConfig, type TrustProxy } from "./load.js";
