// The exports of the wasm-scale core: a flat set of small verbs, each listed with its caller and
// frequency in assembly/abi.json. Only numbers cross; blobs and the reading go through memory.
import {
  scaleInit, scaleSample, reading, io, IO_CAP, cmdTare, cmdClearTare, cmdZero, cmdCalSpan, cmdCalAddPoint,
  cmdCalClearPoints, cmdCalFit, cmdCalModule, cmdConfigSet, blobSave, blobLoad, message, cmdTrimEmpty, cmdTrimCorner, cmdTrimClear,
  cmdWakeBegin, cmdWakeStep, cmdButton,
} from "./scale";
import { wakeSleepMs } from "./duty";
import { mqttWill, mqttConnected, outNext, outDone } from "./mqtt";
import { mqttSetup, mqttTopic } from "./topics";
import { outboxLength, outboxDropped, timeSync } from "./outbox";
import { takeDirty } from "./blob";
import { hxAddChip, hxPower } from "./hx711";
import { configGet } from "./config";
import { calResidual, setTemperature } from "./calibration";
import { rawPower, rawConfig, rawCall, rawBlobLoad, rawButton } from "./raw";
import { stateSave, stateLoad } from "./state";
import {
  CMD_TARE, CMD_CLEAR_TARE, CMD_ZERO, CMD_CALIBRATE, CMD_CAL_POINT, CMD_CAL_CLEAR, CMD_CAL_FIT, CMD_TRIM_EMPTY,
  CMD_TRIM_CORNER, CMD_TRIM_CLEAR,
} from "./commands";

// The layout of linear memory, for WAMR: with these two immutable constants exported and no
// memory.grow in the module, WAMR allocates only __heap_base bytes instead of the 64 KiB page
// (everything the core keeps is static; it has no heap). WAMR then also takes the first mutable
// i32 global whose initial value is at most __heap_base to be a C stack pointer, with a stack as
// large as that value, and traps a global.set that leaves the stack. The core has no C stack, so
// that global must be one that starts at 0 (a stack of size 0, which WAMR never checks);
// Binaryen orders globals by use, so tests/abi.test.ts applies WAMR's rule to the release core.
export { __heap_base, __data_end };

/** Reset settings and state to power-up defaults. Once, after instantiating. Returns the ABI version. */
export function scale_init(): i32 { return scaleInit(); }
/** Address of the shared blob buffer. Once. */
export function io_ptr(): i32 { return <i32>io; }
/** Size of the shared blob buffer. Once. */
export function io_cap(): i32 { return IO_CAP; }
/** Address of the reading record. Once. */
export function reading_ptr(): i32 { return <i32>reading; }
/** Add an HX711 (clock pin, data pin). At start-up. */
export function hx_add_chip(clk: i32, dout: i32): i32 { return hxAddChip(clk, dout); }
/** Power the HX711s down (0) or up (1). Rare. */
export function hx_power(on: i32): i32 { rawPower(on != 0); return hxPower(on != 0); }
/** Take and process one sample. 10 or 80 times a second. */
export function scale_sample(now_ms: i32): i32 { return scaleSample(now_ms); }
/** Change a setting. On a command. */
export function config_set(key: i32, value: f32): i32 { rawConfig(key, value); return cmdConfigSet(key, value); }
/** Read a setting. On demand. */
export function config_get(key: i32): f32 { return configGet(key); }
/** Tare the current gross weight. On a command. */
export function cmd_tare(): i32 { rawCall(CMD_TARE, 0); return cmdTare(); }
/** Remove the tare. On a command. */
export function cmd_clear_tare(): i32 { rawCall(CMD_CLEAR_TARE, 0); return cmdClearTare(); }
/** Set zero. On a command. */
export function cmd_zero(): i32 { rawCall(CMD_ZERO, 0); return cmdZero(); }
/** Corner adjustment: the platform is empty. On a command. */
export function cmd_trim_empty(): i32 { rawCall(CMD_TRIM_EMPTY, 0); return cmdTrimEmpty(); }
/** Corner adjustment: the test weight is over chip k's cell. On a command. */
export function cmd_trim_corner(k: i32): i32 { rawCall(CMD_TRIM_CORNER, <f32>k); return cmdTrimCorner(k); }
/** Corner adjustment undone: equal factors. On a command. */
export function cmd_trim_clear(): i32 { rawCall(CMD_TRIM_CLEAR, 0); return cmdTrimClear(); }
/** Calibrate from a known weight on the scale. On a command. */
export function cal_span(kg: f32): i32 { rawCall(CMD_CALIBRATE, kg); return cmdCalSpan(kg); }
/** Record a calibration point. On a command. */
export function cal_add_point(kg: f32): i32 { rawCall(CMD_CAL_POINT, kg); return cmdCalAddPoint(kg); }
/** Forget the calibration points. On a command. */
export function cal_clear_points(): i32 { rawCall(CMD_CAL_CLEAR, 0); return cmdCalClearPoints(); }
/** Fit the points (order 1 or 2). On a command. */
export function cal_fit(order: i32): i32 { rawCall(CMD_CAL_FIT, <f32>order); return cmdCalFit(order); }
/** Residual of a point of the last fit; -1 for the rms. After cal_fit. */
export function cal_residual(i: i32): f32 { return calResidual(i); }
/** A calibration module linked to the calib imports (1), or removed (0). When the host installs,
 *  restores or rolls back a module. */
export function cal_module(on: i32): i32 { return cmdCalModule(on != 0); }
/** The button: an edge (edge 1; down 1 pressed) at t_ms, or a poll (edge 0). On every edge, and after every sample. */
export function button(edge: i32, down: i32, t_ms: i32): i32 { if (edge != 0) rawButton(down != 0, t_ms); return cmdButton(edge != 0, down != 0, t_ms); }
/** The temperature at the load cell (degrees C), NaN when unknown. When it changes. */
export function env_temperature(celsius: f64): void { setTemperature(celsius); }
/** Serialise a blob into the io buffer. After a change to persist. */
export function blob_save(which: i32): i32 { return blobSave(which); }
/** Restore a blob from the io buffer. At start-up. */
export function blob_load(which: i32, len: i32): i32 { rawBlobLoad(which, io, min(len, IO_CAP)); return blobLoad(which, len); }
/** Set the device id (io buffer, len bytes). At start-up, before connecting. */
export function mqtt_setup(len: i32): i32 { return len > IO_CAP ? -14 : mqttSetup(io, len); }
/** Render a topic (codes.topic) into the io buffer. When subscribing. */
export function mqtt_topic(which: i32): i32 { return mqttTopic(io, IO_CAP, which); }
/** Frame the will (availability offline, retained) into the io buffer. Before connecting. */
export function mqtt_will(): i32 { return mqttWill(io, IO_CAP); }
/** The broker connection went up (1) or down (0). On every change. */
export function mqtt_connected(up: i32): void { mqttConnected(up != 0); }
/** A received message: topic then payload in the io buffer. Per message. */
export function mqtt_message(topic_len: i32, payload_len: i32): i32 { return message(topic_len, payload_len); }
/** Frame the next message to publish into the io buffer; 0 when none. While connected. */
export function out_next(): i32 { return outNext(io, IO_CAP); }
/** The last framed message was delivered (QoS 1: PUBACK). After each publish. */
export function out_done(): i32 { return outDone(); }
/** Readings waiting to be published. On demand. */
export function out_pending(): i32 { return outboxLength(); }
/** Readings dropped because the outbox was full, since start. On demand. */
export function out_dropped(): i32 { return <i32>outboxDropped(); }
/** The wall clock is known: epoch seconds (unsigned) at host time now_ms. After NTP. */
export function time_sync(epoch_s: i32, now_ms: i32): void { timeSync(<u32>epoch_s, now_ms); }
/** Blobs changed since the last call (bit per codes.blob); persist them. After commands. */
export function state_dirty(): i32 { return takeDirty(); }
/** Serialise chunk k of the volatile state into the io buffer, chunks in order from 0. For deep sleep. */
export function state_save(chunk: i32): i32 { return stateSave(chunk, io, IO_CAP); }
/** Restore chunk k of the volatile state from the io buffer, after chunks, blobs and device id as at a cold boot. */
export function state_load(chunk: i32, len: i32): i32 { return len > IO_CAP ? -14 : stateLoad(chunk, io, len, IO_CAP); }
/** Battery mode: a wake starts (chips up, filters afresh); cause: codes.cause. On every wake, after the state. */
export function wake_begin(now_ms: i32, cause: i32): i32 { return cmdWakeBegin(now_ms, cause); }
/** Battery mode: after each sample of a wake: 0 sample on, 1 done: sleep, 2 done: publish, then sleep. */
export function wake_step(now_ms: i32): i32 { return cmdWakeStep(now_ms); }
/** Battery mode: milliseconds to the next wake; 0 when battery mode is off. Before sleeping. */
export function wake_sleep_ms(now_ms: i32): i32 { return wakeSleepMs(now_ms); }
