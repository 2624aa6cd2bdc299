// Types of host/vendor.mjs (plain JavaScript: `npm ci` runs it before TypeScript tooling exists).
export const repo: string;
export function vendorOverrides(names?: Array<"WAMR" | "WASM3">): string[];
