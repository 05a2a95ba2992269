/**
 * Local look-alikes of SendGrid's Mail Send API and Twilio's Messages API, for the workerd tests (a vitest
 * globalSetup) and the reminders benchmark. They check each request the way the providers do — auth header,
 * content type, required JSON or form fields — and answer like them (202 + X-Message-Id; 201 + JSON sid).
 *
 * Tests steer them over HTTP, per destination so parallel test files never interfere:
 *   POST /__script   {"match": "<e-mail or phone>", "outcomes": ["429", "500", "drop", "400", "ok", …]}
 *                    the next requests for that destination get these outcomes in order, then "ok"
 *   GET  /__requests?match=<destination>   every request seen for it: {requests: CapturedRequest[]}
 *   GET  /__stats    {accepted, firstAt, lastAt} over all accepted requests (for the benchmark)
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Credentials the look-alikes accept (the tests' Worker bindings use the same). */
export const PROVIDER_TEST_CREDENTIALS = {
  sendgridApiKey: "SG.test-key.local",
  sendgridFrom: "insp live <live@insp.test>",
  twilioAccountSid: `AC${"0123456789abcdef".repeat(2)}`,
  twilioAuthToken: "test-twilio-auth-token",
  twilioFrom: "+15005550006",
} as const;

/**
 * "slow" takes the message (it counts as accepted) but answers only after {@link SLOW_ANSWER_MS}, longer than the
 * Worker's provider timeout in the tests: a provider that sent it while the client gave up waiting.
 */
export type Outcome = "ok" | "slow" | "400" | "429" | "500" | "drop";

/** How long a "slow" answer takes; the tests' PROVIDER_TIMEOUT_MS ({@link TEST_PROVIDER_TIMEOUT_MS}) is shorter. */
export const SLOW_ANSWER_MS = 8_000;
/**
 * The Worker's provider timeout in the tests. The look-alikes run in vitest's main process, which also serves the
 * test workers and transforms their files, so on a loaded machine even an "ok" answer can take a few seconds.
 */
export const TEST_PROVIDER_TIMEOUT_MS = 5_000;

export interface CapturedRequest {
  /** The destination (e-mail address or phone number) the request was for, if it could be read. */
  match: string | null;
  path: string;
  contentType: string | null;
  authorization: string | null;
  /** Parsed JSON (SendGrid) or form fields (Twilio). */
  body: unknown;
  /** What the server answered: the outcome, or "rejected: <why>" when the request itself was wrong. */
  answer: string;
  at: number;
}

export interface ProviderServer {
  url: string;
  close(): Promise<void>;
}

interface State {
  scripts: Map<string, Outcome[]>;
  requests: CapturedRequest[];
  accepted: number;
  firstAt: number | null;
  lastAt: number | null;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function json(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(payload));
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/** Control routes shared by both servers; true when the request was one of them. */
async function control(state: State, request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
  if (url.pathname === "/__script" && request.method === "POST") {
    const { match, outcomes } = JSON.parse(await readBody(request)) as { match: string; outcomes: Outcome[] };
    state.scripts.set(match, [...(state.scripts.get(match) ?? []), ...outcomes]);
    json(response, 200, { ok: true });
    return true;
  }
  if (url.pathname === "/__requests" && request.method === "GET") {
    const match = url.searchParams.get("match");
    json(response, 200, { requests: state.requests.filter((captured) => captured.match === match) });
    return true;
  }
  if (url.pathname === "/__stats" && request.method === "GET") {
    json(response, 200, { accepted: state.accepted, firstAt: state.firstAt, lastAt: state.lastAt });
    return true;
  }
  return false;
}

function nextOutcome(state: State, match: string | null): Outcome {
  if (match === null) return "ok";
  const queue = state.scripts.get(match);
  return queue?.shift() ?? "ok";
}

function record(state: State, captured: Omit<CapturedRequest, "at">, captureBodies: boolean): void {
  const at = Date.now();
  if (captured.answer === "ok" || captured.answer === "slow") {
    state.accepted += 1;
    state.firstAt ??= at;
    state.lastAt = at;
  }
  state.requests.push({ ...captured, body: captureBodies ? captured.body : null, at });
}

/** Answers a scripted failure; returns true when it did. */
function scriptedFailure(outcome: Outcome, response: ServerResponse, provider: "sendgrid" | "twilio"): boolean {
  if (outcome === "ok" || outcome === "slow") return false;
  if (outcome === "drop") {
    response.socket?.destroy();
    return true;
  }
  const status = Number(outcome);
  if (provider === "sendgrid") {
    const message = status === 400 ? "Does not contain a valid address." : status === 429 ? "Too many requests" : "Internal server error";
    json(
      response,
      status,
      { errors: [{ message, field: status === 400 ? "personalizations.0.to.0.email" : null, help: null }] },
      status === 429 ? { "retry-after": "1" } : {},
    );
  } else {
    const code = status === 400 ? 21211 : status === 429 ? 20429 : 20500;
    const message = status === 400 ? "The 'To' number is not a valid phone number." : status === 429 ? "Too Many Requests" : "Internal Server Error";
    json(response, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  }
  return true;
}

/** Why a SendGrid Mail Send body is refused, or null when it is well-formed. */
function sendGridProblem(body: unknown): { field: string; message: string } | null {
  if (!body || typeof body !== "object") return { field: "", message: "Body must be a JSON object" };
  const mail = body as Record<string, unknown>;
  const personalizations = mail.personalizations as { to?: { email?: unknown }[] }[] | undefined;
  if (!Array.isArray(personalizations) || personalizations.length === 0)
    return { field: "personalizations", message: "The personalizations field is required" };
  for (const [index, personalization] of personalizations.entries()) {
    if (!Array.isArray(personalization.to) || personalization.to.length === 0)
      return { field: `personalizations.${index}.to`, message: "The to array is required" };
    for (const to of personalization.to)
      if (typeof to.email !== "string" || !EMAIL.test(to.email))
        return { field: `personalizations.${index}.to.0.email`, message: "Does not contain a valid address." };
  }
  const from = mail.from as { email?: unknown } | undefined;
  if (!from || typeof from.email !== "string" || !EMAIL.test(from.email))
    return { field: "from.email", message: "The from email does not contain a valid address." };
  if (typeof mail.subject !== "string" || mail.subject.length === 0) return { field: "subject", message: "The subject is required." };
  const content = mail.content as { type?: unknown; value?: unknown }[] | undefined;
  if (!Array.isArray(content) || content.length === 0)
    return { field: "content", message: "Unless a valid template_id is provided, the content parameter is required." };
  for (const part of content)
    if (typeof part.type !== "string" || typeof part.value !== "string" || part.value.length === 0)
      return { field: "content", message: "Each content item needs a type and a non-empty value." };
  const types = content.map((part) => part.type);
  if (types.includes("text/plain") && types[0] !== "text/plain")
    return { field: "content", message: "If present, text/plain must be first, followed by text/html." };
  const attachments = mail.attachments as { content?: unknown; filename?: unknown }[] | undefined;
  if (attachments !== undefined) {
    if (!Array.isArray(attachments)) return { field: "attachments", message: "attachments must be an array" };
    for (const [index, attachment] of attachments.entries()) {
      if (typeof attachment.content !== "string" || !BASE64.test(attachment.content))
        return { field: `attachments.${index}.content`, message: "The attachment content must be base64 encoded." };
      if (typeof attachment.filename !== "string" || attachment.filename.length === 0)
        return { field: `attachments.${index}.filename`, message: "The attachment filename is required." };
    }
  }
  return null;
}

/** Starts the SendGrid look-alike on a free loopback port. */
export function startSendGridServer(options: { captureBodies?: boolean } = {}): Promise<ProviderServer & { state: State }> {
  const state: State = { scripts: new Map(), requests: [], accepted: 0, firstAt: null, lastAt: null };
  const captureBodies = options.captureBodies ?? true;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (await control(state, request, response, url)) return;
    const text = await readBody(request);
    const base = { path: url.pathname, contentType: request.headers["content-type"] ?? null, authorization: request.headers.authorization ?? null };
    if (url.pathname !== "/v3/mail/send" || request.method !== "POST") return json(response, 404, { errors: [{ message: "Not found" }] });
    if (request.headers.authorization !== `Bearer ${PROVIDER_TEST_CREDENTIALS.sendgridApiKey}`) {
      record(state, { ...base, match: null, body: text, answer: "rejected: authorization" }, captureBodies);
      return json(response, 401, { errors: [{ field: null, message: "The provided authorization grant is invalid, expired, or revoked", help: null }] });
    }
    if (!(request.headers["content-type"] ?? "").startsWith("application/json")) {
      record(state, { ...base, match: null, body: text, answer: "rejected: content type" }, captureBodies);
      return json(response, 415, { errors: [{ field: null, message: "Content-Type should be application/json." }] });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      record(state, { ...base, match: null, body: text, answer: "rejected: JSON" }, captureBodies);
      return json(response, 400, { errors: [{ field: null, message: "Bad Request", help: null }] });
    }
    const match = (body as { personalizations?: { to?: { email?: string }[] }[] }).personalizations?.[0]?.to?.[0]?.email ?? null;
    const problem = sendGridProblem(body);
    if (problem) {
      record(state, { ...base, match, body, answer: `rejected: ${problem.field} ${problem.message}` }, captureBodies);
      return json(response, 400, { errors: [{ ...problem, help: null }] });
    }
    const outcome = nextOutcome(state, match);
    record(state, { ...base, match, body, answer: outcome }, captureBodies);
    if (scriptedFailure(outcome, response, "sendgrid")) return;
    if (outcome === "slow") await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
    response.writeHead(202, { "x-message-id": Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url") });
    response.end();
  });
  return listen(server, state);
}

/** Starts the Twilio look-alike on a free loopback port. */
export function startTwilioServer(options: { captureBodies?: boolean } = {}): Promise<ProviderServer & { state: State }> {
  const state: State = { scripts: new Map(), requests: [], accepted: 0, firstAt: null, lastAt: null };
  const captureBodies = options.captureBodies ?? true;
  const credentials = PROVIDER_TEST_CREDENTIALS;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (await control(state, request, response, url)) return;
    const text = await readBody(request);
    const base = { path: url.pathname, contentType: request.headers["content-type"] ?? null, authorization: request.headers.authorization ?? null };
    const path = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(url.pathname);
    if (!path || request.method !== "POST") return json(response, 404, { code: 20404, message: "The requested resource was not found", status: 404 });
    const expectedAuth = `Basic ${Buffer.from(`${credentials.twilioAccountSid}:${credentials.twilioAuthToken}`).toString("base64")}`;
    if (request.headers.authorization !== expectedAuth || decodeURIComponent(path[1]!) !== credentials.twilioAccountSid) {
      record(state, { ...base, match: null, body: text, answer: "rejected: authorization" }, captureBodies);
      return json(response, 401, { code: 20003, message: "Authenticate", status: 401 });
    }
    if (!(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      record(state, { ...base, match: null, body: text, answer: "rejected: content type" }, captureBodies);
      return json(response, 400, { code: 21619, message: "A text message body or media urls must be specified (form-encoded).", status: 400 });
    }
    const form = Object.fromEntries(new URLSearchParams(text));
    const match = form.To ?? null;
    const refuse = (code: number, message: string) => {
      record(state, { ...base, match, body: form, answer: `rejected: ${code} ${message}` }, captureBodies);
      json(response, 400, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status: 400 });
    };
    if (!form.To) return refuse(21604, "A 'To' phone number is required.");
    if (!E164.test(form.To)) return refuse(21211, `The 'To' number ${form.To} is not a valid phone number.`);
    if (!form.From && !form.MessagingServiceSid) return refuse(21603, "A 'From' phone number is required.");
    if (!form.Body) return refuse(21602, "Message body is required.");
    if (form.Body.length > 1600) return refuse(21617, "The concatenated message body exceeds the 1600 character limit.");
    if (form.StatusCallback && !/^https?:\/\//.test(form.StatusCallback)) return refuse(21609, "Invalid StatusCallback URL.");
    const outcome = nextOutcome(state, match);
    record(state, { ...base, match, body: form, answer: outcome }, captureBodies);
    if (scriptedFailure(outcome, response, "twilio")) return;
    if (outcome === "slow") await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
    json(response, 201, {
      sid: `SM${randomHex(16)}`,
      account_sid: credentials.twilioAccountSid,
      to: form.To,
      from: form.From ?? null,
      messaging_service_sid: form.MessagingServiceSid ?? null,
      body: form.Body,
      status: "queued",
      direction: "outbound-api",
      api_version: "2010-04-01",
      date_created: new Date().toUTCString(),
    });
  });
  return listen(server, state);
}

function listen(server: Server, state: State): Promise<ProviderServer & { state: State }> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        state,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    sendgridUrl: string;
    twilioUrl: string;
    /** SendGrid signed-event-webhook key pair for the tests: public SPKI (base64 DER) and private JWK. */
    sendgridWebhookPublicKey: string;
    sendgridWebhookPrivateJwk: string;
  }
}

/** vitest globalSetup: starts both look-alikes and hands their URLs (and a webhook key pair) to the pool. */
export default async function setup({ provide }: { provide: (key: string, value: unknown) => void }): Promise<() => Promise<void>> {
  const sendgrid = await startSendGridServer();
  const twilio = await startTwilioServer();
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  provide("sendgridUrl", sendgrid.url);
  provide("twilioUrl", twilio.url);
  provide("sendgridWebhookPublicKey", publicKey.export({ type: "spki", format: "der" }).toString("base64"));
  provide("sendgridWebhookPrivateJwk", JSON.stringify(privateKey.export({ format: "jwk" })));
  return async () => {
    await Promise.all([sendgrid.close(), twilio.close()]);
  };
}
