// Errors as JS sees them: an Error with `errno` (positive) and `syscall`; the JS
// layer turns them into NativeError with the code name, path and operation.
#pragma once
#include <napi.h>

Napi::Error SysError(Napi::Env env, int err, const char* syscall);

// Throws a TypeError and returns true when `ok` is false (exceptions are disabled).
bool ThrowUnless(Napi::Env env, bool ok, const char* message);
