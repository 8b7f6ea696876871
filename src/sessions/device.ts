/**
 * Describes the device behind a session from its User-Agent (bowser): "Firefox", "Windows", "desktop".
 * Only for display in the session list: a User-Agent is client-controlled and proves nothing.
 */
import Bowser from "bowser";

export interface DeviceDescription {
  browser: string;
  os: string;
  device: string;
}

export function describeDevice(userAgent: string | null): DeviceDescription {
  if (!userAgent) return { browser: "Unknown browser", os: "unknown system", device: "unknown" };
  try {
    const parsed = Bowser.parse(userAgent);
    const browser = [parsed.browser.name, parsed.browser.version?.split(".")[0]].filter(Boolean).join(" ");
    const os = [parsed.os.name, parsed.os.versionName ?? parsed.os.version].filter(Boolean).join(" ");
    return {
      browser: browser || "Unknown browser",
      os: os || "unknown system",
      device: parsed.platform.type ?? "unknown",
    };
  } catch {
    return { browser: "Unknown browser", os: "unknown system", device: "unknown" };
  }
}
