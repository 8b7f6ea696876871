/**
 * The ordered list of migrations. Listed statically (not read from the file system) so that the same list
 * works from TypeScript sources, the compiled `dist/` and bundlers. Add new files as `NNNN_name.ts`.
 */
import type { Migration } from "kysely";
import * as m0001 from "./0001_initial.js";
import * as m0002 from "./0002_accounts.js";
import * as m0003 from "./0003_oauth.js";
import * as m0004 from "./0004_api_tokens.js";
import * as m0005 from "./0005_mfa.js";
import * as m0006 from "./0006_dpop.js";
import * as m0007 from "./0007_change_marks.js";
import * as m0008 from "./0008_access_policy.js";
import * as m0009 from "./0009_audit_chain.js";
import * as m0010 from "./0010_events.js";
import * as m0011 from "./0011_ssf.js";
import * as m0012 from "./0012_token_exchange.js";
import * as m0013 from "./0013_jwe.js";
import * as m0014 from "./0014_federation.js";
import * as m0015 from "./0015_sign_up.js";

export const migrations: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_accounts": m0002,
  "0003_oauth": m0003,
  "0004_api_tokens": m0004,
  "0005_mfa": m0005,
  "0006_dpop": m0006,
  "0007_change_marks": m0007,
  "0008_access_policy": m0008,
  "0009_audit_chain": m0009,
  "0010_events": m0010,
  "0011_ssf": m0011,
  "0012_token_exchange": m0012,
  "0013_jwe": m0013,
  "0014_federation": m0014,
  "0015_sign_up": m0015,
};
