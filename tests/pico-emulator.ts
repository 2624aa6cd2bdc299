// The Pico firmware, as built, on an emulated RP2040 (rp2040js): the .uf2 in flash, the RP2040's
// B1 boot ROM (../shared/vendor, SHA-256 checked: the SDK looks up its soft float and flash
// routines there), HX711 models (host/desktop/sim/hx711.ts, the desktop simulator's chip) on the
// firmware's pins, and the console read from UART0. Used by tests/pico-emulator.test.ts and the
// bench. What it adds to rp2040js:
// - the PIO state machines are stepped in time with the CPU, honouring each one's clock divider
//   and the instructions' [delay] cycles (rp2040js runs them on a timer of its own, 1,000
//   instructions a turn, ignoring both: every HX711 read would time out);
// - the HX711's DOUT follows its PD_SCK edges T2 (0.1 us) later and goes low when a conversion is
//   ready, scheduled on the emulator's clock, so the CPU sleeping in WFE is woken by the edge
//   interrupt as on a board;
// - cycle accounting: the cycles the CPU ran and the cycles it slept (WFE/WFI), and the cycles
//   spent inside chosen functions of the ELF (their callees included).
// Not modelled (rp2040js): the CYW43, flash program/erase, pull-ups, core 1, XIP cache misses and
// UART wire time; cycle counts are about one per instruction plus bus extras, a lower bound.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { abi } from "../host/abi.js";
import { Simulator, ConsoleLogger, LogLevel, GPIOPinState, type RP2040 } from "rp2040js";
import { Hx711, T2_US } from "../host/desktop/sim/hx711.js";
import { repo } from "../host/vendor.mjs";

/** The B1 boot ROM as published for rp2040js (../shared/vendor/README.md). */
export const BOOTROM = "rp2040-bootrom-b1.bin";
export const BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae";
/** rp2040js's and the SDK's clk_sys: 125 MHz. */
const CYCLE_NS = 8;

export function bootromPath(): string | null {
  const vendor = process.env.WASM_SCALE_VENDOR ?? join(repo, "..", "shared", "vendor");
  const path = join(vendor, BOOTROM);
  return existsSync(path) ? path : null;
}

function loadBootrom(path: string): Uint32Array {
  const bytes = readFileSync(path);
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== BOOTROM_SHA256) throw new Error(`${path}: SHA-256 ${sha}, not the B1 ROM's ${BOOTROM_SHA256}`);
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Writes a .uf2's blocks into the emulated flash. */
function loadUf2(mcu: RP2040, uf2: Uint8Array): void {
  const view = new DataView(uf2.buffer, uf2.byteOffset, uf2.byteLength);
  let blocks = 0;
  for (let off = 0; off + 512 <= uf2.length; off += 512) {
    if (view.getUint32(off, true) !== 0x0a324655 || view.getUint32(off + 4, true) !== 0x9e5d5157) continue;
    const address = view.getUint32(off + 12, true);
    const size = view.getUint32(off + 16, true);
    if (address < 0x10000000 || address + size > 0x10000000 + mcu.flash.length) throw new Error(`uf2 block at 0x${address.toString(16)} outside flash`);
    mcu.flash.set(uf2.subarray(off + 32, off + 32 + size), address - 0x10000000);
    blocks++;
  }
  if (blocks === 0) throw new Error("no UF2 blocks");
}

/** The address range of each named function in an ELF (arm-none-eabi-nm), for cycle accounting. */
export function functionRanges(elf: string, names: string[]): Map<string, [number, number]> {
  const r = spawnSync("arm-none-eabi-nm", ["-S", "--defined-only", elf], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`arm-none-eabi-nm ${elf}: ${r.stderr}`);
  const out = new Map<string, [number, number]>();
  for (const line of r.stdout.split("\n")) {
    const [addr, size, , name] = line.trim().split(/\s+/);
    if (name && names.includes(name) && size) {
      const start = parseInt(addr, 16) & ~1;
      out.set(name, [start, start + parseInt(size, 16)]);
    }
  }
  for (const n of names) if (!out.has(n)) throw new Error(`${elf} has no function ${n}`);
  return out;
}

export interface WiredChip {
  chip: Hx711;
  clk: number;
  dout: number;
}

/** Cycles inside one function, its callees included, and how often it was entered. */
export interface FunctionCycles {
  cycles: number;
  calls: number;
  /** Virtual time of the first call (us), -1 before it. */
  firstUs: number;
  /** The longest single call (cycles). */
  maxCycles: number;
}

export class EmulatedPico {
  readonly sim = new Simulator();
  readonly mcu: RP2040;
  /** Lines printed on UART0, in order. */
  readonly lines: string[] = [];
  /** CPU cycles run, and cycles asleep (WFE/WFI), since the start or resetCycles(). */
  runCycles = 0;
  sleepCycles = 0;
  /** Per watched function: cycles with it on the call stack. */
  readonly inside = new Map<string, FunctionCycles>();
  onLine: ((line: string) => void) | null = null;
  /** Called when a watched function is entered (its name), before its first instruction runs. */
  onEnter: ((name: string) => void) | null = null;
  private readonly refreshers: (() => void)[] = [];
  private line = "";
  private readonly machines: { sm: { enabled: boolean; cycles: number; waiting: boolean; step(): void; clockDivInt: number; clockDivFrac: number }; pio: { checkChangedPins(): void }; acc: number }[] = [];
  private readonly watched: { name: string; start: number; end: number; returnTo: number; sp: number; callCycles: number }[] = [];
  /** The boot ROM's flash_range_erase and flash_range_program, done here (see romFlash). */
  private readonly flashRoutines = new Map<number, () => void>();

  constructor(uf2: Uint8Array, readonly chips: WiredChip[], watch?: Map<string, [number, number]>) {
    const rom = bootromPath();
    if (!rom) throw new Error(`no ${BOOTROM} in the vendor folder (WASM_SCALE_VENDOR)`);
    this.mcu = this.sim.rp2040;
    this.mcu.logger = new ConsoleLogger(LogLevel.Error);
    const bootrom = loadBootrom(rom);
    this.mcu.loadBootrom(bootrom);
    this.romFlash(new Uint8Array(bootrom.buffer));
    loadUf2(this.mcu, uf2);
    this.mcu.uart[0].onByte = (b: number) => {
      if (b === 10) {
        this.lines.push(this.line);
        this.onLine?.(this.line);
        this.line = "";
      } else if (b !== 13) {
        this.line += String.fromCharCode(b);
      }
    };
    // The PIO blocks are stepped by run(), not by their own timers.
    for (const pio of this.mcu.pio) {
      (pio as unknown as { run: () => void }).run = () => {};
      for (const sm of (pio as unknown as { machines: EmulatedPico["machines"][number]["sm"][] }).machines) {
        this.machines.push({ sm, pio: pio as unknown as { checkChangedPins(): void }, acc: 0 });
      }
    }
    for (const w of this.chips) this.wire(w);
    for (const [name, [start, end]] of watch ?? []) {
      this.watched.push({ name, start, end, returnTo: -1, sp: 0, callCycles: 0 });
      this.inside.set(name, { cycles: 0, calls: 0, firstUs: -1, maxCycles: 0 });
    }
    this.mcu.core.PC = 0x10000000;
  }

  /**
   * rp2040js keeps the flash as memory and runs the boot ROM, but the ROM's erase and program go
   * through the QSPI interface, which it does not model: they would leave the flash as it was. Here
   * the two routines are done on its flash array as a NOR flash does them (an erase sets 0xFF; a
   * program can only clear bits), taking the time a W25Q16 takes (45 ms a 4 KiB sector, 0.4 ms a
   * 256-byte page), and return to their caller. The firmware's store and module slots then work.
   */
  private romFlash(rom: Uint8Array): void {
    const u16 = (at: number) => rom[at] | (rom[at + 1] << 8);
    const code = (a: string, b: string) => a.charCodeAt(0) | (b.charCodeAt(0) << 8);
    const flash = this.mcu.flash;
    const core = this.mcu.core;
    const finish = (ns: number) => {
      this.sim.clock.tick(ns);
      core.PC = core.LR & ~1;
    };
    for (let at = u16(0x14); u16(at) !== 0; at += 4) {
      const address = u16(at + 2) & ~1;
      if (u16(at) === code("R", "E")) {
        this.flashRoutines.set(address, () => {
          const [offset, count] = [core.registers[0], core.registers[1]];
          flash.fill(0xff, offset, offset + count);
          finish(Math.ceil(count / 4096) * 45e6);
        });
      } else if (u16(at) === code("R", "P")) {
        this.flashRoutines.set(address, () => {
          const [offset, data, count] = [core.registers[0], core.registers[1], core.registers[2]];
          for (let i = 0; i < count; i++) flash[offset + i] &= this.mcu.readUint8(data + i);
          finish(Math.ceil(count / 256) * 0.4e6);
        });
      }
    }
  }

  get nowUs(): number {
    return this.sim.clock.nanos / 1000;
  }

  resetCycles(): void {
    this.runCycles = 0;
    this.sleepCycles = 0;
    for (const f of this.inside.values()) {
      f.cycles = 0;
      f.calls = 0;
      f.maxCycles = 0;
    }
  }

  /** The chip's PD_SCK follows the clock pin; its DOUT drives the DOUT pin, as the chip does. */
  private wire({ chip, clk, dout }: WiredChip): void {
    const clock = this.sim.clock;
    const pin = this.mcu.gpio[dout];
    const refresh = clock.createAlarm(() => update());
    const update = () => {
      const t = this.nowUs;
      const level = chip.dout(t);
      pin.setInputValue(level === 1);
      // High: it goes low when the next conversion is ready (or never, powered down); low: only a
      // clock edge changes it.
      if (level === 1) {
        const at = chip.readyAt(t);
        if (Number.isFinite(at)) refresh.schedule(Math.max(1, Math.round((at - t) * 1000)));
      }
    };
    this.mcu.gpio[clk].addListener((state: GPIOPinState) => {
      chip.clock(this.nowUs, state === GPIOPinState.High);
      refresh.schedule(Math.round(T2_US * 1000) + 1); // DOUT valid T2 after the edge
    });
    update();
    this.refreshers.push(update);
  }

  /** The DOUT pins again, after something outside the firmware changed the chips (a fault). */
  refreshPins(): void {
    for (const update of this.refreshers) update();
  }

  /** Runs the firmware until virtual time tUs (or until `stop` says so after a line). */
  runUntil(tUs: number, stop?: () => boolean): void {
    const clock = this.sim.clock;
    const core = this.mcu.core;
    const untilNs = tUs * 1000;
    while (clock.nanos < untilNs) {
      if (stop?.()) return;
      if (core.waiting) {
        // Asleep until the next alarm (a timer, a DOUT change) unless a state machine is running.
        const running = this.machines.some((m) => m.sm.enabled && !m.sm.waiting);
        const next = clock.nanosToNextAlarm;
        let skip = next > 0 ? Math.min(next, untilNs - clock.nanos) : untilNs - clock.nanos;
        if (running) skip = Math.min(skip, 100);
        const cycles = Math.max(1, Math.round(skip / CYCLE_NS));
        clock.tick(cycles * CYCLE_NS);
        this.sleepCycles += cycles;
        this.stepPio(cycles);
        continue;
      }
      const pc = core.PC;
      const rom = this.flashRoutines.get(pc);
      if (rom) {
        rom();
        continue;
      }
      const cycles = core.executeInstruction();
      clock.tick(cycles * CYCLE_NS);
      this.runCycles += cycles;
      if (this.watched.length) this.account(pc, cycles);
      this.stepPio(cycles);
    }
  }

  /** Types a line on UART0 at its wire speed (115,200 baud: a byte each 87 µs), running the firmware meanwhile. */
  typeLine(text: string): void {
    for (const c of Buffer.from(`${text}\n`, "latin1")) {
      this.mcu.uart[0].feedByte(c);
      this.runUntil(this.nowUs + 87);
    }
  }

  /** Runs until a console line matches, or virtual time limitUs; the line, or null. */
  runUntilLine(pattern: RegExp, limitUs: number): string | null {
    let found: string | null = null;
    const from = this.lines.length;
    this.runUntil(limitUs, () => {
      for (let i = from; i < this.lines.length && found === null; i++) if (pattern.test(this.lines[i])) found = this.lines[i];
      return found !== null;
    });
    return found;
  }

  private account(pc: number, cycles: number): void {
    const core = this.mcu.core;
    for (const w of this.watched) {
      if (w.returnTo >= 0) {
        // Back at the caller with the frame gone: the call has returned.
        const f = this.inside.get(w.name)!;
        if (pc === w.returnTo && core.SP > w.sp) {
          w.returnTo = -1;
          f.maxCycles = Math.max(f.maxCycles, w.callCycles);
        } else {
          f.cycles += cycles;
          w.callCycles += cycles;
        }
      } else if (pc === w.start) {
        w.returnTo = core.LR & ~1;
        w.sp = core.SP;
        w.callCycles = cycles;
        const f = this.inside.get(w.name)!;
        if (f.firstUs < 0) f.firstUs = this.nowUs;
        f.calls++;
        this.onEnter?.(w.name);
        f.cycles += cycles;
      }
    }
  }

  /** Each enabled state machine runs its instructions at clk_sys / its divider, [delay] included. */
  private stepPio(cpuCycles: number): void {
    for (const m of this.machines) {
      const { sm } = m;
      if (!sm.enabled) {
        m.acc = 0;
        continue;
      }
      const div = (sm.clockDivInt === 0 ? 65536 : sm.clockDivInt) + sm.clockDivFrac / 256;
      m.acc += cpuCycles / div;
      while (m.acc >= 1) {
        const before = sm.cycles;
        sm.step();
        m.pio.checkChangedPins();
        m.acc -= Math.max(1, sm.cycles - before);
        if (sm.waiting) {
          m.acc = Math.min(m.acc, 1); // stalled: it re-checks every cycle, at no cost to model
          break;
        }
      }
    }
  }
}

/** Where `npm run build:pico -- --emulator` puts the firmware for a rate. */
export function emulatorBuild(rate: 10 | 80): { uf2: string; elf: string } {
  const dir = join(repo, "build", `pico-emulator-${rate}`);
  return { uf2: join(dir, "wasm_scale.uf2"), elf: join(dir, "wasm_scale.elf") };
}

/** Decodes a console record line ("R <status> <the reading record in hex>") to its status and bytes. */
export function parseRecord(line: string): { status: number; bytes: Uint8Array } | null {
  const m = new RegExp(`^R (-?\\d+) ([0-9a-f]{${2 * abi.records.reading.size}})$`).exec(line);
  if (!m) return null;
  return { status: Number(m[1]), bytes: Uint8Array.from(Buffer.from(m[2], "hex")) };
}

export interface PicoFigures {
  /** Readings in the measured second, and the CPU's share of its cycles. */
  readings: number;
  cpuShare: number;
  /** CPU cycles a reading: all of the loop's, and its parts (callees included). */
  cyclesPerSample: number;
  coreCycles: number;
  clockInCycles: number;
  waitCycles: number;
  /** wasm_host_start: loading the core (and the calls that set it up). */
  loadCycles: number;
  /** The longest call into the core in the first two seconds: wasm3 compiling what it first runs. */
  firstCallCycles: number;
  /** What the firmware printed after loading the core: malloc's free bytes (heap + never handed out). */
  heapFreeAfterLoad: number | null;
}

/**
 * The firmware (an emulator build) reading one chip under a steady load: boot, two seconds to
 * settle, then one second measured. The core's share is the cycles inside wasm_host_call_i (every
 * export the loop calls) less those of the natives it calls.
 */
export function measurePico(firmware: { uf2: string; elf: string }, chip: Hx711): PicoFigures {
  const watch = functionRanges(firmware.elf, ["hx711_pio_wait_low", "hx711_pio_clock_in", "wasm_host_call_i", "wasm_host_start"]);
  const emu = new EmulatedPico(readFileSync(firmware.uf2), [{ chip, clk: 18, dout: 19 }], watch);
  emu.runUntil(2e6);
  const loadCycles = emu.inside.get("wasm_host_start")!.cycles;
  const firstCallCycles = emu.inside.get("wasm_host_call_i")!.maxCycles;
  const heap = emu.lines.map((l) => /heap (\d+) bytes in use, (\d+) free/.exec(l)).find((m) => m);
  emu.resetCycles();
  const before = emu.lines.length;
  emu.runUntil(3e6);
  const readings = emu.lines.slice(before).filter((l) => l.startsWith("R ")).length;
  const f = (name: string) => emu.inside.get(name)!.cycles;
  const wait = f("hx711_pio_wait_low");
  const clockIn = f("hx711_pio_clock_in");
  return {
    readings,
    cpuShare: emu.runCycles / (emu.runCycles + emu.sleepCycles),
    cyclesPerSample: emu.runCycles / readings,
    coreCycles: (f("wasm_host_call_i") - wait - clockIn) / readings,
    clockInCycles: clockIn / readings,
    waitCycles: wait / readings,
    loadCycles,
    firstCallCycles,
    heapFreeAfterLoad: heap ? Number(heap[2]) : null,
  };
}
