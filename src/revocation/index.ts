export {
  CURSOR_OVERLAP_MS,
  createRevocationFeed,
  KEEP_EVENTS_MS,
  type RevocationEvent,
  type RevocationFeed,
  type RevocationType,
} from "./feed.js";
