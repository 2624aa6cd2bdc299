// What this core is, for the module manager that installs cores over the air (assembly/manager/
// core.ts): its release version (package.json's; tests/core-update.test.ts checks they agree) and
// the version of its state stream (state.ts). A core package names both in its manifest; the
// firmware's own core is this one.

/** The release, major << 16 | minor << 8 | patch. */
export const CORE_VERSION: u32 = (0 << 16) | (2 << 8) | 0;

/** The state stream's layout (state.ts): a core whose stream differs starts from the blobs. */
export const STATE_VERSION: i32 = 6;
