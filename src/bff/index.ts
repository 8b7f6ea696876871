/**
 * `tessera/bff`: a backend-for-frontend for single-page apps. The browser holds an HttpOnly session cookie;
 * the tokens stay on the server, sealed at rest, and the BFF adds them to the API calls it proxies.
 * See docs/bff.md.
 */
export { type BffConfig, type BffUpstream, loadBffConfig, parseUpstreams } from "./config.js";
export { CSRF_HEADER } from "./csrf.js";
export { type BffOptions, bffPlugin } from "./plugin.js";
export { checkReturnTo } from "./return-to.js";
export { openSessionStore } from "./stores/open-store.js";
export { createRedisSessionStore } from "./stores/redis-store.js";
export type { SessionStore, SessionTokens, StoredSession } from "./stores/session-store.js";
export { createSqlSessionStore } from "./stores/sql-store.js";
