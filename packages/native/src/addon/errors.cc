#include "errors.h"

#include <cstring>
#include <string>

napi_value NewSysError(napi_env env, int err, const char* syscall) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  napi_value text, error, errnoValue, syscallValue;
  bool built = napi_create_string_utf8(env, message.c_str(), message.size(), &text) == napi_ok &&
               napi_create_error(env, nullptr, text, &error) == napi_ok &&
               napi_create_int32(env, err, &errnoValue) == napi_ok &&
               napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue) == napi_ok &&
               napi_set_named_property(env, error, "errno", errnoValue) == napi_ok &&
               napi_set_named_property(env, error, "syscall", syscallValue) == napi_ok;
  return built ? error : nullptr;
}

void ThrowSysError(napi_env env, int err, const char* syscall) {
  napi_value error = NewSysError(env, err, syscall);
  if (error != nullptr) napi_throw(env, error);
}

bool ThrowUnless(Napi::Env env, bool ok, const char* message) {
  if (!ok) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return !ok;
}
