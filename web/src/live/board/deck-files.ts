import { createResource, type Resource } from "solid-js";
import { type ClassFile, ClassFilesResponseSchema } from "../../../../schema/api/files";
import { api } from "../../api";

export interface DeckFiles {
  files: Resource<ClassFile[]>;
  /** Reads the list again (a deck was just uploaded, or the presenter shows one not known here yet). */
  refetch(): void;
}

/**
 * The class's files that are decks (PDFs uploaded to teach over), newest first; read only once `wanted` is true
 * (a teacher in the room, or a board shown), so a class without a board never asks.
 */
export function createDeckFiles(classId: string, wanted: () => boolean): DeckFiles {
  const [files, { refetch }] = createResource(
    () => wanted() || undefined,
    async () => (await api(`/api/classes/${classId}/files`, ClassFilesResponseSchema)).files.filter((file) => file.deck !== null),
  );
  return { files, refetch: () => void refetch() };
}
