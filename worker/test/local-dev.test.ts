import { describe, expect, it } from "vitest";
import type { OutboxResponse } from "../../schema/api/notifications";
import { outboxMessages } from "../../schema/db";
import { hashPassword } from "../auth/password";
import { api, createUser, db, ORIGIN } from "./helpers";
import { fetchWithEnv, getWithEnv } from "./with-env";

/** Puts one message in the local outbox, as a reminder sent without provider keys would. */
async function outboxMessage(destination: string) {
  await db.insert(outboxMessages).values({
    id: `outbox-${crypto.randomUUID()}`,
    notificationId: null,
    channel: "email",
    destination,
    subject: "Reminder: Physics starts in 1 hour",
    text: "Join: http://localhost/classes/x",
    html: null,
    attachments: [],
    createdAt: Date.now(),
  });
}

describe("the outbox view is a local-only helper", () => {
  it("without LOCAL_DEV (production) even an admin gets 404 saying it exists only in local development", async () => {
    const admin = await createUser("admin");
    await outboxMessage(`prod-${crypto.randomUUID()}@example.test`);
    for (const response of [await api("/api/admin/outbox", { as: admin }), await getWithEnv("/api/admin/outbox", { LOCAL_DEV: undefined }, admin)]) {
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: { code: "NOT_FOUND", message: "The outbox exists only in local development (LOCAL_DEV=true, set by npm start)" },
      });
    }
  });

  it.each(["1", "yes", "TRUE", ""])("LOCAL_DEV=%j is not local development", async (value) => {
    const admin = await createUser("admin");
    expect((await getWithEnv("/api/admin/outbox", { LOCAL_DEV: value }, admin)).status).toBe(404);
  });

  it("with LOCAL_DEV=true admins read it, others are still refused", async () => {
    const admin = await createUser("admin");
    const teacher = await createUser("teacher");
    const destination = `local-${crypto.randomUUID()}@example.test`;
    await outboxMessage(destination);

    const response = await getWithEnv("/api/admin/outbox", { LOCAL_DEV: "true" }, admin);
    expect(response.status).toBe(200);
    const outbox = (await response.json()) as OutboxResponse;
    expect(outbox.messages.find((message) => message.destination === destination)).toMatchObject({ subject: "Reminder: Physics starts in 1 hour" });

    expect((await getWithEnv("/api/admin/outbox", { LOCAL_DEV: "true" }, teacher)).status).toBe(403);
    expect((await getWithEnv("/api/admin/outbox", { LOCAL_DEV: "true" })).status).toBe(401);
  });
});

describe("seeded demo accounts are local-only", () => {
  const DEMO_PASSWORD = "demo-password";

  function login(email: string, localDev: string | undefined): Promise<Response> {
    const request = new Request(`${ORIGIN}/api/auth/login`, {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/json", "cf-connecting-ip": `192.0.2.${crypto.randomUUID()}` },
      body: JSON.stringify({ email, password: DEMO_PASSWORD }),
    });
    return fetchWithEnv(request, { LOCAL_DEV: localDev });
  }

  it.each([
    ["a seeded id", { id: `demo-${crypto.randomUUID()}` }],
    ["a demo address", { email: `student-${crypto.randomUUID().slice(0, 8)}@insp-live.local` }],
  ])("an account with %s and the published password is refused without LOCAL_DEV and works with it", async (_what, identity) => {
    const demo = await createUser("admin", { ...identity, passwordHash: await hashPassword(DEMO_PASSWORD) });
    for (const localDev of [undefined, "false"]) {
      const refused = await login(demo.email, localDev);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({
        error: { code: "FORBIDDEN", message: "Demo accounts can sign in only in local development (LOCAL_DEV=true, set by npm start)" },
      });
      expect(refused.headers.getSetCookie().some((cookie) => cookie.startsWith("insp_live_session="))).toBe(false);
    }
    const allowed = await login(demo.email, "true");
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { user: { id: string } }).user.id).toBe(demo.id);
  });
});
