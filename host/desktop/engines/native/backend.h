// One Wasm interpreter behind the addon: load a module, link imports that call a trampoline,
// call exports with numbers, expose linear memory. WAMR (fast or classic) and wasm3 implement it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace scale {

/** A Wasm value in a 64-bit slot: i32, i64, f32 or f64 by the signature letter (i, I, f, F). */
union Value {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  uint64_t bits;
};

struct Import {
  std::string module;
  std::string name;
  std::string params;  // letters, e.g. "iii"
  std::string result;  // "" or one letter
};

struct Export {
  std::string name;
  std::string params;
  std::string result;
};

/** Called for every import call: index into the imports, arguments in, result out. False = trap. */
using Trampoline = bool (*)(void *context, uint32_t import, Value *args, Value *result);

struct Limits {
  uint32_t stack_bytes;
  uint32_t instruction_limit;  // per call; 0 = none (WAMR only)
};

struct MemoryInfo {
  uint64_t pool_total;  // bytes of the runtime pool (0 when the engine has none)
  uint64_t pool_peak;   // its high-water mark
  uint64_t linear_bytes;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /** Loads and instantiates; returns "" or the error. */
  virtual std::string load(const std::vector<uint8_t> &wasm, const std::vector<Import> &imports,
                           const std::vector<Export> &exports, Trampoline trampoline, void *context, const Limits &limits) = 0;
  /** Calls export `index`; returns "" or the trap message. */
  virtual std::string call(uint32_t index, Value *args, Value *result) = 0;
  virtual uint8_t *memory(uint64_t *bytes) = 0;
  virtual MemoryInfo info() = 0;
};

Backend *make_backend();
const char *engine_name();

}  // namespace scale
