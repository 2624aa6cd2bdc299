// The exports of the wasm-scale core: a flat set of small verbs, each listed with its caller and
// frequency in assembly/abi.json. Only numbers cross; blobs and the reading go through memory.
import {
  scaleInit, scaleSample, reading, io, IO_CAP, cmdTare, cmdClearTare, cmdZero, cmdCalSpan, cmdCalAddPoint,
  cmdCalClearPoints, cmdCalFit, cmdConfigSet, blobSave, blobLoad,
} from "./scale";
import { hxAddChip, hxPower } from "./hx711";
import { configGet } from "./config";
import { calResidual } from "./calibration";

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
export function hx_power(on: i32): i32 { return hxPower(on != 0); }
/** Take and process one sample. 10 or 80 times a second. */
export function scale_sample(now_ms: i32): i32 { return scaleSample(now_ms); }
/** Change a setting. On a command. */
export function config_set(key: i32, value: f32): i32 { return cmdConfigSet(key, value); }
/** Read a setting. On demand. */
export function config_get(key: i32): f32 { return configGet(key); }
/** Tare the current gross weight. On a command. */
export function cmd_tare(): i32 { return cmdTare(); }
/** Remove the tare. On a command. */
export function cmd_clear_tare(): i32 { return cmdClearTare(); }
/** Set zero. On a command. */
export function cmd_zero(): i32 { return cmdZero(); }
/** Calibrate from a known weight on the scale. On a command. */
export function cal_span(kg: f32): i32 { return cmdCalSpan(kg); }
/** Record a calibration point. On a command. */
export function cal_add_point(kg: f32): i32 { return cmdCalAddPoint(kg); }
/** Forget the calibration points. On a command. */
export function cal_clear_points(): i32 { return cmdCalClearPoints(); }
/** Fit the points (order 1 or 2). On a command. */
export function cal_fit(order: i32): i32 { return cmdCalFit(order); }
/** Residual of a point of the last fit; -1 for the rms. After cal_fit. */
export function cal_residual(i: i32): f32 { return calResidual(i); }
/** Serialise a blob into the io buffer. After a change to persist. */
export function blob_save(which: i32): i32 { return blobSave(which); }
/** Restore a blob from the io buffer. At start-up. */
export function blob_load(which: i32, len: i32): i32 { return blobLoad(which, len); }
