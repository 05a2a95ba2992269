/**
 * The foundation, as a student sees it: arrive from the insp site already signed in, find the calendar, open
 * the demo class, enroll and rate it — against the whole stack started as `npm start` starts it.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEMO_CLASS_TITLE, DEMO_ENROLLED_EMAILS } from "../scripts/lib/demo-data";
import { launchBrowser, newUserContext } from "./lib/browser";
import { newPerson, signInWithSso } from "./lib/sso";

const baseUrl = inject("baseUrl");

describe("a student arriving from the insp site", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const student = newPerson("student", "Erin Example");

  beforeAll(async () => {
    browser = await launchBrowser();
    context = await newUserContext(browser, baseUrl);
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("is signed in by the SSO link and lands on the calendar", async () => {
    await signInWithSso(page, baseUrl, student, "/calendar");
    await page.getByRole("heading", { name: "Calendar", level: 1 }).waitFor();
    expect(await page.getByText(student.name, { exact: true }).first().isVisible()).toBe(true);
  });

  it("opens the demo class from the class list", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Classes" }).click();
    await page.getByRole("link", { name: DEMO_CLASS_TITLE }).click();
    await page.getByRole("heading", { name: DEMO_CLASS_TITLE, level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/classes\/[^/]+$/);
    // The seed enrolls two students and nobody has rated the class yet.
    expect(await page.getByText("2 enrolled").isVisible()).toBe(true);
    expect(await page.getByText("No ratings yet").isVisible()).toBe(true);
  });

  it("enrolls, and the page shows it", async () => {
    await page.getByRole("button", { name: "Enroll", exact: true }).click();
    await page.getByText("Enrolled", { exact: true }).waitFor();
    expect(await page.getByRole("button", { name: "Leave class" }).isVisible()).toBe(true);
    expect(await page.getByText("3 enrolled").isVisible()).toBe(true);
  });

  it("may rate the class only after attending it, and the page says so", async () => {
    await page.getByTestId("rate-refusal").getByText("Rate this class after you have attended it.").waitFor();
    expect(await page.getByRole("radiogroup", { name: "Rating" }).count()).toBe(0);
  });

  it("still sees the enrollment after reloading", async () => {
    await page.reload();
    await page.getByRole("heading", { name: DEMO_CLASS_TITLE, level: 1 }).waitFor();
    expect(await page.getByText("Enrolled", { exact: true }).isVisible()).toBe(true);
  });

  it("finds the class on the calendar once enrolled", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Calendar" }).click();
    await page.getByRole("heading", { name: "Calendar", level: 1 }).waitFor();
    await page.getByText(DEMO_CLASS_TITLE).first().waitFor();
  });
});

describe("a student who attended the class", () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    page = await (await newUserContext(browser, baseUrl)).newPage();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("rates it and sees the new average, kept after reloading", async () => {
    // A demo student the seed enrolled, who attended last week's session, arriving from the insp site.
    await signInWithSso(page, baseUrl, { email: DEMO_ENROLLED_EMAILS[0], name: "Sam Student", role: "student" }, "/classes");
    await page.getByRole("link", { name: DEMO_CLASS_TITLE }).click();
    await page.getByRole("heading", { name: DEMO_CLASS_TITLE, level: 1 }).waitFor();
    await page.getByRole("radiogroup", { name: "Rating" }).getByRole("radio", { name: "4 stars" }).check();
    await page.getByRole("button", { name: "Submit rating" }).click();
    await page.getByText(/4\.0 out of 5 \(\d+ ratings?\)/).waitFor();
    await page.reload();
    expect(await page.getByRole("radio", { name: "4 stars" }).isChecked()).toBe(true);
  });
});
