// Functions the addon exports to JS; each file implements one concern.
#pragma once
#include <napi.h>

// aligned.cc: posix_memalign'ed external Buffers.
Napi::Value AllocAligned(const Napi::CallbackInfo& info);
Napi::Value AddressOf(const Napi::CallbackInfo& info);

// io.cc: whole-range syscalls, each one async work item on the libuv threadpool.
Napi::Value Open(const Napi::CallbackInfo& info);
Napi::Value Pread(const Napi::CallbackInfo& info);
Napi::Value Pwrite(const Napi::CallbackInfo& info);
Napi::Value Fallocate(const Napi::CallbackInfo& info);
Napi::Value Fdatasync(const Napi::CallbackInfo& info);
Napi::Value Size(const Napi::CallbackInfo& info);
Napi::Value SectorSizes(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);

// locks.cc: open file description locks (never waiting).
Napi::Value Lock(const Napi::CallbackInfo& info);
Napi::Value Unlock(const Napi::CallbackInfo& info);
