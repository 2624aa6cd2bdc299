// The desktop host's implementation of every import in assembly/abi.json, over the virtual board.
// Same semantics as the ESP-IDF natives: arguments are checked, a bad one gets an error result
// (never a crash), buffers are (pointer, length) ranges of the core's linear memory.
import type { Board } from "./sim/board.js";
import { CalibrationSocket } from "./modules/socket.js";

/** wait_low's result for a bad argument (ABI: <= -1000000). */
export const BAD_ARGUMENT = -1000001;
/** Most pins one call may name (the core supports 4 chips). */
const MAX_PINS = 8;
const MAX_GPIO = 63;

export interface CorePanic {
  line: number;
  col: number;
}

export interface HostImports {
  imports: WebAssembly.Imports;
  /** Give the imports the instance's memory (imports are made before the instance exists). */
  bind(memory: { buffer: ArrayBuffer }): void;
  /** Calls made by the core into the host, by name. */
  calls: Record<string, number>;
  /** Where a calibration module plugs into the core's calib imports. */
  calibration: CalibrationSocket;
}

export function makeImports(board: Board, onPanic: (p: CorePanic) => void): HostImports {
  let bytes = new Uint8Array(0);
  let view = new DataView(new ArrayBuffer(0));
  const words = new Uint32Array(MAX_PINS);
  const pinScratch = new Uint8Array(MAX_PINS);
  const calls: Record<string, number> = { "gpio.wait_low": 0, "gpio.clock_in": 0, "gpio.write": 0, "sys.panic": 0 };

  /** Copies the pin list at [ptr, ptr+len) into pinScratch; false if the range or a pin is invalid. */
  function pins(ptr: number, len: number): boolean {
    if (len < 1 || len > MAX_PINS || ptr < 0 || ptr + len > bytes.length) return false;
    for (let i = 0; i < len; i++) {
      const p = bytes[ptr + i];
      if (p > MAX_GPIO) return false;
      pinScratch[i] = p;
    }
    return true;
  }

  const gpio = {
    wait_low(ptr: number, len: number, timeoutUs: number): number {
      calls["gpio.wait_low"]++;
      if (!pins(ptr, len) || timeoutUs < 0) return BAD_ARGUMENT;
      return board.waitLow(pinScratch, len, timeoutUs);
    },
    clock_in(clk: number, ptr: number, len: number, pulses: number, out: number, outLen: number): number {
      calls["gpio.clock_in"]++;
      if (!pins(ptr, len) || clk < 0 || clk > MAX_GPIO || !board.isClockPin(clk)) return -1;
      if (pulses < 1 || pulses > 32) return -2;
      if (out < 0 || outLen < 4 * (2 * len + 4) || out + outLen > bytes.length || (out & 3) !== 0) return -3;
      board.clockIn(clk, pinScratch, len, pulses, words);
      for (let i = 0; i < len; i++) view.setUint32(out + 4 * i, words[i], true);
      view.setUint32(out + 4 * len, board.highMask, true);
      view.setUint32(out + 4 * (len + 1), board.maxHighUs, true);
      // The board's clock as a host's free-running microsecond counter: whole us, wrapping.
      view.setUint32(out + 4 * (len + 2), Math.floor(board.readStartUs) >>> 0, true);
      view.setUint32(out + 4 * (len + 3), Math.ceil(board.readEndUs) >>> 0, true);
      for (let i = 0; i < len; i++) view.setUint32(out + 4 * (len + 4 + i), Math.floor(board.fellUs[i]) >>> 0, true);
      return 0;
    },
    write(pin: number, level: number): void {
      calls["gpio.write"]++;
      if (pin < 0 || pin > MAX_GPIO || (level !== 0 && level !== 1)) return;
      board.write(pin, level as 0 | 1);
    },
  };
  const sys = {
    panic(line: number, col: number): void {
      calls["sys.panic"]++;
      onPanic({ line, col });
    },
  };
  const calibration = new CalibrationSocket(calls);
  return {
    imports: { gpio, calib: calibration.imports, sys },
    bind(memory: { buffer: ArrayBuffer }): void {
      // One page, never grown (the ABI caps memory), so these views stay valid.
      bytes = new Uint8Array(memory.buffer);
      view = new DataView(memory.buffer);
      calibration.bind(memory);
    },
    calls,
    calibration,
  };
}
