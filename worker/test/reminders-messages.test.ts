import { describe, expect, it } from "vitest";
import { fitSms, gsm7Length, isGsm7, smsMeasure } from "../reminders/gsm7";
import { buildSms, type MessageContext } from "../reminders/messages";

const context = (title: string, overrides: Partial<MessageContext> = {}): MessageContext => ({
  kind: { type: "reminder", minutes: 10, revision: 0 },
  classId: "0b6f7c52-5d1a-4c8e-9a55-1f1f3f0c2a77",
  classTitle: title,
  occurrenceId: "occ",
  startsAt: Date.UTC(2027, 5, 1, 16, 0),
  endsAt: Date.UTC(2027, 5, 1, 17, 0),
  revision: 0,
  recipientName: "Ana",
  recipientTimezone: "Europe/Lisbon",
  publicUrl: "https://live.insp.example",
  ...overrides,
});

describe("SMS text", () => {
  it("fits one 160-character GSM-7 segment with the title, local time and join link", () => {
    const sms = buildSms(context("Linear algebra"));
    expect(sms).toBe(
      "Linear algebra starts in 10 min, Tue 1 Jun 17:00 WEST. Join: https://live.insp.example/classes/0b6f7c52-5d1a-4c8e-9a55-1f1f3f0c2a77/live",
    );
    expect(isGsm7(sms)).toBe(true);
    expect(gsm7Length(sms)).toBeLessThanOrEqual(160);
  });

  it("shortens a long title instead of spilling into a second segment", () => {
    const sms = buildSms(context("An unusually long class title about the history of mathematics in medieval Europe"));
    expect(smsMeasure(sms)).toMatchObject({ encoding: "GSM-7" });
    expect(smsMeasure(sms).units).toBeLessThanOrEqual(160);
    expect(sms).toMatch(/^An unusually long .*\.\.\. starts in 10 min/);
  });

  it("replaces typographic characters and accents with GSM-7 look-alikes, keeping what GSM-7 has", () => {
    expect(fitSms("{title}", "“Café” – Łódź ñ é")).toBe('"Café" - Lodz ñ é');
    // Extension characters cost two septets.
    expect(gsm7Length("[x]€")).toBe(7);
  });

  it("keeps a title with no GSM-7 form and fits one 70-unit UCS-2 segment where possible", () => {
    const sms = fitSms("{title}: 10 min", "线性代数入门课程");
    expect(smsMeasure(sms)).toEqual({ encoding: "UCS-2", segment: 70, units: sms.length });
    expect(sms).toBe("线性代数入门课程: 10 min");
  });
});
