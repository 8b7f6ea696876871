export { type DeviceDescription, describeDevice } from "./device.js";
export {
  type CreateSessionInput,
  createSessions,
  SESSION_TOKEN_PREFIX,
  type Session,
  type SessionPolicy,
  type Sessions,
  type SessionUser,
} from "./sessions.js";
