/** Debian's Chromium through playwright-core, with the flags this machine needs (never a downloaded browser). */
import { type Browser, chromium } from "playwright-core";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Only because the test servers' certificates are self-signed.
      "--ignore-certificate-errors",
    ],
  });
}
