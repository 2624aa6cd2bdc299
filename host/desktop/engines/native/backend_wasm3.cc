// wasm3 (the Pico W's interpreter) behind backend.h.
#include <cstring>
#include "backend.h"
#include "wasm3.h"

namespace scale {
namespace {

struct Link {
  Trampoline trampoline;
  void *context;
  uint32_t index;
  bool has_result;
  uint32_t params;
};

const void *raw(IM3Runtime, IM3ImportContext ctx, uint64_t *sp, void *) {
  auto *l = static_cast<Link *>(ctx->userdata);
  Value in[8];
  uint64_t *args = l->has_result ? sp + 1 : sp;
  for (uint32_t i = 0; i < l->params && i < 8; i++) in[i].bits = args[i];
  Value out{};
  if (!l->trampoline(l->context, l->index, in, &out)) return "host import threw";
  if (l->has_result) sp[0] = out.bits;
  return m3Err_none;
}

class Wasm3 : public Backend {
 public:
  ~Wasm3() override {
    if (runtime_) m3_FreeRuntime(runtime_);
    else if (module_) m3_FreeModule(module_);
    if (env_) m3_FreeEnvironment(env_);
  }

  std::string load(const std::vector<uint8_t> &wasm, const std::vector<Import> &imports, const std::vector<Export> &exports,
                   Trampoline trampoline, void *context, const Limits &limits) override {
    bytes_ = wasm;  // wasm3 refers to the module's bytes while it runs
    env_ = m3_NewEnvironment();
    if (!env_) return "out of memory";
    runtime_ = m3_NewRuntime(env_, limits.stack_bytes, nullptr);
    if (!runtime_) return "out of memory";
    M3Result r = m3_ParseModule(env_, &module_, bytes_.data(), static_cast<uint32_t>(bytes_.size()));
    if (r) return std::string("parse: ") + r;
    r = m3_LoadModule(runtime_, module_);
    if (r) {
      m3_FreeModule(module_);
      module_ = nullptr;
      return std::string("load: ") + r;
    }
    links_.resize(imports.size());
    for (size_t i = 0; i < imports.size(); i++) {
      const Import &im = imports[i];
      links_[i] = {trampoline, context, static_cast<uint32_t>(i), !im.result.empty(), static_cast<uint32_t>(im.params.size())};
      // wasm3's signature letters are the ABI's (i I f F), with v for no result.
      std::string sig = (im.result.empty() ? std::string("v") : im.result) + "(" + im.params + ")";
      r = m3_LinkRawFunctionEx(module_, im.module.c_str(), im.name.c_str(), sig.c_str(), &raw, &links_[i]);
      if (r && r != m3Err_functionLookupFailed) return "link " + im.module + "." + im.name + ": " + r;
    }
    for (const Export &e : exports) {
      IM3Function f = nullptr;
      r = m3_FindFunction(&f, runtime_, e.name.c_str());
      if (r) return "export " + e.name + ": " + r;
      functions_.push_back(f);
    }
    return "";
  }

  std::string call(uint32_t index, Value *args, Value *result) override {
    IM3Function f = functions_[index];
    const void *ptrs[8];
    uint32_t n = m3_GetArgCount(f);
    for (uint32_t i = 0; i < n && i < 8; i++) ptrs[i] = &args[i];
    M3Result r = m3_Call(f, n, ptrs);
    if (r) {
      M3ErrorInfo info;
      m3_GetErrorInfo(runtime_, &info);
      std::string message = r;
      if (info.message && *info.message) message += std::string(" (") + info.message + ")";
      m3_ResetErrorInfo(runtime_);
      return message;
    }
    if (m3_GetRetCount(f) > 0) {
      const void *out[1] = {&result->bits};
      r = m3_GetResults(f, 1, out);
      if (r) return r;
    }
    return "";
  }

  uint8_t *memory(uint64_t *bytes) override {
    uint32_t size = 0;
    uint8_t *base = m3_GetMemory(runtime_, &size, 0);
    *bytes = size;
    return base;
  }

  MemoryInfo info() override {
    MemoryInfo m{};
    memory(&m.linear_bytes);
    return m;
  }

 private:
  std::vector<uint8_t> bytes_;
  IM3Environment env_ = nullptr;
  IM3Runtime runtime_ = nullptr;
  IM3Module module_ = nullptr;
  std::vector<Link> links_;
  std::vector<IM3Function> functions_;
};

}  // namespace

Backend *make_backend() { return new Wasm3(); }
const char *engine_name() { return "wasm3"; }

}  // namespace scale
