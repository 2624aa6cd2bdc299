// WAMR 2.4 (the ESP32's runtime) behind backend.h, built as on the device: interpreter only (fast
// or classic), pool allocator, software bounds checks, instruction metering on every call.
#include <cstring>
#include <mutex>
#include "backend.h"
#include "wasm_export.h"

namespace scale {
namespace {

/** The runtime pool: WAMR's runtime is one per process, as on the device. */
constexpr uint32_t kPoolBytes = 16u << 20;
alignas(8) uint8_t g_pool[kPoolBytes];
std::vector<Import> g_registered;
std::vector<NativeSymbol> g_symbols;
std::vector<std::string> g_signatures;

struct Context {
  Trampoline trampoline;
  void *context;
};

void native(wasm_exec_env_t env, uint64_t *args) {
  wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
  auto *c = static_cast<Context *>(wasm_runtime_get_custom_data(inst));
  uint32_t index = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(wasm_runtime_get_function_attachment(env)));
  Value in[8];
  const Import &im = g_registered[index];
  for (size_t i = 0; i < im.params.size() && i < 8; i++) in[i].bits = args[i];
  Value out{};
  if (!c->trampoline(c->context, index, in, &out)) {
    wasm_runtime_set_exception(inst, "host import threw");
    return;
  }
  if (!im.result.empty()) args[0] = out.bits;
}

/**
 * Starts the runtime and registers the imports once; later instances must import the same, or
 * nothing (a calibration module, beside the core that registered them).
 */
std::string ensure_runtime(const std::vector<Import> &imports) {
  static std::once_flag once;
  static bool ok = false;
  if (imports.empty() && g_registered.empty()) return "the core is loaded first: it registers the natives";
  std::call_once(once, [&] {
    RuntimeInitArgs init;
    std::memset(&init, 0, sizeof init);
    init.mem_alloc_type = Alloc_With_Pool;
    init.mem_alloc_option.pool.heap_buf = g_pool;
    init.mem_alloc_option.pool.heap_size = kPoolBytes;
    if (!wasm_runtime_full_init(&init)) return;
    g_registered = imports;
    g_signatures.reserve(imports.size());
    for (size_t i = 0; i < imports.size(); i++) {
      g_signatures.push_back("(" + imports[i].params + ")" + imports[i].result);
    }
    // Grouped by module, one registration each; WAMR keeps the pointers, so the vector is sized first.
    g_symbols.reserve(imports.size());
    ok = true;
    for (size_t i = 0; i < imports.size() && ok; i++) {
      bool seen = false;
      for (size_t j = 0; j < i; j++) seen = seen || imports[j].module == imports[i].module;
      if (seen) continue;
      size_t first = g_symbols.size();
      for (size_t j = i; j < imports.size(); j++) {
        if (imports[j].module != imports[i].module) continue;
        g_symbols.push_back({imports[j].name.c_str(), reinterpret_cast<void *>(&native), g_signatures[j].c_str(),
                             reinterpret_cast<void *>(static_cast<uintptr_t>(j))});
      }
      ok = wasm_runtime_register_natives_raw(g_registered[i].module.c_str(), &g_symbols[first],
                                             static_cast<uint32_t>(g_symbols.size() - first));
    }
  });
  if (!ok) return "WAMR runtime initialisation failed";
  if (imports.empty()) return "";
  if (imports.size() != g_registered.size()) return "imports differ from the first instance's";
  for (size_t i = 0; i < imports.size(); i++) {
    const Import &a = imports[i], &b = g_registered[i];
    if (a.module != b.module || a.name != b.name || a.params != b.params || a.result != b.result) return "imports differ from the first instance's";
  }
  return "";
}

class Wamr : public Backend {
 public:
  ~Wamr() override {
    if (env_) wasm_runtime_destroy_exec_env(env_);
    if (inst_) wasm_runtime_deinstantiate(inst_);
    if (module_) wasm_runtime_unload(module_);
  }

  std::string load(const std::vector<uint8_t> &wasm, const std::vector<Import> &imports, const std::vector<Export> &exports,
                   Trampoline trampoline, void *context, const Limits &limits) override {
    std::string err = ensure_runtime(imports);
    if (!err.empty()) return err;
    context_ = {trampoline, context};
    limit_ = limits.instruction_limit;
    bytes_ = wasm;  // WAMR rewrites the buffer it loads from, and keeps using it
    char error[256] = {0};
    module_ = wasm_runtime_load(bytes_.data(), static_cast<uint32_t>(bytes_.size()), error, sizeof error);
    if (!module_) return std::string("load: ") + error;
    inst_ = wasm_runtime_instantiate(module_, limits.stack_bytes, 0, error, sizeof error);
    if (!inst_) return std::string("instantiate: ") + error;
    wasm_runtime_set_custom_data(inst_, &context_);
    env_ = wasm_runtime_create_exec_env(inst_, limits.stack_bytes);
    if (!env_) return "cannot create the execution environment";
    for (const Export &e : exports) {
      wasm_function_inst_t f = wasm_runtime_lookup_function(inst_, e.name.c_str());
      if (!f) return "no export " + e.name;
      functions_.push_back(f);
      shapes_.push_back(e);
    }
    return "";
  }

  std::string call(uint32_t index, Value *args, Value *result) override {
    const Export &e = shapes_[index];
    uint32_t argv[16] = {0};
    uint32_t n = 0;
    for (size_t i = 0; i < e.params.size() && n < 15; i++) {
      bool wide = e.params[i] == 'I' || e.params[i] == 'F';
      std::memcpy(&argv[n], &args[i].bits, wide ? 8 : 4);
      n += wide ? 2 : 1;
    }
#if WASM_ENABLE_INSTRUCTION_METERING != 0
    if (limit_) wasm_runtime_set_instruction_count_limit(env_, static_cast<int>(limit_));
#endif
    if (!wasm_runtime_call_wasm(env_, functions_[index], n, argv)) {
      const char *x = wasm_runtime_get_exception(inst_);
      std::string message = x ? x : "trap";
      wasm_runtime_clear_exception(inst_);
      return message;
    }
    if (!e.result.empty()) std::memcpy(&result->bits, argv, (e.result[0] == 'I' || e.result[0] == 'F') ? 8 : 4);
    return "";
  }

  uint8_t *memory(uint64_t *bytes) override {
    wasm_memory_inst_t m = wasm_runtime_get_default_memory(inst_);
    if (!m) return nullptr;
    *bytes = wasm_memory_get_cur_page_count(m) * wasm_memory_get_bytes_per_page(m);
    return static_cast<uint8_t *>(wasm_memory_get_base_address(m));
  }

  MemoryInfo info() override {
    mem_alloc_info_t a;
    MemoryInfo m{};
    if (wasm_runtime_get_mem_alloc_info(&a)) {
      m.pool_total = a.total_size;
      m.pool_peak = a.highmark_size;
    }
    memory(&m.linear_bytes);
    return m;
  }

 private:
  Context context_{};
  uint32_t limit_ = 0;
  std::vector<uint8_t> bytes_;
  wasm_module_t module_ = nullptr;
  wasm_module_inst_t inst_ = nullptr;
  wasm_exec_env_t env_ = nullptr;
  std::vector<wasm_function_inst_t> functions_;
  std::vector<Export> shapes_;
};

}  // namespace

Backend *make_backend() { return new Wamr(); }
const char *engine_name() { return WASM_SCALE_ENGINE; }

}  // namespace scale
