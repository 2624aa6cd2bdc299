// Host capabilities the core imports. Each is listed, with units and call frequency, in
// assembly/abi.json; a test fails if these drift from it. Only numbers and (pointer, length)
// byte buffers cross.

/** Wait until every DOUT pin in pins[0..len) is low. Returns microseconds waited, or minus the
 *  mask of pins still high at the timeout. Per sample. */
@external("gpio", "wait_low")
export declare function gpio_wait_low(pins: usize, pinsLen: i32, timeoutUs: i32): i32;

/** Clock `pulses` short, uninterruptible high pulses on clk, sampling every data pin after each
 *  rising edge. Writes per-pin bit words, the mask of pins high afterwards and the longest high
 *  phase (us) to out. Per sample, once per clock pin. */
@external("gpio", "clock_in")
export declare function gpio_clock_in(clk: i32, pins: usize, pinsLen: i32, pulses: i32, out: usize, outLen: i32): i32;

/** Drive an output pin. Rare: HX711 power down / up. */
@external("gpio", "write")
export declare function gpio_write(pin: i32, level: i32): void;

/** Internal invariant broken; the host logs it and re-instantiates the core. */
@external("sys", "panic")
declare function sys_panic(line: i32, col: i32): void;

/** AssemblyScript's abort, routed here by asconfig.json (`--use abort=`): the message strings are
 *  dropped to keep the binary small; line and column locate the failed check. */
export function coreAbort(msg: string | null, file: string | null, line: u32, col: u32): void {
  sys_panic(<i32>line, <i32>col);
  unreachable();
}
