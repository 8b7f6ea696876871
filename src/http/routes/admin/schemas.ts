/**
 * JSON Schema pieces shared by the admin API's routes.
 *
 * - Every admin route declares `tags`, `summary`, its params, querystring, body (`additionalProperties: false`:
 *   an unknown field is a 400, never silently dropped) and every response. `/openapi.json` is generated from
 *   these schemas, so they are the API's documentation too.
 * - Response schemas also decide what is serialised (fast-json-stringify): a field a schema does not declare
 *   is never sent, so a secret that a domain object might grow cannot leak through an answer.
 * - Error answers share one body, `{ "error", "error_description" }` (docs/errors.md).
 * - Only shapes live here; the rules (lengths, password policy, client metadata) stay in the domain, which
 *   refuses with its own stable codes.
 */

export const ERROR_BODY = {
  type: "object",
  required: ["error", "error_description"],
  properties: {
    error: { type: "string", description: "Stable error code, listed in docs/errors.md." },
    error_description: { type: "string", description: "Human-readable explanation; may change." },
  },
} as const;

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 412;

const ERROR_MEANINGS: Record<ErrorStatus, string> = {
  400: "The request is invalid (`invalid_request` for schema violations, or a domain rule's code).",
  401: "Admin credentials are missing (`unauthorized`) or invalid (`invalid_token`).",
  403: "An API token without the `tessera:admin` scope (`insufficient_scope`).",
  404: "No such resource.",
  409: "Conflicts with the current state (for example a duplicate name).",
  412: "The resource changed meanwhile; read it again and retry.",
};

/**
 * A route's responses: the given successes, plus the error statuses named. 400, 401 and 403 are always
 * there: every admin route validates its input and requires an admin credential (`requireAdmin`).
 */
export function adminResponses(
  successes: Record<number, Record<string, unknown>>,
  errors: readonly ErrorStatus[] = [],
): Record<number, Record<string, unknown>> {
  const out: Record<number, Record<string, unknown>> = { ...successes };
  for (const status of new Set<ErrorStatus>([400, 401, 403, ...errors])) {
    out[status] = { ...ERROR_BODY, description: ERROR_MEANINGS[status] };
  }
  return out;
}

/** A response without a body (204). */
export const NO_CONTENT = { type: "null", description: "Done; no body." } as const;

/** Ids of users, groups, sessions and clients: URL-safe, no control characters (they reach SQL as values). */
export const ID = { type: "string", pattern: "^[A-Za-z0-9._~-]{1,128}$" } as const;

export const ID_PARAMS = {
  type: "object",
  required: ["id"],
  additionalProperties: false,
  properties: { id: ID },
} as const;

export const EPOCH_MS = { type: "integer", description: "Milliseconds since the Unix epoch." } as const;
export const NULLABLE_EPOCH_MS = {
  type: ["integer", "null"],
  description: "Milliseconds since the Unix epoch.",
} as const;

/**
 * Text from the request: no control characters (Unicode category Cc, spelled as ranges so that validators
 * without Unicode property escapes read the pattern too). Not a domain rule (the domain checks lengths and
 * names) but storage hygiene at the boundary: PostgreSQL cannot store a NUL and would fail the query (500).
 */
const NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
export const TEXT = { type: "string", pattern: NO_CONTROL_CHARACTERS } as const;
export const NULLABLE_TEXT = { type: ["string", "null"], pattern: NO_CONTROL_CHARACTERS } as const;
/** A search value in a query string. */
export const SEARCH_TEXT = { ...TEXT, minLength: 1, maxLength: 256 } as const;

/** SCIM-style offset paging, shared by the user and group lists. */
export const PAGING_PROPERTIES = {
  startIndex: {
    type: "integer",
    minimum: 1,
    default: 1,
    description: "1-based index of the first result.",
  },
  count: {
    type: "integer",
    minimum: 0,
    maximum: 1000,
    default: 100,
    description: "At most this many results (0: only the total).",
  },
} as const;

export interface PageQuery {
  startIndex: number;
  count: number;
}

export const PAGE_PROPERTIES = {
  total: { type: "integer", description: "How many results match in all." },
  startIndex: { type: "integer" },
  nextStartIndex: {
    type: ["integer", "null"],
    description: "`startIndex` of the next page, or null on the last one.",
  },
} as const;

/** `nextStartIndex` of a page: null once the page reaches the total. */
export function nextStartIndex(page: PageQuery, returned: number, total: number): number | null {
  const next = page.startIndex + returned;
  return returned > 0 && next <= total ? next : null;
}
