/** An RTCPeerConnection as a test reads it inside the page. */
export interface PagePeerConnection {
  connectionState: string;
  getStats(): Promise<{ forEach(visit: (report: Record<string, unknown>) => void): void }>;
}

/**
 * Page init script (`context.addInitScript(registerPeerConnections)`): keeps every RTCPeerConnection the page
 * makes in `window.__e2ePeerConnections`, so a test can read the browser's WebRTC stats. It runs inside the page,
 * so it refers to nothing outside itself.
 */
export function registerPeerConnections(): void {
  const page = globalThis as unknown as { RTCPeerConnection: new (configuration?: unknown) => PagePeerConnection };
  const Native = page.RTCPeerConnection;
  const list: PagePeerConnection[] = [];
  Object.defineProperty(page, "__e2ePeerConnections", { value: list });
  page.RTCPeerConnection = class extends Native {
    constructor(configuration?: unknown) {
      super(configuration);
      list.push(this);
    }
  };
}
