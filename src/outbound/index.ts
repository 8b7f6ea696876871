/**
 * Outbound requests: every request Tessera sends to a URL it was given goes through `createOutboundFetch`, which
 * refuses loopback, private, link-local and other non-public destinations (after DNS, on every redirect) unless
 * `TESSERA_OUTBOUND_ALLOW_PRIVATE` allows them (docs/security.md, "Requests Tessera makes").
 */
export {
  type AddressClass,
  type AddressKind,
  type Cidr,
  classifyAddress,
  classifyIp,
  embeddedIpv4,
  formatIp,
  type IpAddress,
  inCidr,
  parseCidr,
  parseIp,
} from "./addresses.js";
export {
  checkDestination,
  createOutboundFetch,
  type OutboundDestination,
  type OutboundFetch,
  type OutboundLookup,
  type OutboundOptions,
  OutboundRefusedError,
  type OutboundRequestInit,
  type RefusalReason,
} from "./fetch.js";
export {
  ALLOW_SETTING,
  type CompiledPolicy,
  compilePolicy,
  type OutboundPolicy,
  outboundPolicy,
} from "./policy.js";
