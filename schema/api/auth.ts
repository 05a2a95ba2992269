/**
 * The sign-in and profile API shapes: valibot schemas for the request bodies of POST /api/auth/login and
 * PATCH /api/me, and the PublicUser schema every user-returning endpoint answers with.
 * Shared by the Worker (which parses every request with these) and the web app.
 *
 * Request bodies are strict: unknown fields are refused.
 */
import * as v from "valibot";
import { EmailSchema, LIMITS, ROLE_VALUES, TimeZoneSchema } from "./portal";

export type Role = (typeof ROLE_VALUES)[number];

/** What the API shows of a user: never the password hash, insp id or calendar secret. */
export const PublicUserSchema = v.object({
  id: v.string(),
  email: v.string(),
  displayName: v.string(),
  role: v.picklist(ROLE_VALUES),
  /** IANA time zone the user sees times in and gets reminders in. */
  timezone: v.string(),
  /** False until a zone was chosen (insp's claim, the first visit's browser zone, or Settings). */
  timezoneChosen: v.boolean(),
  /** E.164, e.g. "+4915112345678"; null when the user gave none. */
  phone: v.nullable(v.string()),
  remindByEmail: v.boolean(),
  remindBySms: v.boolean(),
});
export type PublicUser = v.InferOutput<typeof PublicUserSchema>;

/** GET /api/me, PATCH /api/me, POST /api/auth/login, PATCH /api/admin/users/:id, POST /api/admin/users. */
export const UserResponseSchema = v.object({ user: PublicUserSchema });
export type UserResponse = v.InferOutput<typeof UserResponseSchema>;

/** GET /api/admin/users. */
export const AdminUserListResponseSchema = v.object({ users: v.array(PublicUserSchema) });
export type AdminUserListResponse = v.InferOutput<typeof AdminUserListResponseSchema>;

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{1,14}$/;

export const PhoneSchema = v.pipe(v.string(), v.regex(E164_PATTERN, "Phone must be in E.164 form, e.g. +4915112345678"));

export const DisplayNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, "Display name is empty"),
  v.maxLength(LIMITS.displayNameLength, `Display name is longer than ${LIMITS.displayNameLength} characters`),
);

/** POST /api/auth/login. The password is not trimmed: spaces may be part of it. */
export const LoginSchema = v.strictObject({
  email: EmailSchema,
  password: v.pipe(v.string(), v.minLength(1, "Password is empty"), v.maxLength(LIMITS.passwordMaxLength, "Password is too long")),
});
export type LoginBody = v.InferInput<typeof LoginSchema>;

/**
 * PATCH /api/me: every field optional; `phone: null` removes the number. Turning SMS reminders on needs a
 * phone number (given here or already on the account); the Worker checks that against the merged result.
 */
export const MePatchSchema = v.strictObject({
  displayName: v.optional(DisplayNameSchema),
  timezone: v.optional(TimeZoneSchema),
  phone: v.optional(v.nullable(PhoneSchema)),
  remindByEmail: v.optional(v.boolean()),
  remindBySms: v.optional(v.boolean()),
});
/** The body the web app sends (before the Worker normalizes the time zone and trims the name). */
export type MePatch = v.InferInput<typeof MePatchSchema>;
