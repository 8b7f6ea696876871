/** The SDK for applications that trust Tessera. No dependency on the server's storage. */
export { createSessionChecker, type SessionCheckerOptions, type SessionInfo } from "./session.js";
