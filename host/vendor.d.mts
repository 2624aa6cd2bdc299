// Types of host/vendor.mjs (plain JavaScript: `npm ci` runs it before TypeScript tooling exists).
export const repo: string;
export function vendorOverrides(names?: Array<"WAMR" | "WASM3" | "PICO_SDK" | "PICOTOOL">): string[];
export function vendorDir(): string | null;
export function unpackVendor(name: "WAMR" | "WASM3" | "PICO_SDK" | "PICOTOOL" | "ESP_IDF" | "ESP_IDF_KCONFIG" | "ESPTOOL"): string;
