/**
 * The setup most classroom tests share: people signed in through SSO, each in their own browser context, and a
 * class of the teacher's with one occurrence, the students enrolled — all through the app's own API.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { newUserContext } from "./browser";
import { registerPeerConnections } from "./peer-connections";
import { type SsoPerson, signInWithSso } from "./sso";

export interface Person {
  person: SsoPerson;
  context: BrowserContext;
  page: Page;
}

/**
 * Signs the person in and leaves them on the dashboard: in a new context (their own cookies and storage), or in
 * `context` when the test needs one set up its own way (a phone's viewport, an init script before the first page).
 */
export async function openPerson(browser: Browser, baseUrl: string, person: SsoPerson, context?: BrowserContext): Promise<Person> {
  context ??= await newUserContext(browser, baseUrl);
  const page = await context.newPage();
  await signInWithSso(page, baseUrl, person, "/");
  return { person, context, page };
}

/** A signed-in person and the user id the app gave them (media tiles and the class state name people by it). */
export interface IdentifiedPerson extends Person {
  userId: string;
}

/** Like openPerson, then reads the person's user id from the app. */
export async function openIdentifiedPerson(browser: Browser, baseUrl: string, person: SsoPerson, context?: BrowserContext): Promise<IdentifiedPerson> {
  const who = await openPerson(browser, baseUrl, person, context);
  const me = (await (await who.context.request.get("/api/me")).json()) as { user: { id: string } };
  return { ...who, userId: me.user.id };
}

/**
 * Like openIdentifiedPerson, in a context of their own whose pages keep every RTCPeerConnection for the test to read
 * (e2e/lib/peer-connections.ts).
 */
export async function openMediaPerson(browser: Browser, baseUrl: string, person: SsoPerson): Promise<IdentifiedPerson> {
  const context = await newUserContext(browser, baseUrl);
  await context.addInitScript(registerPeerConnections);
  return openIdentifiedPerson(browser, baseUrl, person, context);
}

/** A state-changing API call from the person's own signed-in context (same-origin, like the app). */
export async function apiPost<T>(baseUrl: string, who: Person, path: string, body: unknown): Promise<T> {
  const response = await who.context.request.post(path, { data: body, headers: { Origin: baseUrl } });
  if (!response.ok()) throw new Error(`${path}: ${response.status()} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A class of the teacher's meeting once from `startsAt` for an hour, with the students enrolled; its id. */
export async function createClassWithStudents(
  baseUrl: string,
  teacher: Person,
  students: Person[],
  options: { title: string; startsAt: number },
): Promise<string> {
  const classId = (await apiPost<{ class: { id: string } }>(baseUrl, teacher, "/api/classes", { title: options.title })).class.id;
  await apiPost(baseUrl, teacher, `/api/classes/${classId}/occurrences`, { startsAt: options.startsAt, endsAt: options.startsAt + 3_600_000, timezone: "UTC" });
  for (const student of students) await apiPost(baseUrl, student, `/api/classes/${classId}/enrollment`, {});
  return classId;
}

/** Opens the class's live page and waits until it shows the class: its title as the page's heading. */
export async function enterLiveClass(who: Person, classId: string, title: string): Promise<void> {
  await who.page.goto(`/classes/${classId}/live`);
  await who.page.getByRole("heading", { name: title, level: 1 }).waitFor();
}

/**
 * Presses Record until the class records. The class object answers "nothing to record" until it knows the
 * teacher's producers, so a press may need repeating; the button is pressed only while it is enabled and offers
 * to record (while a press is being confirmed it is disabled, and a second press would stop what is starting).
 */
export async function startRecording(page: Page, timeoutMs = 30_000): Promise<void> {
  const toggle = page.getByTestId("recording-toggle");
  const rec = page.getByTestId("rec-indicator");
  // A loop rather than expect.poll: set-ups (beforeAll) record too, and vitest allows expect.poll only in tests.
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if ((await rec.count()) === 1) return;
    if ((await toggle.isEnabled()) && (await toggle.textContent())?.includes("Record")) await toggle.click({ timeout: 1_000 }).catch(() => undefined);
    await rec.waitFor({ timeout: 3_000 }).catch(() => undefined);
  }
  throw new Error(`the recording did not start within ${timeoutMs} ms`);
}
