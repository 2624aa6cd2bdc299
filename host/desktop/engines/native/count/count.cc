// Instruction counting harness for `npm run bench`: runs the release core with a simulated HX711
// (ready at once, a slowly varying 24-bit code) for N samples, or frames one reading N times, in
// one engine: WAMR fast or classic, wasm3 (through backend.h), or natively (the core compiled to
// C by wasm2c: the reference). Run under valgrind twice (N and 2N); the difference over N is the
// cost per sample (or per publish), host imports included, start-up excluded.
//   count <core.wasm> <sample|publish> <N>
//   count <core.wasm> module <N> <module.wasm> <params.bin>   (engines only: per sample with a
//     calibration module linked to calib.gain and calib.curve, a second instance in the same runtime)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#ifdef COUNT_NATIVE
extern "C" {
#include "core.h"
}
#else
#include "backend.h"
#endif

namespace {

constexpr int kPublishMsKey = 19;  // codes.config.PUBLISH_MS in assembly/abi.json
uint8_t *g_mem = nullptr;
uint32_t g_code = 100000;

int32_t wait_low(uint32_t, uint32_t, uint32_t) { return 0; }

int32_t clock_in(uint32_t, uint32_t, uint32_t len, uint32_t pulses, uint32_t out, uint32_t) {
  g_code = (g_code * 1103515245u + 12345u);
  uint32_t data = 100000u + ((g_code >> 16) & 63u);  // a few counts of noise: never frozen
  uint32_t extra = pulses - 24;
  for (uint32_t i = 0; i < len; i++) {
    uint32_t word = (data << extra) | ((1u << extra) - 1u);
    std::memcpy(g_mem + out + 4 * i, &word, 4);
  }
  uint32_t high = (1u << len) - 1u, longest = 1;
  std::memcpy(g_mem + out + 4 * len, &high, 4);
  std::memcpy(g_mem + out + 4 * (len + 1), &longest, 4);
  // A chip read at every conversion of 10 SPS, 10 us after DOUT fell, for 50 us (host us clock).
  static uint32_t fell = 1000;
  fell += 100000;
  uint32_t start = fell + 10, end = fell + 60;
  std::memcpy(g_mem + out + 4 * (len + 2), &start, 4);
  std::memcpy(g_mem + out + 4 * (len + 3), &end, 4);
  for (uint32_t i = 0; i < len; i++) std::memcpy(g_mem + out + 4 * (len + 4 + i), &fell, 4);
  return 0;
}

}  // namespace

#ifdef COUNT_NATIVE
extern "C" {
u32 Z_gpioZ_wait_low(struct Z_gpio_instance_t *, u32 a, u32 b, u32 c) { return static_cast<u32>(wait_low(a, b, c)); }
u32 Z_gpioZ_clock_in(struct Z_gpio_instance_t *, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f) { return static_cast<u32>(clock_in(a, b, c, d, e, f)); }
void Z_gpioZ_write(struct Z_gpio_instance_t *, u32, u32) {}

struct Core {
  Z_core_instance_t inst;
  explicit Core(const std::vector<uint8_t> &) {
    wasm_rt_init();
    Z_core_init_module();
    Z_core_instantiate(&inst, nullptr, nullptr);
    g_mem = inst.w2c_memory.data;
  }
  int32_t init() { return static_cast<int32_t>(Z_coreZ_scale_init(&inst)); }
  int32_t add_chip(int32_t c, int32_t d) { return static_cast<int32_t>(Z_coreZ_hx_add_chip(&inst, c, d)); }
  int32_t sample(int32_t t) { return static_cast<int32_t>(Z_coreZ_scale_sample(&inst, t)); }
  int32_t config_set(int32_t k, float v) { return static_cast<int32_t>(Z_coreZ_config_set(&inst, k, v)); }
  int32_t io_ptr() { return static_cast<int32_t>(Z_coreZ_io_ptr(&inst)); }
  int32_t mqtt_setup(int32_t n) { return static_cast<int32_t>(Z_coreZ_mqtt_setup(&inst, n)); }
  void connected(int32_t up) { Z_coreZ_mqtt_connected(&inst, up); }
  int32_t out_next() { return static_cast<int32_t>(Z_coreZ_out_next(&inst)); }
  int32_t out_done() { return static_cast<int32_t>(Z_coreZ_out_done(&inst)); }
};
f64 Z_calibZ_gain(struct Z_calib_instance_t *, f64, f64, f64, f64) { return NAN; }  // no module
u32 Z_calibZ_curve(struct Z_calib_instance_t *, f64) { return static_cast<u32>(-1); }
f64 Z_calibZ_knot(struct Z_calib_instance_t *, u32) { return NAN; }
void Z_calibZ_fault(struct Z_calib_instance_t *, u32, f64, f64) {}
u32 Z_calibZ_fit(struct Z_calib_instance_t *, u32, u32, u32, f64) { return static_cast<u32>(-6); }
}
#else
// The calibration module, when one is linked: its cal_gain is export 0, cal_curve 3, cal_knots 4.
std::unique_ptr<scale::Backend> g_module;
uint32_t g_knots_at = 0;
int32_t g_knot_count = 0;

bool trampoline(void *, uint32_t index, scale::Value *a, scale::Value *r) {
  if (index == 0) r->i32 = wait_low(a[0].i32, a[1].i32, a[2].i32);
  else if (index == 1) r->i32 = clock_in(a[0].i32, a[1].i32, a[2].i32, a[3].i32, a[4].i32, a[5].i32);
  else if (index == 3) {  // calib.gain: the module's cal_gain, as the firmware's native calls it
    if (!g_module) { r->f64 = NAN; return true; }
    return g_module->call(0, a, r).empty();
  } else if (index == 4) {  // calib.curve: cal_curve, then where cal_knots says they are
    scale::Value at{};
    g_knot_count = 0;
    if (!g_module || !g_module->call(3, a, r).empty() || !g_module->call(4, a, &at).empty()) { r->i32 = -1; return true; }
    g_knots_at = static_cast<uint32_t>(at.i32);
    g_knot_count = r->i32;
  } else if (index == 5) {  // calib.knot
    uint64_t bytes = 0;
    uint8_t *mem = g_module ? g_module->memory(&bytes) : nullptr;
    uint64_t at = g_knots_at + static_cast<uint64_t>(a[0].i32) * 8;
    r->f64 = NAN;
    if (mem && a[0].i32 >= 0 && a[0].i32 < 2 * g_knot_count && at + 8 <= bytes) std::memcpy(&r->f64, mem + at, 8);
  } else if (index == 6) return true;  // calib.fault: not measured
  else if (index == 7) r->i32 = -6;  // calib.fit: not measured
  else if (index == 8) return false;  // sys.panic: trap
  return true;
}

struct Core {
  std::unique_ptr<scale::Backend> b{scale::make_backend()};
  enum { INIT, ADD, SAMPLE, SET, IO, SETUP, CONNECTED, NEXT, DONE, MODULE };
  explicit Core(const std::vector<uint8_t> &wasm) {
    std::vector<scale::Import> imports = {{"gpio", "wait_low", "iii", "i"}, {"gpio", "clock_in", "iiiiii", "i"}, {"gpio", "write", "ii", ""},
                                          {"calib", "gain", "FFFF", "F"}, {"calib", "curve", "F", "i"}, {"calib", "knot", "i", "F"},
                                          {"calib", "fault", "iFF", ""}, {"calib", "fit", "iiiF", "i"}, {"sys", "panic", "ii", ""}};
    std::vector<scale::Export> exports = {{"scale_init", "", "i"}, {"hx_add_chip", "ii", "i"}, {"scale_sample", "i", "i"}, {"config_set", "if", "i"},
                                          {"io_ptr", "", "i"}, {"mqtt_setup", "i", "i"}, {"mqtt_connected", "i", ""}, {"out_next", "", "i"}, {"out_done", "", "i"},
                                          {"cal_module", "i", "i"}};
    std::string err = b->load(wasm, imports, exports, &trampoline, nullptr, {16 * 1024, 0});
    if (!err.empty()) { std::fprintf(stderr, "load: %s\n", err.c_str()); std::exit(2); }
    uint64_t bytes = 0;
    g_mem = b->memory(&bytes);
  }
  int32_t call(uint32_t i, int32_t x = 0, float f = 0, int32_t y = 0) {
    scale::Value args[2];
    args[0].bits = 0; args[1].bits = 0;
    args[0].i32 = x;
    if (i == SET) args[1].f32 = f; else args[1].i32 = y;
    scale::Value r{};
    std::string trap = b->call(i, args, &r);
    if (!trap.empty()) { std::fprintf(stderr, "trap: %s\n", trap.c_str()); std::exit(3); }
    return r.i32;
  }
  int32_t init() { return call(INIT); }
  int32_t add_chip(int32_t c, int32_t d) { return call(ADD, c, 0, d); }
  int32_t sample(int32_t t) { return call(SAMPLE, t); }
  int32_t config_set(int32_t k, float v) { return call(SET, k, v); }
  int32_t io_ptr() { return call(IO); }
  int32_t mqtt_setup(int32_t n) { return call(SETUP, n); }
  void connected(int32_t up) { call(CONNECTED, up); }
  int32_t out_next() { return call(NEXT); }
  int32_t out_done() { return call(DONE); }
  int32_t cal_module(int32_t on) { return call(MODULE, on); }
};

/** Loads a calibration module (no imports) and gives it its parameter blob; false on any error. */
bool load_module(const char *wasm_path, const char *params_path) {
  std::ifstream wf(wasm_path, std::ios::binary), pf(params_path, std::ios::binary);
  std::vector<uint8_t> wasm((std::istreambuf_iterator<char>(wf)), std::istreambuf_iterator<char>());
  std::vector<uint8_t> params((std::istreambuf_iterator<char>(pf)), std::istreambuf_iterator<char>());
  if (wasm.empty()) return false;
  g_module.reset(scale::make_backend());
  std::vector<scale::Export> exports = {{"cal_gain", "FFFF", "F"}, {"cal_params", "", "i"}, {"cal_params_load", "i", "i"}, {"cal_curve", "F", "i"}, {"cal_knots", "", "i"}};
  std::string err = g_module->load(wasm, {}, exports, &trampoline, nullptr, {8 * 1024, 0});
  if (!err.empty()) { std::fprintf(stderr, "module: %s\n", err.c_str()); return false; }
  scale::Value none[4]{}, r{};
  if (!g_module->call(1, none, &r).empty()) return false;
  uint64_t bytes = 0;
  uint8_t *mem = g_module->memory(&bytes);
  if (r.i32 < 0 || static_cast<uint64_t>(r.i32) + params.size() > bytes) return false;
  std::memcpy(mem + r.i32, params.data(), params.size());
  scale::Value len{};
  len.i32 = static_cast<int32_t>(params.size());
  return g_module->call(2, &len, &r).empty() && r.i32 == 0;
}
#endif

int main(int argc, char **argv) {
  bool with_module = argc == 6 && std::strcmp(argv[2], "module") == 0;
  if (argc != 4 && !with_module) { std::fprintf(stderr, "usage: count <core.wasm> <sample|publish> <N> | count <core.wasm> module <N> <module.wasm> <params.bin>\n"); return 2; }
  std::ifstream f(argv[1], std::ios::binary);
  std::vector<uint8_t> wasm((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (wasm.empty()) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
  bool publish = std::strcmp(argv[2], "publish") == 0;
  long n = std::atol(argv[3]);
  Core core(wasm);
  core.init();
  core.add_chip(18, 4);
  std::memcpy(g_mem + core.io_ptr(), "dev1", 4);
  core.mqtt_setup(4);
  if (with_module) {
#ifdef COUNT_NATIVE
    std::fprintf(stderr, "module: the native reference links no module\n");
    return 2;
#else
    if (!load_module(argv[4], argv[5])) { std::fprintf(stderr, "cannot load the module %s\n", argv[4]); return 2; }
    if (core.cal_module(1) != 0) { std::fprintf(stderr, "the core refused the module\n"); return 2; }
#endif
  }
  // Per sample: the default settings, as a device runs them (a reading queued once a second).
  // Per publish: every reading queued, so that there are readings to frame.
  if (publish) core.config_set(kPublishMsKey, 0);
  long readings = 0;
  int32_t t = 0;
  for (int i = 0; i < 200; i++) readings += core.sample(t += 13) > 0;  // settle, and queue readings
  if (!publish) {
    for (long i = 0; i < n; i++) readings += core.sample(t += 13) > 0;
    std::printf("%ld samples, %ld readings\n", n, readings);
    return readings > 0 ? 0 : 1;
  }
  core.connected(1);
  for (int i = 0; i < 6; i++) {  // online and the five discovery entities go first
    core.out_next();
    core.out_done();
  }
  // What is measured must be a reading (a discovery entity more would be framed instead, unnoticed).
  const int32_t first = core.out_next();
  const std::string frame(reinterpret_cast<const char *>(g_mem + core.io_ptr()), first > 0 ? static_cast<size_t>(first) : 0);
  if (frame.find("wasm-scale/dev1/state") == std::string::npos) { std::fprintf(stderr, "the frame measured is not a reading\n"); return 2; }
  long bytes = 0;
  for (long i = 0; i < n; i++) bytes += core.out_next();  // the same oldest reading, framed again
  std::printf("%ld frames, %ld bytes\n", n, bytes);
  return bytes > 0 ? 0 : 1;
}
