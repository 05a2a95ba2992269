import type { ClassRow, User } from "../../schema/db";
import { ApiError } from "../errors";

type Viewer = Pick<User, "id" | "role">;

/** Admins manage every class; a teacher manages the classes they teach. */
export function canManageClass(user: Viewer | null, cls: Pick<ClassRow, "teacherId">): boolean {
  return user !== null && (user.role === "admin" || user.id === cls.teacherId);
}

/** Throws FORBIDDEN unless `user` may manage `cls`. */
export function requireManageClass(user: Viewer, cls: Pick<ClassRow, "teacherId">): void {
  if (!canManageClass(user, cls)) throw new ApiError("FORBIDDEN", "Only this class's teacher or an admin may do this");
}

/**
 * Archived classes disappear from the catalog but stay reachable for the people who manage them and for
 * students already enrolled (they may still want the class page and its recordings).
 */
export function canViewClass(user: Viewer, cls: Pick<ClassRow, "teacherId" | "status">, enrolled: boolean): boolean {
  return cls.status === "active" || enrolled || canManageClass(user, cls);
}

/** Teachers and admins create classes. */
export function canCreateClass(user: Viewer): boolean {
  return user.role === "teacher" || user.role === "admin";
}

/**
 * Blocks: admins may block anyone, globally or for any class; a teacher only for a class they teach.
 * (Whether the class exists and who teaches it is checked by the caller.)
 */
export function canBlock(user: Viewer, target: { global: true } | { global: false; cls: Pick<ClassRow, "teacherId"> }): boolean {
  if (user.role === "admin") return true;
  return !target.global && user.role === "teacher" && target.cls.teacherId === user.id;
}
