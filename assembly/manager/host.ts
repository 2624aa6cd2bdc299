// What the module manager asks of its host: the few things that must be native. Storage (two
// package slots, each slot's parameters, the manager's own state), the signature check and the
// hash (mbedTLS on the firmwares, node:crypto on the desktop), the module instances themselves
// (loaded, called under a budget, linked to the core) and the way out for answers. Every decision
// about them is the manager's (assembly/manager); the hosts only do as they are asked.

// ---- storage -------------------------------------------------------------------------------------
/** Reads len bytes of slot 0/1 from offset into ptr; the count read, or -1. */
@external("mgr", "slot_read") export declare function slot_read(slot: i32, offset: u32, ptr: usize, len: u32): i32;
/** Empties a slot before a package is written to it; 1 when done. */
@external("mgr", "slot_erase") export declare function slot_erase(slot: i32): i32;
/** Writes the payload of the message being handled to slot at offset; 1 when done. */
@external("mgr", "slot_write_message") export declare function slot_write_message(slot: i32, offset: u32): i32;
/** The SHA-256 of len bytes of a slot from offset, written to out (32 bytes); 1 when done. */
@external("mgr", "slot_sha256") export declare function slot_sha256(slot: i32, offset: u32, len: u32, out: usize): i32;
/** The most a slot holds (bytes). */
@external("mgr", "slot_capacity") export declare function slot_capacity(): u32;
/** Keeps a slot's parameter blob; 1 when done. */
@external("mgr", "params_put") export declare function params_put(slot: i32, ptr: usize, len: u32): i32;
/** A slot's parameter blob into ptr (at most cap); its length, 0 when there is none. */
@external("mgr", "params_get") export declare function params_get(slot: i32, ptr: usize, cap: u32): i32;
/** Keeps the manager's state (a few dozen bytes, replaced whole: old or new after a power cut). */
@external("mgr", "state_put") export declare function state_put(ptr: usize, len: u32): i32;

// ---- the message being handled, the signature --------------------------------------------------
/** Copies the current message's payload into ptr (at most cap); its full length. */
@external("mgr", "message_read") export declare function message_read(ptr: usize, cap: u32): i32;
/**
 * Checks the ECDSA P-256 / SHA-256 signature (sig_len bytes of the slot at sig_at) over the
 * manifest (man_len bytes at man_at) against the keys the host trusts, those whose id is key
 * (key_len 16 hex digits; 0: any). 0 verified, 1 no trusted key of that id, 2 does not verify.
 */
@external("mgr", "verify") export declare function verify(slot: i32, man_at: u32, man_len: u32, sig_at: u32, sig_len: u32, key: usize, key_len: i32): i32;

// ---- module instances: 0 active, 1 previous, 2 candidate ----------------------------------------
/** Bytes of the module as it is to be loaded, for hosts that meter modules by rewriting them. */
@external("mgr", "code_out") export declare function code_out(ptr: usize, len: u32): void;
/**
 * Loads handle h from len bytes of slot at offset (or the code_out bytes, on a metering host):
 * validated by the engine and instantiated. 0, or 1 not loadable (BAD_MODULE) / 2 no memory
 * (MEMORY) with the engine's words at err (at most cap bytes; their length in the high 16 bits).
 */
@external("mgr", "mod_load") export declare function mod_load(h: i32, slot: i32, offset: u32, len: u32, err: usize, cap: i32): i32;
@external("mgr", "mod_free") export declare function mod_free(h: i32): void;
@external("mgr", "mod_swap") export declare function mod_swap(a: i32, b: i32): void;
/** Calls an i32 export of handle h on the host's budget (fn: see FN_ in manager.ts); i32.MIN_VALUE when it failed. */
@external("mgr", "mod_call") export declare function mod_call(h: i32, fn: i32, a: i32, b: i32): i32;
/** cal_gain of handle h on the host's eval budget; NaN when it failed. */
@external("mgr", "mod_gain") export declare function mod_gain(h: i32, c0: f64, c1: f64, c2: f64, c3: f64): f64;
/** cal_curve of handle h at a temperature on the host's other budget; i32.MIN_VALUE when it failed. */
@external("mgr", "mod_curve") export declare function mod_curve(h: i32, t: f64): i32;
/** The first failure of h's calls since it was cleared: 0 none, 1 trapped, 2 ran past its budget, with the engine's words at ptr (length in the high 16 bits). */
@external("mgr", "mod_failure") export declare function mod_failure(h: i32, ptr: usize, cap: i32): i32;
@external("mgr", "mod_clear") export declare function mod_clear(h: i32): void;
/** Copies len bytes between handle h's memory at addr and ptr (to: 1 into the module); 1 when in bounds. */
@external("mgr", "mod_memory") export declare function mod_memory(h: i32, addr: u32, ptr: usize, len: u32, to: i32): i32;
/** Links the core's calib imports to the active handle (on 1) or back to its built-in curve (0); the core's answer. */
@external("mgr", "core_link") export declare function core_link(on: i32): i32;

// ---- the core itself ----------------------------------------------------------------------------
/**
 * Replaces the running core with the len bytes of slot (2 or 3) from offset, or with the
 * firmware's own core (slot -1), instantiated and set up as at a boot (chips, blobs, device id).
 * state: the new core's state stream version. When it is the running stream's, the running state
 * (readings queued, zero, tare, filters) is moved into it; otherwise it starts from the blobs.
 * 0 done with the state moved, 4 done from the blobs; 1 not loadable, 2 no memory, 3 the new core
 * refused the state: the running core is then back as it was, with its state. The engine's words
 * at err (at most cap bytes; their length in the high 16 bits).
 */
@external("mgr", "core_swap") export declare function core_swap(slot: i32, offset: u32, len: u32, state: i32, err: usize, cap: i32): i32;

// ---- the firmware image (ESP32: its OTA slots) ----------------------------------------------------
/** The running firmware image's version (major << 16 | minor << 8 | patch); 0 for a host whose
 * image is not updated over the air (the desktop, the Pico W). */
@external("mgr", "firmware_version") export declare function firmware_version(): u32;
/**
 * Fetches the firmware image at the url (urlLen bytes at url) into the next OTA slot, checks its
 * size and SHA-256 (32 bytes at sha) and restarts into it; the host answers how that goes. 0
 * started, 1 one is under way, 2 larger than the OTA slot, 3 this host cannot.
 */
@external("mgr", "firmware_fetch") export declare function firmware_fetch(url: usize, urlLen: i32, size: u32, sha: usize): i32;

// ---- out -----------------------------------------------------------------------------------------
/** An answer for the result topic: {"cmd":"module",...} JSON. */
@external("mgr", "answer") export declare function answer(ptr: usize, len: u32): void;
/** Milliseconds on a clock that only goes forward (transfer timeouts). */
@external("mgr", "now_ms") export declare function now_ms(): f64;
