// The manager's decisions about modules: a package checked from end to end (container, manifest,
// signature, ABI, version, the module's code and layout, its own description, its parameters, its
// golden vectors, the curve it declares), the switch to it on trial, confirmation,
// rollback on a failure or on request, restoring the slots at start-up, and a fit through the
// module in force.
import {
  mod_load, mod_call, mod_gain, mod_curve, mod_failure, mod_clear, mod_memory, core_link, params_put, params_get,
} from "./host";
import {
  readPackage, mName, mVersion, mAbi, mKey, mKeyLen, mParams, mParamCount, mVector, mVectorCount, mTolerance, firstVector, nextVector,
  wasmAt, wasmLen, MODULE_ABI, bareModule, mKind,
} from "./package";
import { scanModule, meterModule } from "./wasm";
import { MAX_KNOTS, KNOT_BYTES, MAX_GAIN_DEVIATION, curveFault, curveAt, knotX, knotKg, gainFits } from "../curve";
import { refuse, say, d, dn, dc, dBytes, dVersion, publish, reason, detailBytes, detailLength, rephrase, dKept, nameLength } from "./out";
import { checkSignature } from "./package";
import {
  ACTIVE, PREVIOUS, CANDIDATE, sActive, sPrevious, sTrial, loaded, slotOf, versionOf, nameOf, setLoaded, freeHandle,
  swapHandles, setLength, lengthOf, setState, slotLetter, CONFIRM_READINGS,
} from "./slots";


/** Temperatures (C) a new curve is also taken at before it is accepted, beside "unknown" (NaN): the
 * core checks every curve it takes in service again, so these only refuse early what it would
 * refuse later. */
const TEMPERATURES = memory.data<f64>([-40, -20, 0, 20, 40, 60, 85]);
const N_TEMPERATURES: i32 = 7;
const MAX_PARAMS_BYTES: i32 = 8 + 32 * 8;
const POINT_BYTES: i32 = 16;

// mod_call's functions.
const FN_ABI = 0, FN_NAME = 1, FN_VERSION = 2, FN_POINTS = 3, FN_PARAMS = 4, FN_SAVE = 5, FN_LOAD = 6, FN_FIT = 7, FN_KNOTS = 8;
/** The curve the module declared last (curveOf). */
const knots = memory.data(MAX_KNOTS * KNOT_BYTES);

/** Set by the host at start: it meters modules by rewriting them (V8, wasm3), or its engine counts (WAMR). */
export let metering = false;
export function setMetering(on: bool): void {
  metering = on;
}

const words = memory.data(160);
const nameBuf = memory.data(34);
const paramBuf = memory.data(MAX_PARAMS_BYTES);
const paramBefore = memory.data(MAX_PARAMS_BYTES);
const failText = memory.data(320);
let failLen: i32 = 0;
let failReason: usize = 0; // a reason literal (a string global would start at its address, which WAMR takes for a stack pointer)
/** A failure of the active module noticed outside a sample (in a fit): handled after the sample. */
export let pending = false;

/** The engine's words after a mod_ call that reports them (length in the high 16 bits). */
function engineWords(r: i32): void {
  dBytes(words, min(r >>> 16, 160));
}

/** When h's calls failed: the refusal (TRAPPED or BUDGET) and true. */
function failedCall(h: i32): bool {
  const f = mod_failure(h, words, 160);
  if ((f & 0xffff) == 0) return false;
  if ((f & 0xffff) == 2) refuse("BUDGET");
  else refuse("TRAPPED");
  engineWords(f);
  return true;
}

function call(h: i32, fn: i32, a: i32, b: i32): i32 {
  return mod_call(h, fn, a, b);
}

/** " at <t> C" (nothing for an unknown temperature). */
function dTemp(t: f64): void {
  if (isNaN(t)) return;
  d(" at ");
  dn(t);
  d(" C");
}

/** The refusal of what the core refused in service, or a gain that is not finite (kind 3). */
function moduleFault(kind: i32, x: f64, v: f64): void {
  if (kind == 1) {
    refuse("NOT_MONOTONIC");
    if (isNaN(x)) {
      d("at a change of temperature it declared ");
      dn(v);
      d(" knots (2 to ");
      dn(MAX_KNOTS);
      d(")");
    } else {
      d("at a change of temperature its curve turned back, or was not finite, at the knot of ");
      dn(x);
      d(" counts (");
      dn(v);
      d(" kg)");
    }
  } else if (kind == 2) {
    badGain(v);
  } else {
    refuse("NOT_FINITE");
    d("its gain was ");
    dn(v);
  }
}

function badGain(g: f64): void {
  refuse(isFinite(g) ? "BAD_GAIN" : "NOT_FINITE");
  d("its gain was ");
  dn(g);
  if (isFinite(g)) {
    d(", outside 1 +- ");
    dn(MAX_GAIN_DEVIATION);
  }
}

/**
 * The curve h declares at temperature t, into knots: its knot count, or -1 with the refusal (a
 * failed call, knots outside its memory, or a curve that is not finite and strictly monotonic).
 */
function curveOf(h: i32, t: f64): i32 {
  const n = mod_curve(h, t);
  if (failedCall(h)) return -1;
  if (n < 2 || n > MAX_KNOTS) {
    refuse("NOT_MONOTONIC");
    d("its curve");
    dTemp(t);
    d(" has ");
    dn(n);
    d(" knots (2 to ");
    dn(MAX_KNOTS);
    d(")");
    return -1;
  }
  const at = call(h, FN_KNOTS, 0, 0);
  if (at < 0 || mod_memory(h, <u32>at, knots, <u32>(n * KNOT_BYTES), 0) != 1) {
    if (!failedCall(h)) {
      refuse("BAD_MODULE");
      d("cal_knots points outside its memory");
    }
    return -1;
  }
  const bad = curveFault(knots, n);
  if (bad < 0) return n;
  refuse("NOT_MONOTONIC");
  d("its curve");
  dTemp(t);
  if (bad == 0) {
    d(" begins with a knot that is not finite");
  } else {
    d(" goes from ");
    dn(knotKg(knots, bad - 1));
    d(" kg at ");
    dn(knotX(knots, bad - 1));
    d(" counts to ");
    dn(knotKg(knots, bad));
    d(" kg at ");
    dn(knotX(knots, bad));
    d(" counts: the counts must rise and the kg rise (or fall) from knot to knot");
  }
  return -1;
}

/** h's weight for x counts, the chips' codes and a temperature, as the core weighs with it; NaN (and a refusal) when it fails. */
function weigh(h: i32, x: f64, c0: f64, c1: f64, c2: f64, c3: f64, t: f64): f64 {
  const n = curveOf(h, t);
  if (n < 0) return NaN;
  const g = mod_gain(h, c0, c1, c2, c3);
  if (failedCall(h)) return NaN;
  if (!gainFits(g)) {
    badGain(g);
    return NaN;
  }
  return g * curveAt(knots, n, x);
}

/** The weight h gives (tools: a package's vectors, a module's own reading); NaN when it fails. */
export function weighActive(x: f64, c0: f64, c1: f64, c2: f64, c3: f64, t: f64): f64 {
  return loaded(ACTIVE) ? weigh(ACTIVE, x, c0, c1, c2, c3, t) : NaN;
}

/** The module's parameter blob into p; its length, 0 when it gave none that fits. */
function paramsSave(h: i32, p: usize): i32 {
  const at = call(h, FN_PARAMS, 0, 0);
  const len = call(h, FN_SAVE, 0, 0);
  if (at < 0 || len < 8 || len > MAX_PARAMS_BYTES || mod_memory(h, <u32>at, p, <u32>len, 0) != 1) return 0;
  return len;
}

/** Gives the module a blob; 0 or its code (BAD_BLOB -8 when it could not be handed over). */
function paramsLoad(h: i32, p: usize, len: i32): i32 {
  const at = call(h, FN_PARAMS, 0, 0);
  if (at < 0 || len > MAX_PARAMS_BYTES || mod_memory(h, <u32>at, p, <u32>len, 1) != 1) return -8;
  const r = call(h, FN_LOAD, len, 0);
  return r == i32.MIN_VALUE ? -8 : r;
}

/** The manifest's parameter values in the blob version the module writes itself. */
function paramsFromManifest(h: i32): bool {
  if (mParamCount == 0) return true;
  if (paramsSave(h, paramBuf) < 8 || (store<u32>(paramBuf, <u32>mParamCount, 4), memory.copy(paramBuf + 8, mParams, <usize>(mParamCount * 8)), paramsLoad(h, paramBuf, 8 + mParamCount * 8)) != 0) {
    if (!failedCall(h)) {
      refuse("BAD_PARAMS");
      d("the module refused the manifest's parameters");
    }
    return false;
  }
  return true;
}

/** Loads the module of the package read last (readPackage) into h and reads its description. */
function loadModule(h: i32, slot: i32): bool {
  if (!scanModule(slot, wasmAt, wasmLen)) return false;
  if (metering) meterModule(slot, wasmAt, wasmLen);
  const r = mod_load(h, slot, wasmAt, wasmLen, words, 160);
  if ((r & 0xffff) != 0) {
    if ((r & 0xffff) == 2) refuse("MEMORY");
    else refuse("BAD_MODULE");
    if ((r & 0xffff) != 2) d("not valid WebAssembly: ");
    engineWords(r);
    return false;
  }
  return describe(h, slot);
}

/** Reads what a loaded instance says of itself (ABI, name, version); frees it when that fails. */
export function describe(h: i32, slot: i32): bool {
  const abi = call(h, FN_ABI, 0, 0);
  if (abi != MODULE_ABI) {
    if (!failedCall(h)) {
      refuse("WRONG_ABI");
      d("built for module ABI ");
      dn(abi);
      d("; this scale runs 1");
    } else {
      describing();
    }
    freeHandle(h);
    return false;
  }
  const at = call(h, FN_NAME, 0, 0);
  let n = 0;
  if (at >= 0 && mod_memory(h, <u32>at, nameBuf, 33, 0) == 1) {
    while (n < 33 && load<u8>(nameBuf + <usize>n) != 0) n++;
  }
  let ok = n >= 1 && n <= 32;
  for (let i = 0; ok && i < n; i++) {
    const c = <i32>load<u8>(nameBuf + <usize>i);
    ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f;
  }
  if (!ok) {
    if (failedCall(h)) describing();
    else {
      refuse("BAD_MODULE");
      d("cal_name does not point to a name of 1..32 of a-z 0-9 _ -");
    }
    freeHandle(h);
    return false;
  }
  store<u8>(nameBuf + <usize>n, 0);
  const v = call(h, FN_VERSION, 0, 0);
  if (failedCall(h)) {
    describing();
    freeHandle(h);
    return false;
  }
  setLoaded(h, slot, nameBuf, <u32>v & 0xffffff);
  return true;
}

/**
 * What the manager knew of a live instance before it was freed and loaded again (resume): its name
 * and version asked again, its failure, if any, left for the decision it was woken for.
 */
export function relearn(h: i32, slot: i32): void {
  const at = call(h, FN_NAME, 0, 0);
  let n = 0;
  if (at >= 0 && mod_memory(h, <u32>at, nameBuf, 33, 0) == 1) {
    while (n < 32 && load<u8>(nameBuf + <usize>n) != 0) n++;
  }
  store<u8>(nameBuf + <usize>n, 0);
  const v = call(h, FN_VERSION, 0, 0);
  setLoaded(h, slot, nameBuf, v == i32.MIN_VALUE ? 0 : <u32>v & 0xffffff);
}

function describing(): void {
  // The refusal's own sentence, behind "describing itself: ".
  rephrase();
  d("describing itself: ");
  dKept();
}

function nameIs(h: i32, p: usize): bool {
  for (let i = 0; i < 33; i++) {
    const a = load<u8>(nameOf(h) + <usize>i);
    if (a != load<u8>(p + <usize>i)) return false;
    if (a == 0) return true;
  }
  return true;
}

/** A calibration module's package, not a core's. */
function notCore(): bool {
  if (mKind == 0) return true;
  refuse("BAD_PACKAGE");
  d("a core package, not a calibration module (send it with wasm-scale core install)");
  return false;
}

function runVectors(h: i32): bool {
  firstVector();
  for (let i = 0; i < mVectorCount; i++) {
    if (!nextVector()) {
      refuse("BAD_PACKAGE");
      d("the manifest's vectors did not read back as they were checked");
      return false;
    }
    const v = mVector;
    const x = load<f64>(v);
    const want = load<f64>(v, 48);
    const kg = weigh(h, x, load<f64>(v, 8), load<f64>(v, 16), load<f64>(v, 24), load<f64>(v, 32), load<f64>(v, 40));
    if (!isFinite(kg)) {
      prefixVector(i);
      return false;
    }
    if (!(Math.abs(kg - want) <= mTolerance)) {
      refuse("VECTORS_FAILED");
      d("vector ");
      dn(i + 1);
      d(": ");
      dn(x);
      d(" counts weighed ");
      dn(kg);
      d(" kg, the manifest says ");
      dn(want);
      d(" kg");
      return false;
    }
  }
  return true;
}

function prefixVector(i: i32): void {
  rephrase();
  d("vector ");
  dn(i + 1);
  d(": ");
  dKept();
}

/**
 * The curve the module declares, at an unknown temperature and at TEMPERATURES, checked as the core
 * checks it (curve.ts): finite knots, the counts strictly rising, the kg strictly rising or falling.
 * A curve of straight pieces between such knots is monotonic at every count, so this is a proof,
 * not a sample. Its gain with no chip codes must be within bounds too.
 */
function proveCurve(h: i32): bool {
  if (curveOf(h, NaN) < 0) return false;
  for (let i = 0; i < N_TEMPERATURES; i++) {
    if (curveOf(h, load<f64>(TEMPERATURES + (<usize>i << 3))) < 0) return false;
  }
  const g = mod_gain(h, NaN, NaN, NaN, NaN);
  if (failedCall(h)) return false;
  if (!gainFits(g)) {
    badGain(g);
    d(" with no chip codes");
    return false;
  }
  return true;
}

/**
 * Everything but the switch, for the package of len bytes in slot: the package, the signature,
 * the ABI, the version, the module, its vectors and its curve. The module ends loaded in
 * CANDIDATE, fresh, with the manifest's parameters.
 */
export function check(slot: i32, len: u32, downgrade: bool): bool {
  if (!readPackage(slot, len) || !notCore() || !checkSignature(slot)) return false;
  if (mAbi != MODULE_ABI) {
    refuse("WRONG_ABI");
    d("built for module ABI ");
    dn(mAbi);
    d("; this scale runs 1");
    return false;
  }
  if (downgrade && loaded(ACTIVE) && nameIs(ACTIVE, mName) && mVersion <= versionOf(ACTIVE)) {
    refuse("DOWNGRADE");
    dBytes(mName, nameLength(mName));
    dc(0x20);
    dVersion(mVersion);
    d(" is not newer than the ");
    dVersion(versionOf(ACTIVE));
    d(" in force: versions only go up (a rollback returns to the previous module)");
    return false;
  }
  if (!loadModule(CANDIDATE, slot)) return false;
  let ok = true;
  if (!nameIs(CANDIDATE, mName)) {
    ok = refuse("BAD_PACKAGE");
    d("the module calls itself ");
    dBytes(nameOf(CANDIDATE), nameLength(nameOf(CANDIDATE)));
    d("; the manifest ");
    dBytes(mName, nameLength(mName));
  } else if (versionOf(CANDIDATE) != mVersion) {
    ok = refuse("BAD_PACKAGE");
    d("the module says it is version ");
    dVersion(versionOf(CANDIDATE));
    d("; the manifest ");
    dVersion(mVersion);
  }
  ok = ok && paramsFromManifest(CANDIDATE) && runVectors(CANDIDATE) && proveCurve(CANDIDATE);
  freeHandle(CANDIDATE);
  // What the vectors and the sweep left in the module's state does not go into service.
  return ok && loadModule(CANDIDATE, slot) && (paramsFromManifest(CANDIDATE) || (freeHandle(CANDIDATE), false));
}

/** "name major.minor.patch" of a handle, in the sentence. */
function dModule(h: i32): void {
  dBytes(nameOf(h), nameLength(nameOf(h)));
  dc(0x20);
  dVersion(versionOf(h));
}


/** Checks the package of len bytes in slot and switches to it, on trial; answers either way. */
export function install(slot: i32, len: u32): void {
  if (!check(slot, len, true)) {
    freeHandle(CANDIDATE);
    publish("install", false, reason(), -1, -1, 0, 0);
    return;
  }
  const blobLen = paramsSave(CANDIDATE, paramBuf);
  if (blobLen) params_put(slot, paramBuf, <u32>blobLen);
  // The core measures the new curve's slope through the active instance: it must answer already.
  const before = loaded(ACTIVE);
  swapHandles(ACTIVE, CANDIDATE);
  if (core_link(1) != 0) {
    swapHandles(ACTIVE, CANDIDATE);
    core_link(before ? 1 : 0);
    refuse("DEGENERATE");
    d("the core found its curve flat or not finite near zero");
    publish("install", false, reason(), -1, -1, nameOf(CANDIDATE), versionOf(CANDIDATE));
    freeHandle(CANDIDATE);
    return;
  }
  // The one that weighed until now becomes the previous one; the previous one before it goes.
  swapHandles(PREVIOUS, CANDIDATE);
  freeHandle(CANDIDATE);
  setLength(slot, len);
  setState(slot, slotOf(PREVIOUS), true);
  say();
  dModule(ACTIVE);
  d(" weighs now, on trial until ");
  dn(CONFIRM_READINGS);
  d(" good readings");
  publish("install", true, "", -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
}

/**
 * Back to the previous module, or the built-in calibration. cause: 0 requested here, 1 requested
 * over MQTT, 2 the active module failed (the refusal written last says how).
 */
export function rollback(cause: i32): void {
  if (cause == 2) keepFailure();
  if (!loaded(ACTIVE)) {
    refuse("NO_PREVIOUS");
    d("no module is installed: the built-in calibration is in force");
    publish("rollback", false, reason(), -1, -1, 0, 0);
    return;
  }
  swapHandles(ACTIVE, PREVIOUS);
  // The one rolled back sits in PREVIOUS until its answer is written.
  if (loaded(ACTIVE) && core_link(1) != 0) {
    freeHandle(ACTIVE);
  }
  if (!loaded(ACTIVE)) core_link(0);
  setState(slotOf(ACTIVE), -1, false);
  say();
  dModule(PREVIOUS);
  d(" rolled back (");
  if (cause == 0) d("requested");
  else if (cause == 1) d("requested on the module topic");
  else {
    d(changetype<string>(failReason));
    d(": ");
    dBytes(failText, failLen);
  }
  d("): ");
  if (loaded(ACTIVE)) {
    dModule(ACTIVE);
  } else {
    d("the built-in calibration");
  }
  d(" weighs now");
  publish("rollback", true, cause == 2 ? changetype<string>(failReason) : "", -1, -1, nameOf(PREVIOUS), versionOf(PREVIOUS));
  freeHandle(PREVIOUS);
}

/** After a sample the host flagged (a failure, enough good readings, or something pending). */
export function afterSample(good: i32, failed: i32, x: f64, kg: f64): void {
  if (!loaded(ACTIVE)) {
    pending = false;
    return;
  }
  if (failed || pending) {
    if (pending) {
      pending = false;
      refuse(changetype<string>(failReason));
      dBytes(failText, failLen);
    } else if (!failedCall(ACTIVE)) {
      moduleFault(failed, x, kg);
    }
    rollback(2);
    return;
  }
  if (sTrial && good >= CONFIRM_READINGS) {
    setState(sActive, sPrevious, false);
    say();
    dModule(ACTIVE);
    d(" confirmed after ");
    dn(good);
    d(" good readings");
    publish("confirm", true, "", -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
  }
}

/**
 * What the active module's failure was (mgr_after_sample's kinds), answered as step "failure"
 * without rolling anything back: for a host that has no previous module to go to (a replay).
 */
export function explainFailure(failed: i32, x: f64, kg: f64): void {
  if (!failedCall(ACTIVE)) moduleFault(failed, x, kg);
  publish("failure", false, reason(), -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
}

/** Good readings after which the host calls afterSample; -1: at the next sample; 0: only on a failure. */
export function wake(): i32 {
  if (pending) return -1;
  return loaded(ACTIVE) && sTrial ? CONFIRM_READINGS : 0;
}

/**
 * A fit through the module in force: n points (x counts above zero f64, kg f64) at p. The fitted
 * curve is checked as an installation is; a curve that turns back is refused and the parameters it
 * had are given back. 0, or a negative error code of the core's.
 */
export function fit(order: i32, p: usize, n: i32): i32 {
  if (!loaded(ACTIVE)) return -6;
  const beforeLen = paramsSave(ACTIVE, paramBefore);
  const at = call(ACTIVE, FN_POINTS, 0, 0);
  if (at < 0 || mod_memory(ACTIVE, <u32>at, p, <u32>(n * POINT_BYTES), 1) != 1) {
    if (!failedCall(ACTIVE)) {
      refuse("BAD_MODULE");
      d("cal_points points outside its memory");
    }
    notePending();
    return -6;
  }
  let r = call(ACTIVE, FN_FIT, n, order);
  if (failedCall(ACTIVE)) {
    notePending();
    return -6;
  }
  if (r > 0 || r == i32.MIN_VALUE) r = -6;
  if (r == 0 && !proveCurve(ACTIVE)) {
    mod_clear(ACTIVE);
    if (beforeLen) paramsLoad(ACTIVE, paramBefore, beforeLen);
    rephrase();
    d("the fitted curve: ");
    dKept();
    publish("fit", false, reason(), -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
    r = -6;
  }
  if (r == 0) {
    const len = paramsSave(ACTIVE, paramBuf);
    if (len && sActive >= 0) params_put(sActive, paramBuf, <u32>len);
    say();
    dBytes(nameOf(ACTIVE), nameLength(nameOf(ACTIVE)));
    d(" fitted to ");
    dn(n);
    d(" point(s)");
    publish("fit", true, "", -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
  }
  return r;
}

/** Keeps the refusal written last as the active module's failure (for the rollback's sentence). */
function keepFailure(): void {
  failLen = detailLength();
  memory.copy(failText, detailBytes(), <usize>failLen);
  failReason = changetype<usize>(reason());
}

function notePending(): void {
  keepFailure();
  pending = true;
}

/** Loads a slot's module with its saved parameters into h (its vectors passed at installation). */
function restoreSlot(h: i32, slot: i32): bool {
  const len = lengthOf(slot);
  if (len == 0) {
    refuse("TRUNCATED");
    d("slot ");
    dc(slotLetter(slot));
    d(" is empty");
    return false;
  }
  if (!readPackage(slot, len) || !notCore() || !checkSignature(slot) || !loadModule(h, slot)) return false;
  const n = params_get(slot, paramBuf, <u32>MAX_PARAMS_BYTES);
  if (n > 0 && paramsLoad(h, paramBuf, n) != 0) {
    freeHandle(h);
    refuse("BAD_PARAMS");
    d("slot ");
    dc(slotLetter(slot));
    d(": the module refused its saved parameters");
    return false;
  }
  return true;
}

/**
 * At start-up: the active module back in place, or a rollback when the device restarted while a
 * new module was on trial. A slot that no longer loads (a key no longer trusted, damaged flash)
 * leaves the built-in calibration, and says so.
 */
export function restore(): void {
  if (sActive >= 0 && sTrial) {
    setState(sPrevious, -1, false);
    refuse("UNCONFIRMED");
    d("restarted before the new module was confirmed: back to the previous calibration");
    publish("rollback", true, "UNCONFIRMED", -1, -1, 0, 0);
  }
  if (sActive < 0) return;
  const slot = sActive;
  if (!restoreSlot(ACTIVE, slot) || core_link(1) != 0) {
    if (loaded(ACTIVE)) {
      refuse("DEGENERATE");
      d("the core found its curve flat near zero");
      freeHandle(ACTIVE);
    }
    core_link(0);
    rephrase();
    d("slot ");
    dc(slotLetter(slot));
    d(": ");
    dKept();
    d("; weighing with the built-in calibration");
    publish("restore", false, reason(), -1, -1, 0, 0);
    return;
  }
  if (sPrevious >= 0 && !restoreSlot(PREVIOUS, sPrevious)) freeHandle(PREVIOUS);
  say();
  d("calibration module ");
  dModule(ACTIVE);
  d(" (slot ");
  dc(slotLetter(slot));
  d(")");
  publish("restore", true, "", -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
}

/** The check of `wasm-scale module verify`: a package in slot, checked without switching to it. */
export function verifyOnly(slot: i32, len: u32): void {
  if (!check(slot, len, false)) {
    freeHandle(CANDIDATE);
    publish("verify", false, reason(), -1, -1, 0, 0);
    return;
  }
  say();
  dModule(CANDIDATE);
  d(", signed by ");
  dBytes(mKey, mKeyLen);
  d(", ");
  dn(mVectorCount);
  d(" vectors pass, its curve monotonic at every count");
  publish("verify", true, "", -1, -1, nameOf(CANDIDATE), versionOf(CANDIDATE));
  freeHandle(CANDIDATE);
}

/**
 * A module tried on a recording (wasm-scale replay --module): a package's module checked and given
 * its manifest's parameters and vectors as an installation would, or a bare .wasm (mode 1) checked
 * alone; no signature, no slot, no state kept. It becomes the active handle, not linked to any core.
 */
export function tryModule(slot: i32, len: u32, mode: i32): void {
  let ok: bool;
  if (mode == 1) {
    bareModule(len);
    ok = loadModule(CANDIDATE, slot);
  } else {
    ok = readPackage(slot, len) && notCore() && loadModule(CANDIDATE, slot);
    if (ok && !nameIs(CANDIDATE, mName)) {
      ok = refuse("BAD_PACKAGE");
      d("the module calls itself ");
      dBytes(nameOf(CANDIDATE), nameLength(nameOf(CANDIDATE)));
      d("; the manifest ");
      dBytes(mName, nameLength(mName));
    }
    // mode 2: the vectors are not run (module build computes their weights with the module).
    ok = ok && paramsFromManifest(CANDIDATE) && (mode == 2 || runVectors(CANDIDATE));
    if (ok) {
      freeHandle(CANDIDATE);
      ok = loadModule(CANDIDATE, slot) && paramsFromManifest(CANDIDATE);
    }
  }
  if (!ok) {
    freeHandle(CANDIDATE);
    publish("try", false, reason(), -1, -1, 0, 0);
    return;
  }
  swapHandles(ACTIVE, CANDIDATE);
  freeHandle(CANDIDATE);
  say();
  d("loaded");
  publish("try", true, "", -1, -1, nameOf(ACTIVE), versionOf(ACTIVE));
}
