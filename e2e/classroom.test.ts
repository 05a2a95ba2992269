/**
 * A live class in the browser: a teacher and two students in one class chat with emoji, run a poll and raise
 * a hand — three real Chromium contexts against the whole stack started as `npm start` starts it.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");

/** The classroom's side panel shows one tab at a time: open the one whose contents the next step uses. */
async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole("tab", { name: new RegExp(`^${name}`) }).click();
}

describe("a live class in the browser", () => {
  let browser: Browser;
  let teacher: Person;
  let anna: Person;
  let ben: Person;
  let classId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tess Teacher"));
    anna = await openPerson(browser, baseUrl, newPerson("student", "Anna Student"));
    ben = await openPerson(browser, baseUrl, newPerson("student", "Ben Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [anna, ben], { title: "Live chemistry", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, anna, ben]) await enterLiveClass(who, classId, "Live chemistry");
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("everyone sees the head count and the teacher with their role; the teacher sees every student", async () => {
    for (const who of [teacher, anna, ben]) {
      await openTab(who.page, "People");
      await who.page.getByTestId("head-count").getByText("3 in class").waitFor();
      const people = who.page.getByTestId("participants");
      const names = who === teacher ? ["Tess Teacher", "Anna Student", "Ben Student"] : ["Tess Teacher", who === anna ? "Anna Student" : "Ben Student"];
      for (const name of names) await people.getByText(name).waitFor();
      expect(await people.locator("li").count()).toBe(names.length);
      expect(await people.locator("li", { hasText: "Tess Teacher" }).getByText("teacher", { exact: true }).isVisible()).toBe(true);
    }
  });

  it("a student chats with an emoji from the picker and everyone receives it", async () => {
    for (const who of [teacher, anna, ben]) await openTab(who.page, "Chat");
    const input = anna.page.getByLabel("Message");
    await input.fill("Good morning ");
    await anna.page.getByRole("button", { name: "Insert emoji" }).click();
    const firstEmoji = anna.page.locator("emoji-picker").getByRole("menuitem").first();
    await firstEmoji.waitFor();
    const label = (await firstEmoji.getAttribute("aria-label")) ?? "";
    const emoji = label.split(",")[0]!.trim();
    expect(emoji.length).toBeGreaterThan(0);
    await firstEmoji.click();
    await expect.poll(() => input.inputValue()).toBe(`Good morning ${emoji}`);
    await anna.page.getByRole("button", { name: "Send" }).click();
    for (const who of [teacher, anna, ben]) await who.page.getByTestId("chat-list").getByText(`Good morning ${emoji}`).waitFor();

    await ben.page.getByLabel("Message").fill("Hi 👋🏽 🇯🇵");
    await ben.page.getByLabel("Message").press("Enter");
    for (const who of [teacher, anna]) await who.page.getByTestId("chat-list").getByText("Hi 👋🏽 🇯🇵").waitFor();
  });

  it("a message over the length limit is said in place and cannot be sent", async () => {
    const input = ben.page.getByLabel("Message");
    await input.fill("x".repeat(2010));
    await ben.page.getByTestId("chat-length").getByText("10 characters too long (2010 / 2000): shorten the message to send it.").waitFor();
    expect(await ben.page.getByRole("button", { name: "Send" }).isDisabled()).toBe(true);
    await input.press("Enter");
    await input.fill("x".repeat(1990));
    expect(await ben.page.getByRole("button", { name: "Send" }).isDisabled()).toBe(false);
    expect(await ben.page.getByTestId("chat-length").textContent()).toBe("1990 / 2000");
    await input.fill("");
    expect(await teacher.page.getByTestId("chat-list").getByText("x".repeat(2010)).count()).toBe(0);
  });

  it("the teacher runs a poll: live counts for the teacher, results for students once published", async () => {
    for (const who of [teacher, anna, ben]) await openTab(who.page, "Polls");
    await teacher.page.getByRole("button", { name: "New poll" }).click();
    await teacher.page.getByLabel("Question").fill("Which is a noble gas?");
    await teacher.page.getByPlaceholder("Option 1").fill("Neon");
    await teacher.page.getByPlaceholder("Option 2").fill("Nitrogen");
    await teacher.page.getByRole("button", { name: "Start poll" }).click();

    for (const [student, answer] of [
      [anna, "Neon"],
      [ben, "Neon"],
    ] as const) {
      const poll = student.page.getByTestId("poll").filter({ hasText: "Which is a noble gas?" });
      await poll.getByLabel(answer, { exact: true }).check();
      await poll.getByRole("button", { name: "Vote" }).click();
      await poll.getByText("Your vote is in.").waitFor();
      expect(await poll.getByTestId("poll-count").count()).toBe(0);
    }
    const teacherPoll = teacher.page.getByTestId("poll").filter({ hasText: "Which is a noble gas?" });
    await teacherPoll.getByText("2 voted").waitFor();
    await teacherPoll.getByRole("img", { name: "Neon: 2 votes" }).waitFor();

    await teacherPoll.getByRole("button", { name: "Publish results" }).click();
    const annaPoll = anna.page.getByTestId("poll").filter({ hasText: "Which is a noble gas?" });
    await annaPoll.getByText("Results").waitFor();
    await annaPoll.getByRole("img", { name: "Neon: 2 votes" }).waitFor();
    await annaPoll.getByRole("img", { name: "Nitrogen: 0 votes" }).waitFor();
  });

  it("a student raises a hand; the teacher sees the queue and lowers it", async () => {
    await openTab(teacher.page, "People");
    await ben.page.getByRole("button", { name: "✋ Raise hand" }).click();
    const queue = teacher.page.getByTestId("hand-queue");
    await queue.getByText("Ben Student").waitFor();
    // Another student sees Ben with his hand up, though not before.
    await openTab(anna.page, "People");
    await anna.page.getByTestId("participants").locator("li", { hasText: "Ben Student" }).getByLabel("hand raised").waitFor();
    await queue.getByRole("button", { name: "Lower" }).click();
    await queue.waitFor({ state: "detached" });
    await ben.page.getByRole("button", { name: "✋ Raise hand" }).waitFor();
    await anna.page.getByTestId("participants").getByText("Ben Student").waitFor({ state: "detached" });
  });
});
