/** Joins a core's data segments (host/pack-data.mjs): the new binary, its text, and the counts. */
export function packData(binary: Uint8Array): { binary: Uint8Array<ArrayBuffer>; text: string; before: number; after: number };
