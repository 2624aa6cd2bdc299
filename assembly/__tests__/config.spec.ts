import { configDefaults, configSet, configGet } from "../config";
import {
  CFG_GAIN, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_DIVISION_KG, CFG_ZERO_TRACK_D_PER_S, CFG_SETTLE_DISCARD,
  CFG_COUNT, ERR_BAD_KEY, ERR_BAD_VALUE,
} from "../abi";

describe("settings", () => {
  it("start at their defaults", () => {
    configDefaults();
    expect<f32>(configGet(CFG_GAIN)).toBe(128);
    expect<f32>(configGet(CFG_DIVISION_KG)).toBe(<f32>0.01);
  });
  it("reject unknown keys, NaN, infinities and out-of-range values, changing nothing", () => {
    configDefaults();
    expect<i32>(configSet(-1, 1)).toBe(ERR_BAD_KEY);
    expect<i32>(configSet(CFG_COUNT, 1)).toBe(ERR_BAD_KEY);
    expect<bool>(isNaN(configGet(CFG_COUNT))).toBe(true);
    expect<i32>(configSet(CFG_DIVISION_KG, NaN)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_DIVISION_KG, Infinity)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_DIVISION_KG, 0)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_ZERO_TRACK_D_PER_S, 0.6)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_GAIN, 100)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_SETTLE_DISCARD, 2.5)).toBe(ERR_BAD_VALUE);
    expect<f32>(configGet(CFG_DIVISION_KG)).toBe(<f32>0.01);
    expect<f32>(configGet(CFG_GAIN)).toBe(128);
  });
  it("keep at least one sample in the trimmed mean", () => {
    configDefaults();
    expect<i32>(configSet(CFG_SPIKE_WINDOW, 5)).toBe(0);
    expect<i32>(configSet(CFG_SPIKE_TRIM, 2)).toBe(0);
    expect<i32>(configSet(CFG_SPIKE_TRIM, 3)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_SPIKE_WINDOW, 4)).toBe(ERR_BAD_VALUE);
  });
});
