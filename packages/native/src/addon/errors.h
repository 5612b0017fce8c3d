// Errors as JS sees them: an Error with `errno` (positive) and `syscall`; the JS
// layer turns them into NativeError with the code name, path and operation.
#pragma once
#include <napi.h>

// Built with plain N-API calls; nullptr when the environment refuses (a worker being
// terminated). node-addon-api would turn that refusal into a throw of V8's termination
// value, which crashes the worker, so callers simply give up instead.
napi_value NewSysError(napi_env env, int err, const char* syscall);
void ThrowSysError(napi_env env, int err, const char* syscall);

// Throws a TypeError and returns true when `ok` is false (exceptions are disabled).
bool ThrowUnless(Napi::Env env, bool ok, const char* message);
