import type { PublicUser } from "../../schema/api/auth";
import type { User } from "../../schema/db";

/** The wire shape of a user row: what the user (or an admin) may see, never the password hash or secrets. */
export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    timezone: user.timezone,
    timezoneChosen: user.timezoneChosenAt !== null,
    phone: user.phone,
    remindByEmail: user.remindByEmail,
    remindBySms: user.remindBySms,
  };
}
