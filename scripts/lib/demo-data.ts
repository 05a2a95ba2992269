/** The demo data that `npm start` seeds (scripts/seed.ts); the e2e tests and the start banner read it from here. */

/** Every demo account signs in with this password. */
export const DEMO_PASSWORD = "demo-password";

/** The demo accounts, in the order they are printed. */
export const DEMO_USERS = [
  { id: "demo-admin", email: "admin@insp-live.local", displayName: "Ada Admin", role: "admin" },
  { id: "demo-teacher", email: "teacher@insp-live.local", displayName: "Tycho Teacher", role: "teacher" },
  { id: "demo-student1", email: "student1@insp-live.local", displayName: "Sam Student", role: "student" },
  { id: "demo-student2", email: "student2@insp-live.local", displayName: "Sky Student", role: "student" },
  { id: "demo-student3", email: "student3@insp-live.local", displayName: "Sol Student", role: "student" },
] as const;

export const DEMO_TEACHER_EMAIL = "teacher@insp-live.local";
/** Enrolled in the demo class by the seed; student3 is left for trying enrollment. */
export const DEMO_ENROLLED_EMAILS = ["student1@insp-live.local", "student2@insp-live.local"] as const;

export const DEMO_CLASS_ID = "demo-class-astronomy";
export const DEMO_CLASS_TITLE = "Introduction to Astronomy";
