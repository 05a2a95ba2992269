import { jwtVerify } from "jose";
import * as v from "valibot";
import {
  DOWNLOAD_TOKEN_AUDIENCE,
  DOWNLOAD_TOKEN_LIFETIME_SECONDS,
  type DownloadTokenClaims,
  DownloadTokenClaimsSchema,
} from "../../schema/api/recording-viewer";
import type { Recording } from "../../schema/db";
import { CLASS_TOKEN_ISSUER } from "../../schema/tokens/class-token";
import { signWorkerToken, workerPublicKey } from "../auth/keys";
import type { Env } from "../env";

/**
 * The public URL of a recording's composed MP4 (`recordings.source_key`), or null while none can be formed.
 *
 * The sfu-node stores every file of a recording under one prefix (`classes/<class>/recordings/<id>/`) and reports
 * each file's public URL as `<S3_PUBLIC_URL>/<key>`; the Worker has no setting of its own for that base, so it
 * reads it off a URL the node already reported for the same recording. A recording whose source is stored but
 * that has no other URL yet (still packaging) cannot be downloaded until one arrives.
 */
export function sourceUrlOf(
  recording: Pick<Recording, "sourceKey" | "playableUrl" | "dashManifestUrl" | "hlsManifestUrl" | "posterUrl" | "thumbnailsVttUrl">,
): string | null {
  const key = recording.sourceKey;
  if (!key) return null;
  const slash = key.lastIndexOf("/");
  if (slash <= 0) return null;
  const prefix = `/${key.slice(0, slash + 1)}`;
  for (const url of [recording.playableUrl, recording.dashManifestUrl, recording.hlsManifestUrl, recording.posterUrl, recording.thumbnailsVttUrl]) {
    const at = url?.indexOf(prefix) ?? -1;
    if (url && at >= 0) return `${url.slice(0, at)}/${key}`;
  }
  return null;
}

/**
 * Whether the viewer may download: the class's teacher and admins always; an enrolled student who is not blocked
 * from the class only while the teacher lets students download (`classes.recording_downloads`).
 */
export function mayDownload(viewer: { manages: boolean; enrolled: boolean; blocked: boolean }, downloadsAllowed: boolean): boolean {
  return viewer.manages || (downloadsAllowed && viewer.enrolled && !viewer.blocked);
}

/** A download token for `userId` and one recording, valid for {@link DOWNLOAD_TOKEN_LIFETIME_SECONDS}. */
export function signDownloadToken(env: Env, userId: string, recordingId: string): Promise<string> {
  return signWorkerToken(
    env,
    { recordingId },
    {
      issuer: CLASS_TOKEN_ISSUER,
      audience: DOWNLOAD_TOKEN_AUDIENCE,
      subject: userId,
      expiresInSeconds: DOWNLOAD_TOKEN_LIFETIME_SECONDS,
    },
  );
}

/** The claims of a valid download token, or null (bad signature, another audience, expired, malformed). */
export async function verifyDownloadToken(env: Env, token: string): Promise<DownloadTokenClaims | null> {
  try {
    const { payload } = await jwtVerify(token, await workerPublicKey(env), {
      issuer: CLASS_TOKEN_ISSUER,
      audience: DOWNLOAD_TOKEN_AUDIENCE,
      algorithms: ["ES256"],
    });
    const claims = v.safeParse(DownloadTokenClaimsSchema, payload);
    return claims.success ? claims.output : null;
  } catch {
    return null;
  }
}

/**
 * `Content-Disposition` that saves the file as `name`.mp4: a plain ASCII `filename` for old clients and the
 * exact name, UTF-8 encoded, in `filename*` (RFC 6266).
 */
export function attachmentDisposition(name: string): string {
  const base =
    name
      .normalize("NFC")
      .replace(/[\\/:*?"<>|\p{Cc}]+/gu, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 120) || "recording";
  const ascii =
    base
      .normalize("NFKD")
      .replace(/[^\x20-\x7e]/g, "")
      .replace(/%/g, "") || "recording";
  return `attachment; filename="${ascii}.mp4"; filename*=UTF-8''${encodeURIComponent(`${base}.mp4`)}`;
}
