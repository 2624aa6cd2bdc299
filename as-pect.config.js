// as-pect runs the core's unit specs (assembly/__tests__) and the example calibration modules'
// (modules/*/__tests__). The HX711 specs script what the two GPIO imports return through a small
// `spec` import module; calib.curve declares the knots a spec sets (a straight line of the slope it
// sets, or a table; none for slope 0), calib.gain answers the gain it sets, calib.fault is counted.
export default {
  entries: ["assembly/__tests__/**/*.spec.ts", "modules/*/__tests__/**/*.spec.ts"],
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    // Times: every DOUT fell at `fallUs`, the read begins `startAfterUs` later and lasts `readUs`;
    // each read's fall is `periodUs` after the last one's (a chip read at every conversion).
    const script = { words: [], highAfter: 1, maxHighUs: 1, fallUs: 1000, startAfterUs: 10, readUs: 50, periodUs: 100000, times: true,
      waitResult: 0, writes: [], pulses: 0, moduleSlope: 0, fits: 0, gain: 1, knots: null, curveTemps: [], faults: [] };
    let exports;
    const u32 = () => new Uint32Array(exports.memory.buffer);
    const imports = {
      env: { memory },
      gpio: {
        wait_low: () => script.waitResult,
        clock_in: (clk, pins, len, pulses, out) => {
          script.pulses = pulses;
          for (let i = 0; i < len; i++) u32()[(out >> 2) + i] = script.words[i] >>> 0;
          u32()[(out >> 2) + len] = script.highAfter;
          u32()[(out >> 2) + len + 1] = script.maxHighUs;
          if (script.times) {
            const start = script.fallUs + script.startAfterUs;
            u32()[(out >> 2) + len + 2] = start >>> 0;
            u32()[(out >> 2) + len + 3] = (start + script.readUs) >>> 0;
            for (let i = 0; i < len; i++) u32()[(out >> 2) + len + 4 + i] = script.fallUs >>> 0;
          }
          script.fallUs += script.periodUs;
          return 0;
        },
        write: (pin, level) => { script.writes.push(pin * 10 + level); },
      },
      calib: {
        gain: () => script.gain,
        curve: (t) => {
          script.curveTemps.push(t);
          if (script.knots) return script.knots.length / 2;
          return script.moduleSlope === 0 ? -1 : 2;
        },
        knot: (i) => {
          const knots = script.knots ?? [0, 0, 1e6, 1e6 * script.moduleSlope];
          return i >= 0 && i < knots.length ? knots[i] : NaN;
        },
        fault: (kind, x, value) => { script.faults.push([kind, x, value]); },
        fit: () => { script.fits++; return 0; },
      },
      sys: { panic: () => { throw new Error("core panic"); } },
      spec: {
        set_word: (i, w) => { script.words[i] = w; },
        set_after: (mask, maxHighUs) => { script.highAfter = mask; script.maxHighUs = maxHighUs; },
        set_wait: (r) => { script.waitResult = r; },
        set_timing: (periodUs, startAfterUs, readUs) => { script.periodUs = periodUs; script.startAfterUs = startAfterUs; script.readUs = readUs; },
        set_times: (on) => { script.times = on !== 0; },
        last_pulses: () => script.pulses,
        writes: () => script.writes.length,
        last_write: () => script.writes[script.writes.length - 1] ?? -1,
        set_module_slope: (k) => { script.moduleSlope = k; },
        module_fits: () => script.fits,
        set_module_gain: (g) => { script.gain = g; },
        set_module_knots: (a, b, c, d, e, f) => { script.knots = a === 0 && b === 0 && c === 0 ? null : [a, b, c, d, e, f]; },
        module_faults: () => script.faults.length,
        last_fault_kind: () => (script.faults.length ? script.faults[script.faults.length - 1][0] : 0),
        last_fault_x: () => (script.faults.length ? script.faults[script.faults.length - 1][1] : NaN),
        curves_taken: () => script.curveTemps.length,
      },
    };
    const result = instantiate(binary, createImports(imports));
    result.then?.((r) => { exports = (r.instance ?? r).exports; });
    return result;
  },
  outputBinary: false,
};
