/** Page size when a list request names none; every list is capped at LIMITS.pageMax (200) by its schema. */
export const DEFAULT_PAGE_SIZE = 100;

/** Fills in the defaults of the optional `limit` / `offset` query parameters. */
export function page(query: { limit?: number; offset?: number }): { limit: number; offset: number } {
  return { limit: query.limit ?? DEFAULT_PAGE_SIZE, offset: query.offset ?? 0 };
}
