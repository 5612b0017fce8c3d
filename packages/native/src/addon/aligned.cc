// Aligned memory for O_DIRECT: posix_memalign'ed blocks handed to JS as external
// Buffers; the finalizer frees them when the Buffer is garbage collected.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "errors.h"

namespace {

void FreeAligned(Napi::Env env, uint8_t* data, size_t* size) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*size));
  free(data);
  delete size;
}

}  // namespace

// allocAligned(size, alignment) -> zero-filled Buffer whose address is a multiple of alignment.
Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 2 && info[0].IsNumber() && info[1].IsNumber(), "expected (size, alignment)"))
    return env.Undefined();
  double sizeArg = info[0].As<Napi::Number>().DoubleValue();
  size_t alignment = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  if (ThrowUnless(env, sizeArg >= 0, "size must be >= 0")) return env.Undefined();
  size_t size = static_cast<size_t>(sizeArg);
  void* data = nullptr;
  // posix_memalign(0) may return NULL; one alignment unit keeps the pointer real.
  int err = posix_memalign(&data, alignment, size > 0 ? size : alignment);
  if (err != 0) {
    ThrowSysError(env, err, "posix_memalign");
    return env.Undefined();
  }
  memset(data, 0, size);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(data), size, FreeAligned, new size_t(size));
}

// addressOf(bytes) -> the address of the first byte (for alignment checks in tests).
Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 1 && info[0].IsTypedArray(), "expected (Uint8Array)")) return env.Undefined();
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(typed.ArrayBuffer().Data());
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(base + typed.ByteOffset())));
}
