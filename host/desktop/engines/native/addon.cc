// Node-API face of a Wasm interpreter (backend.h): `new Instance(wasm, imports, exports, limits)`,
// `call(index, ...args)`, `memory()`, `info()`. Imports call back into JavaScript; an exception
// thrown there traps the Wasm call and is rethrown to the caller once the interpreter has unwound.
#include <napi.h>
#include <memory>
#include "backend.h"

namespace {


class Instance : public Napi::ObjectWrap<Instance> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Instance", {
      InstanceMethod<&Instance::Call>("call"),
      InstanceMethod<&Instance::Memory>("memory"),
      InstanceMethod<&Instance::Info>("info"),
    });
  }

  explicit Instance(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Instance>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsObject()) {
      Napi::TypeError::New(env, "Instance(wasm: Uint8Array, imports: [{module, name, params, result, fn}], exports: [{name, params, result}], limits)").ThrowAsJavaScriptException();
      return;
    }
    auto bytes = info[0].As<Napi::Uint8Array>();
    std::vector<uint8_t> wasm(bytes.Data(), bytes.Data() + bytes.ByteLength());
    auto list = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      auto o = list.Get(i).As<Napi::Object>();
      imports_.push_back({o.Get("module").ToString(), o.Get("name").ToString(), o.Get("params").ToString(), o.Get("result").ToString()});
      functions_.push_back(Napi::Persistent(o.Get("fn").As<Napi::Function>()));
    }
    auto ex = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < ex.Length(); i++) {
      auto o = ex.Get(i).As<Napi::Object>();
      exports_.push_back({o.Get("name").ToString(), o.Get("params").ToString(), o.Get("result").ToString()});
    }
    auto l = info[3].As<Napi::Object>();
    scale::Limits limits{l.Get("stackBytes").ToNumber().Uint32Value(), l.Get("instructionLimit").ToNumber().Uint32Value()};
    backend_.reset(scale::make_backend());
    env_ = env;
    std::string err = backend_->load(wasm, imports_, exports_, &Instance::Trampoline, this, limits);
    if (!err.empty()) Napi::Error::New(env, std::string(scale::engine_name()) + ": " + err).ThrowAsJavaScriptException();
  }

 private:
  static bool Trampoline(void *context, uint32_t index, scale::Value *args, scale::Value *result) {
    auto *self = static_cast<Instance *>(context);
    Napi::Env env = self->env_;
    const scale::Import &im = self->imports_[index];
    napi_value argv[8];
    size_t argc = im.params.size() < 8 ? im.params.size() : 8;
    for (size_t i = 0; i < argc; i++) {
      double v = 0;
      switch (im.params[i]) {
        case 'i': v = args[i].i32; break;
        case 'I': v = static_cast<double>(args[i].i64); break;
        case 'f': v = args[i].f32; break;
        default: v = args[i].f64; break;
      }
      argv[i] = Napi::Number::New(env, v);
    }
    napi_value out;
    napi_status status = napi_call_function(env, env.Undefined(), self->functions_[index].Value(), argc, argv, &out);
    if (status != napi_ok) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      self->pending_ = Napi::Persistent(Napi::Value(env, e));
      return false;
    }
    if (!im.result.empty()) {
      double v = Napi::Value(env, out).ToNumber().DoubleValue();
      switch (im.result[0]) {
        case 'i': result->i32 = static_cast<int32_t>(static_cast<int64_t>(v)); break;
        case 'I': result->i64 = static_cast<int64_t>(v); break;
        case 'f': result->f32 = static_cast<float>(v); break;
        default: result->f64 = v; break;
      }
    }
    return true;
  }

  Napi::Value Call(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    uint32_t index = info[0].As<Napi::Number>().Uint32Value();
    if (!backend_ || index >= exports_.size()) {
      Napi::RangeError::New(env, "no such export").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const scale::Export &ex = exports_[index];
    scale::Value args[8] = {};
    for (size_t i = 0; i < ex.params.size() && i < 8; i++) {
      double v = i + 1 < info.Length() ? info[i + 1].ToNumber().DoubleValue() : 0;
      switch (ex.params[i]) {
        case 'i': args[i].i32 = static_cast<int32_t>(static_cast<int64_t>(v)); break;
        case 'I': args[i].i64 = static_cast<int64_t>(v); break;
        case 'f': args[i].f32 = static_cast<float>(v); break;
        default: args[i].f64 = v; break;
      }
    }
    scale::Value result{};
    std::string trap = backend_->call(index, args, &result);
    if (!pending_.IsEmpty()) {
      Napi::Value e = pending_.Value();
      pending_.Reset();
      napi_throw(env, e);
      return env.Undefined();
    }
    if (!trap.empty()) {
      Napi::Error err = Napi::Error::New(env, std::string(scale::engine_name()) + " trap in " + ex.name + ": " + trap);
      err.Set("wasmTrap", Napi::Boolean::New(env, true));
      err.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (ex.result.empty()) return env.Undefined();
    switch (ex.result[0]) {
      case 'i': return Napi::Number::New(env, result.i32);
      case 'I': return Napi::Number::New(env, static_cast<double>(result.i64));
      case 'f': return Napi::Number::New(env, result.f32);
      default: return Napi::Number::New(env, result.f64);
    }
  }

  /** The linear memory as an ArrayBuffer over the interpreter's own bytes (one page, never grown). */
  Napi::Value Memory(const Napi::CallbackInfo &info) {
    uint64_t bytes = 0;
    uint8_t *base = backend_ ? backend_->memory(&bytes) : nullptr;
    if (base == nullptr) return info.Env().Null();
    return Napi::ArrayBuffer::New(info.Env(), base, static_cast<size_t>(bytes));
  }

  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Object o = Napi::Object::New(info.Env());
    scale::MemoryInfo m = backend_ ? backend_->info() : scale::MemoryInfo{};
    o.Set("poolTotalBytes", Napi::Number::New(info.Env(), static_cast<double>(m.pool_total)));
    o.Set("poolPeakBytes", Napi::Number::New(info.Env(), static_cast<double>(m.pool_peak)));
    o.Set("linearMemoryBytes", Napi::Number::New(info.Env(), static_cast<double>(m.linear_bytes)));
    return o;
  }

  Napi::Env env_ = nullptr;
  std::unique_ptr<scale::Backend> backend_;
  std::vector<scale::Import> imports_;
  std::vector<scale::Export> exports_;
  std::vector<Napi::FunctionReference> functions_;
  Napi::Reference<Napi::Value> pending_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Instance", Instance::Define(env));
  exports.Set("engine", Napi::String::New(env, scale::engine_name()));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
