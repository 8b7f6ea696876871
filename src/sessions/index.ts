export { type DeviceDescription, describeDevice } from "./device.js";
export { createRedisRevocationBus, type RevocationBus, type RevocationEvent } from "./revocation-bus.js";
export { SessionCache, type SessionCacheOptions } from "./session-cache.js";
export {
  type CheckedSession,
  type CreateSessionInput,
  createSessions,
  SESSION_TOKEN_PREFIX,
  type Session,
  type SessionPolicy,
  type Sessions,
  type SessionUser,
} from "./sessions.js";
