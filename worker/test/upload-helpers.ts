import { SELF } from "cloudflare:test";
import type { UploadCreated, UploadPart, UploadPurpose } from "../../schema/api/files";
import type { User } from "../../schema/db";
import { api, ORIGIN, sessionCookie } from "./helpers";

/** A whole upload as the web app makes it: create, every part, complete. Returns the first refusal or the completion. */
export async function upload(user: User, classId: string, fileName: string, bytes: Uint8Array, purpose: UploadPurpose = "deck"): Promise<Response> {
  const cookie = await sessionCookie(user);
  const created = await api(`/api/classes/${classId}/uploads`, { as: user, body: { fileName, sizeBytes: bytes.byteLength, purpose } });
  if (created.status !== 201) return created;
  const { uploadToken, partBytes, partCount } = await created.json<UploadCreated>();
  const parts: UploadPart[] = [];
  for (let n = 1; n <= partCount; n += 1) {
    const response = await SELF.fetch(`${ORIGIN}/api/uploads/parts/${n}`, {
      method: "PUT",
      headers: { origin: ORIGIN, cookie, "x-upload-token": uploadToken, "content-type": "application/octet-stream" },
      body: bytes.slice((n - 1) * partBytes, n * partBytes),
    });
    if (response.status !== 200) return response;
    parts.push(await response.json<UploadPart>());
  }
  return SELF.fetch(`${ORIGIN}/api/uploads/complete`, {
    method: "POST",
    headers: { origin: ORIGIN, cookie, "x-upload-token": uploadToken, "content-type": "application/json" },
    body: JSON.stringify({ parts }),
  });
}
