// Installing, switching and rolling back calibration modules on the desktop host. A package is
// checked (format, hash, signature against the trusted keys), its module loaded on a budget, its
// parameters given, its golden vectors run and its curve swept for monotonicity over the scale's
// range; only then is it written to the spare slot and linked to the core, on trial. A module that
// traps, runs out of budget or weighs NaN is rolled back at once (that reading is weighed by the
// previous module, or the core's built-in curve); one that weighs `confirmReadings` readings is
// confirmed; a restart during the trial rolls back.
import type { KeyObject } from "node:crypto";
import { abi } from "../../abi.js";
import type { ScaleCore } from "../core.js";
import { CalibrationModule, type Failure } from "./module.js";
import { decodePackage, verifyPackage, ModuleRefused, type Manifest } from "./package.js";
import type { ModuleSlots, SlotName } from "./slots.js";
import type { CalibrationSocket, CalibrationTarget } from "./socket.js";

const contract = abi.calibration_module;
/** Points of the monotonicity sweep. */
const SWEEP = 256;
/** Counts either side of zero for the slope (the core measures it the same way). */
const SLOPE_COUNTS = 4096;

export interface ModuleEvent {
  step: "install" | "rollback" | "confirm" | "restore" | "fit";
  status: "accepted" | "rejected";
  reason?: string;
  detail: string;
  module?: { name: string; version: string };
}

interface Active {
  module: CalibrationModule;
  manifest: Manifest;
  slot: SlotName | null;
}

export interface ModuleListing {
  slot: SlotName;
  role: "active" | "previous" | "spare";
  name: string;
  version: string;
  sha256: string;
  key?: string;
  trial: boolean;
  params: number[];
}

export class ModuleManager implements CalibrationTarget {
  private active: Active | null = null;
  private previous: Active | null = null;
  private trial = false;
  private goodReadings = 0;
  private failed: { reason: string; detail: string } | null = null;
  /** Everything that happened, for whoever reports it (the result topic, the console). */
  onEvent: (e: ModuleEvent) => void = () => {};

  constructor(
    private readonly core: ScaleCore,
    socket: CalibrationSocket,
    private readonly slots: ModuleSlots | null,
    private readonly trusted: KeyObject[],
  ) {
    socket.target = this;
  }

  get activeModule(): { name: string; version: string; trial: boolean } | null {
    return this.active ? { name: this.active.module.name, version: this.active.module.version, trial: this.trial } : null;
  }

  private emit(e: ModuleEvent): ModuleEvent {
    this.onEvent(e);
    return e;
  }

  private describe(a: Active | null): ModuleEvent["module"] {
    return a ? { name: a.module.name, version: a.module.version } : undefined;
  }

  /** Loads a slot's module with its saved parameters (no vectors: they passed at installation). */
  private loadSlot(slot: SlotName): Active {
    const bytes = this.slots!.package(slot);
    if (!bytes) throw new ModuleRefused("TRUNCATED", `slot ${slot} is empty`);
    const pkg = decodePackage(bytes);
    verifyPackage(pkg, this.trusted);
    const module = CalibrationModule.load(pkg.wasm);
    const params = this.slots!.params(slot);
    if (params && module.loadParams(params) !== 0) throw new ModuleRefused("BAD_PARAMS", `slot ${slot}: the module refused its saved parameters`);
    return { module, manifest: pkg.manifest, slot };
  }

  /**
   * At start-up: the active module back in place, or a rollback when the device restarted while
   * a new module was on trial. A slot that no longer loads (a key no longer trusted, a damaged
   * file) leaves the built-in calibration, and says so.
   */
  restore(): string[] {
    const notes: string[] = [];
    if (!this.slots) return notes;
    if (this.slots.recovered) notes.push(this.slots.recovered);
    const s = this.slots.state;
    if (s.active && s.trial) {
      const e = this.emit({ step: "rollback", status: "accepted", reason: "UNCONFIRMED", detail: "restarted before the new module was confirmed: back to the previous calibration" });
      notes.push(e.detail);
      this.slots.setState({ active: s.previous, previous: null, trial: false });
    }
    const slot = this.slots.state.active;
    if (!slot) return notes;
    try {
      this.active = this.loadSlot(slot);
      this.previous = this.slots.state.previous ? this.tryLoad(this.slots.state.previous) : null;
      this.link(this.active);
      notes.push(`calibration module ${this.active.module.name} ${this.active.module.version} (slot ${slot})`);
    } catch (e) {
      this.active = null;
      this.core.calModule(false);
      const reason = e instanceof ModuleRefused ? e.reason : "BAD_MODULE";
      notes.push(this.emit({ step: "restore", status: "rejected", reason, detail: `slot ${slot}: ${(e as Error).message}; weighing with the built-in calibration` }).detail);
    }
    return notes;
  }

  private tryLoad(slot: SlotName): Active | null {
    try {
      return this.loadSlot(slot);
    } catch {
      return null;
    }
  }

  /** Links a loaded module to the core; refuses (DEGENERATE) a curve the core finds flat. */
  private link(a: Active): void {
    a.module.failure = null;
    this.failed = null;
    this.goodReadings = 0;
    const r = this.core.calModule(true);
    if (r !== 0) throw new ModuleRefused("DEGENERATE", "the core found its curve flat or not finite near zero");
  }

  /** Checks a package from end to end and switches to it; returns the event, refused or accepted. */
  install(bytes: Uint8Array): ModuleEvent {
    let candidate: Active;
    try {
      candidate = this.check(bytes);
    } catch (e) {
      if (!(e instanceof ModuleRefused)) throw e;
      return this.emit({ step: "install", status: "rejected", reason: e.reason, detail: e.message });
    }
    const slot = this.slots?.spare() ?? null;
    if (this.slots && slot) {
      this.slots.putPackage(slot, bytes);
      this.slots.putParams(slot, candidate.module.saveParams());
    }
    const before = this.active;
    candidate.slot = slot;
    this.active = candidate; // the core measures its slope through us: it must answer already
    try {
      this.link(candidate);
    } catch (e) {
      this.active = before;
      if (before) this.link(before);
      else this.core.calModule(false);
      const r = e as ModuleRefused;
      return this.emit({ step: "install", status: "rejected", reason: r.reason, detail: r.message, module: this.describe(candidate) });
    }
    this.previous = before;
    this.trial = true;
    this.slots?.setState({ active: slot, previous: before?.slot ?? null, trial: true });
    return this.emit({
      step: "install", status: "accepted", module: this.describe(candidate),
      detail: `${candidate.module.name} ${candidate.module.version} weighs now, on trial until ${contract.transfer.confirmReadings} good readings`,
    });
  }

  /** Everything but the switch: the package, the signature, the module, its vectors, its curve. */
  private check(bytes: Uint8Array): Active {
    if (bytes.length > contract.package.maxWasmBytes + contract.package.maxManifestBytes + 1024) {
      throw new ModuleRefused("TOO_LARGE", `a package of ${bytes.length} bytes`);
    }
    const pkg = decodePackage(bytes);
    verifyPackage(pkg, this.trusted);
    const m = pkg.manifest;
    if (m.abi !== contract.version) throw new ModuleRefused("WRONG_ABI", `built for module ABI ${m.abi}; this host runs ${contract.version}`);
    const fresh = (): CalibrationModule => {
      const module = CalibrationModule.load(pkg.wasm);
      if (module.name !== m.name) throw new ModuleRefused("BAD_PACKAGE", `the module calls itself ${module.name}; the manifest ${m.name}`);
      if (m.params.length && module.loadParams(module.paramsBlob(m.params)) !== 0) {
        throw new ModuleRefused(module.failure?.reason ?? "BAD_PARAMS", module.failure?.detail ?? "the module refused the manifest's parameters");
      }
      return module;
    };
    const tested = fresh();
    runVectors(tested, m);
    sweep(tested, this.core.get("CAPACITY_KG"), this.core.get("DIVISION_KG"));
    // What the vectors and the sweep left behind in the module's state does not go into service.
    return { module: fresh(), manifest: m, slot: null };
  }

  /** Back to the previous module, or the built-in calibration. */
  rollback(reason = "requested", code?: string): ModuleEvent {
    if (!this.active) return this.emit({ step: "rollback", status: "rejected", reason: "NO_PREVIOUS", detail: "no module is installed: the built-in calibration is in force" });
    const from = this.active;
    const to = this.previous;
    this.active = null;
    this.previous = null;
    this.trial = false;
    if (to) {
      this.active = to;
      try {
        this.link(to);
      } catch {
        this.active = null;
        this.core.calModule(false);
      }
    } else {
      this.core.calModule(false);
    }
    this.slots?.setState({ active: this.active?.slot ?? null, previous: null, trial: false });
    const now = this.active ? `${this.active.module.name} ${this.active.module.version}` : "the built-in calibration";
    return this.emit({ step: "rollback", status: "accepted", reason: code, module: this.describe(from), detail: `${from.module.name} ${from.module.version} rolled back (${reason}): ${now} weighs now` });
  }

  /** Per sample (CalibrationTarget): the active module's weight, or NaN for the core's fallback. */
  evaluate(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number {
    const a = this.active;
    if (!a) return NaN;
    const kg = a.module.evaluate(x, c0, c1, c2, c3, tempC);
    if (Number.isFinite(kg)) {
      this.goodReadings++;
      return kg;
    }
    this.failed ??= a.module.failure ?? { reason: "NOT_FINITE", detail: "no finite weight" };
    // This reading is weighed by the previous calibration: the failing module's weight never goes out.
    return this.previous && this.previous !== a ? this.previous.module.evaluate(x, c0, c1, c2, c3, tempC) : NaN;
  }

  /** A calibration command with a module in force (CalibrationTarget): its fit, its parameters saved. */
  fit(order: number, xs: Float64Array, kgs: Float64Array, n: number): number {
    const a = this.active;
    if (!a) return -6;
    const before = a.module.saveParams();
    let r = a.module.fit(order, xs, kgs, n);
    if (a.module.failure) {
      this.failed ??= a.module.failure;
      return -6;
    }
    if (r === 0) {
      // The module's fit is checked as its installation was: a curve that turns back anywhere
      // in the scale's range is refused, and the parameters it had are given back.
      try {
        sweep(a.module, this.core.get("CAPACITY_KG"), this.core.get("DIVISION_KG"));
      } catch (e) {
        a.module.failure = null;
        a.module.loadParams(before);
        this.emit({ step: "fit", status: "rejected", reason: (e as ModuleRefused).reason, module: this.describe(a), detail: `the fitted curve: ${(e as Error).message}` });
        r = -6;
      }
    }
    if (r === 0) {
      if (a.slot) this.slots?.putParams(a.slot, a.module.saveParams());
      this.emit({ step: "fit", status: "accepted", module: this.describe(a), detail: `${a.module.name} fitted to ${n} point(s)` });
    }
    return r;
  }

  /** After every sample: a failure rolls back; enough good readings confirm a trial. */
  afterSample(): void {
    if (this.failed) {
      const f = this.failed;
      this.failed = null;
      this.rollback(`${f.reason}: ${f.detail}`, f.reason);
      return;
    }
    if (this.trial && this.goodReadings >= contract.transfer.confirmReadings) {
      this.trial = false;
      if (this.slots) this.slots.setState({ ...this.slots.state, trial: false });
      this.emit({ step: "confirm", status: "accepted", module: this.describe(this.active), detail: `${this.active!.module.name} ${this.active!.module.version} confirmed after ${this.goodReadings} good readings` });
    }
  }
}

/** What the slots hold, without loading anything (wasm-scale module list). */
export function listSlots(slots: ModuleSlots): ModuleListing[] {
  const s = slots.state;
  const out: ModuleListing[] = [];
  for (const slot of ["a", "b"] as const) {
    const bytes = slots.package(slot);
    if (!bytes) continue;
    try {
      const { manifest } = decodePackage(bytes);
      const params = slots.params(slot);
      out.push({
        slot, role: s.active === slot ? "active" : s.previous === slot ? "previous" : "spare",
        name: manifest.name, version: manifest.version, sha256: manifest.sha256, key: manifest.key,
        trial: s.active === slot && s.trial, params: params ? CalibrationModule.paramValues(params) : manifest.params,
      });
    } catch {
      continue;
    }
  }
  return out;
}

/** The manifest's golden vectors, each within its tolerance. */
export function runVectors(module: CalibrationModule, m: Manifest): void {
  m.vectors.forEach((v, i) => {
    const chip = (k: number) => v.chips[k] ?? NaN;
    const kg = module.evaluate(v.x, chip(0), chip(1), chip(2), chip(3), v.temp ?? NaN);
    const f = module.failure as Failure | null;
    if (f) throw new ModuleRefused(f.reason, `vector ${i + 1}: ${f.detail}`);
    if (!(Math.abs(kg - v.kg) <= m.tolerance)) {
      throw new ModuleRefused("VECTORS_FAILED", `vector ${i + 1}: ${v.x} counts weighed ${kg} kg, the manifest says ${v.kg} kg`);
    }
  });
}

/**
 * The curve over every weight the scale can show (R76: 20 d below zero to 9 d over capacity, with
 * margin): finite, and strictly rising or strictly falling with the counts.
 */
export function sweep(module: CalibrationModule, capacityKg: number, divisionKg: number): void {
  const at = (x: number) => module.evaluate(x, NaN, NaN, NaN, NaN, NaN);
  const slope = (at(SLOPE_COUNTS) - at(-SLOPE_COUNTS)) / (2 * SLOPE_COUNTS);
  if (module.failure) throw new ModuleRefused(module.failure.reason, `near zero: ${module.failure.detail}`);
  if (!(Math.abs(slope) > 0)) throw new ModuleRefused("NOT_MONOTONIC", "its curve is flat near zero");
  const lo = (-1.5 * 20 * divisionKg) / Math.abs(slope);
  const hi = (1.1 * (capacityKg + 9 * divisionKg)) / Math.abs(slope);
  const dir = Math.sign(slope);
  let last = at(dir * lo);
  for (let i = 1; i <= SWEEP; i++) {
    const x = dir * (lo + ((hi - lo) * i) / SWEEP);
    const kg = at(x);
    const f = module.failure as Failure | null;
    if (f) throw new ModuleRefused(f.reason, `at ${x.toFixed(0)} counts: ${f.detail}`);
    if (!(kg > last)) throw new ModuleRefused("NOT_MONOTONIC", `its weight falls from ${last} to ${kg} kg near ${x.toFixed(0)} counts`);
    last = kg;
  }
}
