/** Recognises a unique-constraint violation from either driver (SQLite and PostgreSQL report it differently). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** PostgreSQL SQLSTATEs of a server that is not there, going away, or out of room (classes 08, 53, 57P). */
const PG_UNAVAILABLE = /^(08\d{3}|53\d{3}|57P0[1-4])$/;
/** Node's socket errors on the way to the database. */
const SOCKET_UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
/** SQLite result codes of a database that cannot take the operation now: full disk, I/O error, locked, read-only. */
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM)/;
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|The database connection is not open|database or disk is full)/;

/**
 * Whether an error means the database cannot serve right now (down, unreachable, restarting, disk full, locked
 * too long) rather than that the request or the code is wrong: such a request deserves 503 with `Retry-After`,
 * and the same request will succeed once the database is back.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string") {
    if (PG_UNAVAILABLE.test(code) || SOCKET_UNAVAILABLE.has(code) || SQLITE_UNAVAILABLE.test(code))
      return true;
  }
  return typeof message === "string" && UNAVAILABLE_MESSAGE.test(message);
}
