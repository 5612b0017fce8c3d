#include "addon.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("allocAligned", Napi::Function::New(env, AllocAligned));
  exports.Set("addressOf", Napi::Function::New(env, AddressOf));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("pread", Napi::Function::New(env, Pread));
  exports.Set("pwrite", Napi::Function::New(env, Pwrite));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate));
  exports.Set("fdatasync", Napi::Function::New(env, Fdatasync));
  exports.Set("size", Napi::Function::New(env, Size));
  exports.Set("sectorSizes", Napi::Function::New(env, SectorSizes));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("lock", Napi::Function::New(env, Lock));
  exports.Set("unlock", Napi::Function::New(env, Unlock));
  return exports;
}

NODE_API_MODULE(valkka_native, Init)
