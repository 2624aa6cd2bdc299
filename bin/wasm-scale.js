#!/usr/bin/env node
// Entry point of the wasm-scale command: runs the TypeScript desktop host through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../host/desktop/cli.ts");
await main();
