/**
 * Wraps user-written text (a name, a class title) in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE for places
 * that take a plain string (toasts, confirm dialogs, labels), where a <bdi> element cannot go: a name holding an
 * RTL override (U+202E) or Arabic letters then cannot reorder the words or numbers around it.
 */
export function isolate(text: string): string {
  return `\u2068${text}\u2069`;
}
