import { type Browser, type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium; playwright never downloads a browser here. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Flags for a quiet, offline, headless Chromium whose WebRTC works over loopback with a fake camera and
 * microphone. playwright adds --headless and gives every launch a new temporary profile (its own
 * --user-data-dir), so no state leaks between runs.
 */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--allow-loopback-in-peer-connection",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** Launches one headless Chromium; give each simulated person their own context (newUserContext). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** How long a page action or wait may take before the test fails (playwright's default is 30 s). */
export const UI_TIMEOUT_MS = 15_000;

/** A fresh context (own cookies and storage: one person) whose relative URLs resolve against the stack. */
export async function newUserContext(browser: Browser, baseUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 }, timezoneId: "UTC", locale: "en-GB" });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  return context;
}
