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
  it("take a division of 1, 2 or 5 times a power of ten only (R76)", () => {
    configDefaults();
    const good: f32[] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, 0.000001, 1000];
    for (let i = 0; i < good.length; i++) expect<i32>(configSet(CFG_DIVISION_KG, good[i])).toBe(0);
    const bad: f32[] = [0.003, 0.025, 0.015, 3, 7, 0.0099, 25, 0.4];
    for (let i = 0; i < bad.length; i++) expect<i32>(configSet(CFG_DIVISION_KG, bad[i])).toBe(ERR_BAD_VALUE);
    expect<f32>(configGet(CFG_DIVISION_KG)).toBe(<f32>1000);
  });
  it("keep at least one sample in the trimmed mean", () => {
    configDefaults();
    expect<i32>(configSet(CFG_SPIKE_WINDOW, 5)).toBe(0);
    expect<i32>(configSet(CFG_SPIKE_TRIM, 2)).toBe(0);
    expect<i32>(configSet(CFG_SPIKE_TRIM, 3)).toBe(ERR_BAD_VALUE);
    expect<i32>(configSet(CFG_SPIKE_WINDOW, 4)).toBe(ERR_BAD_VALUE);
  });
});
