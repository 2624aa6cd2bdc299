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

/** The installed calibration module's gain for this sample from the chips' latest codes (NaN when
 *  absent); NaN when the module failed. Per sample while a module is switched on (the third host call). */
@external("calib", "gain")
export declare function calib_gain(c0: f64, c1: f64, c2: f64, c3: f64): f64;

/** The module's curve at this temperature: its knot count (read with calib_knot), or negative. */
@external("calib", "curve")
export declare function calib_curve(tempC: f64): i32;

/** Value i of the knots the last calib_curve declared (counts at even i, kg at odd i). */
@external("calib", "knot")
export declare function calib_knot(i: i32): f64;

/** The core refused what the module gave: 1 a curve (x, kg of the failing knot, or NaN and the count), 2 a gain. */
@external("calib", "fault")
export declare function calib_fault(kind: i32, x: f64, value: f64): void;

/** Fit the installed module to n points at ptr (counts f64, kg f32, 4 bytes padding each), as counts
 *  above zeroCounts. Returns 0 or a negative error. On a calibration command. */
@external("calib", "fit")
export declare function calib_fit(order: i32, ptr: usize, n: i32, zeroCounts: f64): i32;

/** Internal invariant broken; the host logs it and re-instantiates the core. */
@external("sys", "panic")
declare function sys_panic(line: i32, col: i32): void;

/** AssemblyScript's abort, routed here by asconfig.json (`--use abort=`): the message strings are
 *  dropped to keep the binary small; line and column locate the failed check. */
export function coreAbort(msg: string | null, file: string | null, line: u32, col: u32): void {
  sys_panic(<i32>line, <i32>col);
  unreachable();
}
