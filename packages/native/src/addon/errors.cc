#include "errors.h"

#include <cstring>
#include <string>

Napi::Error SysError(Napi::Env env, int err, const char* syscall) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

bool ThrowUnless(Napi::Env env, bool ok, const char* message) {
  if (!ok) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return !ok;
}
