import { eq } from "drizzle-orm";
import { type Recording, recordings } from "../../schema/db";
import type { Db } from "../db";
import { ApiError } from "../errors";

/** The recording's row, or NOT_FOUND. */
export async function loadRecordingRow(db: Db, id: string): Promise<Recording> {
  const row = await db.query.recordings.findFirst({ where: eq(recordings.id, id) });
  if (!row) throw new ApiError("NOT_FOUND", "No such recording (it may have been deleted)");
  return row;
}
