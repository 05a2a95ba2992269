import path from "node:path";
import { log } from "../log";
import type { PieceOptions } from "../recording/pieces";
import { type RecordingStore, recordingPrefix } from "./s3";

/**
 * Uploads a recording's playable form as the recorder composes it: every piece and sound segment under
 * `classes/<classId>/recordings/<recordingId>/live/` as soon as it is written, so at the stop only the tail
 * and the playlists are left to send; then `onPlayableUrl` gets the master playlist's public URL.
 *
 * Uploads run one after another in the background and never hold composing up. One that fails is tried once
 * more at the stop; if it fails again there is no playable form (the recording still becomes playable when
 * its ladder is ready).
 */
export function playableUpload(
  store: RecordingStore,
  classId: string,
  recordingId: string,
  onPlayableUrl: (url: string) => void,
  pieceSeconds?: number,
): PieceOptions {
  const prefix = `${recordingPrefix(classId, recordingId)}live/`;
  const failed: string[] = [];
  let queue: Promise<void> = Promise.resolve();
  const upload = async (file: string) => {
    await store.uploadFile(file, prefix + path.basename(file));
  };
  return {
    pieceSeconds,
    onFile: (file) => {
      queue = queue.then(() =>
        upload(file).catch((error: unknown) => {
          log("warn", "recording_piece_upload_failed", { recordingId, file: path.basename(file), error: String(error) });
          failed.push(file);
        }),
      );
      return Promise.resolve();
    },
    onPlayable: async (master) => {
      await queue;
      try {
        for (const file of failed.splice(0)) await upload(file);
        await upload(master);
      } catch (error) {
        log("error", "recording_playable_upload_failed", { recordingId, error: String(error) });
        return;
      }
      onPlayableUrl(store.publicUrl(prefix + path.basename(master)));
    },
  };
}
