/**
 * Access: who may do and grant what (`policy.ts`), and what ends when access ends (`revocation.ts`).
 */
export {
  ACCESS_RULES,
  type AccessEnded,
  type AccessEvent,
  type AccessEventType,
  type AccessRevocation,
  createAccessRevocation,
} from "./revocation.js";
