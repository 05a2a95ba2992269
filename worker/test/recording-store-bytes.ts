/**
 * The bytes the look-alike recordings store (worker/test/global/recording-store.ts) serves for every composed
 * `source.mp4`: an MP4 `ftyp` box followed by a pattern, so a test can tell the whole file, or any range of it,
 * arrived unchanged.
 */
export const STORED_SOURCE_BYTES = 96 * 1024;

export function storedSource(): Uint8Array {
  const bytes = new Uint8Array(STORED_SOURCE_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  // size 24, "ftyp", brand "isom": what `file` and players look for first.
  bytes.set([0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d], 0);
  return bytes;
}
