/**
 * The people panel of a large class in the browser: a teacher and a student in Chromium and a crowd of
 * browserless students on the class channel (more than one page of the list). The teacher sees everyone; the
 * student sees the head count, the teacher and themselves, and pages and searches the whole class on demand.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { type Account, ClassChannel, signIn } from "./lib/class-channel";
import { apiPost, createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** More than one page of the web app's list (25 a page). */
const CROWD = 27;
const crowdName = (index: number) => `Crowd ${String(index).padStart(2, "0")}`;

async function openPeople(page: Page): Promise<void> {
  await page.getByRole("tab", { name: /^People/ }).click();
}

describe("the people panel of a large class", () => {
  let browser: Browser;
  let teacher: Person;
  let anna: Person;
  const crowd: { account: Account; channel: ClassChannel }[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tess Teacher"));
    anna = await openPerson(browser, baseUrl, newPerson("student", "Anna Student"));
    const classId = await createClassWithStudents(baseUrl, teacher, [anna], { title: "Big lecture", startsAt: Date.now() + 5 * 60_000 });
    await enterLiveClass(teacher, classId, "Big lecture");
    // Ten at a time: each signs in through SSO, is enrolled by the teacher and opens the class channel.
    for (let start = 0; start < CROWD; start += 10) {
      const batch = Array.from({ length: Math.min(10, CROWD - start) }, (_, offset) => start + offset);
      crowd.push(
        ...(await Promise.all(
          batch.map(async (index) => {
            const account = await signIn(baseUrl, "student", crowdName(index));
            await apiPost(baseUrl, teacher, `/api/classes/${classId}/enrollments`, { email: account.person.email });
            return { account, channel: await ClassChannel.join(baseUrl, account, classId) };
          }),
        )),
      );
    }
    await enterLiveClass(anna, classId, "Big lecture");
  });

  afterAll(async () => {
    for (const { channel } of crowd) channel.close();
    await browser?.close();
  });

  it("everyone sees the head count; the teacher sees the whole list, a student the teacher and themselves", async () => {
    const total = CROWD + 2;
    for (const who of [teacher, anna]) {
      await openPeople(who.page);
      await who.page.getByTestId("head-count").getByText(`${total} in class`).waitFor();
    }
    const teacherList = teacher.page.getByTestId("participants");
    for (const name of ["Tess Teacher", "Anna Student", crowdName(0), crowdName(CROWD - 1)]) await teacherList.getByText(name).waitFor();
    expect(await teacherList.locator("li").count()).toBe(total);

    const annaList = anna.page.getByTestId("participants");
    await annaList.getByText("Tess Teacher").waitFor();
    await annaList.getByText("Anna Student").waitFor();
    expect(await annaList.locator("li").count()).toBe(2);
  });

  it("a raised hand brings that student into the other students' list", async () => {
    await crowd[7]!.channel.request("hand.raise", {});
    const annaList = anna.page.getByTestId("participants");
    await annaList
      .locator("li", { hasText: crowdName(7) })
      .getByLabel("hand raised")
      .waitFor();
    await crowd[7]!.channel.request("hand.lower", {});
    await annaList.getByText(crowdName(7)).waitFor({ state: "detached" });
  });

  it("a student opens Show everyone: a page, Load more for the rest, and a search by name", async () => {
    await anna.page.getByRole("button", { name: "Show everyone" }).click();
    const dialog = anna.page.getByRole("dialog", { name: "Everyone in the class" });
    const everyone = dialog.getByTestId("everyone");
    await everyone.getByText("Tess Teacher").waitFor();
    expect(await everyone.locator("li").count()).toBe(25);
    await dialog.getByRole("button", { name: "Load more" }).click();
    await everyone.getByText("Anna Student").waitFor();
    expect(await everyone.locator("li").count()).toBe(CROWD + 2);
    await dialog.getByRole("button", { name: "Load more" }).waitFor({ state: "detached" });

    await dialog.getByLabel("Search by name").fill("crowd 1");
    // A batch of ten joined at once, so their join order is theirs to pick: compare as sets.
    await expect.poll(async () => (await everyone.locator("li").allTextContents()).sort()).toEqual(Array.from({ length: 10 }, (_, i) => crowdName(10 + i)));
    await dialog.getByLabel("Search by name").fill("nobody like this");
    await everyone.getByText("Nobody by that name is in the class.").waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "detached" });
  });
});
