// Runs one blocking task on the libuv threadpool and settles a promise with its outcome.
#pragma once
#include <napi.h>

#include <functional>

#include "errors.h"

struct Outcome {
  int err = 0;                 // errno when the task failed
  const char* syscall = "";    // the failing syscall's name
  double values[2] = {0, 0};   // results: none, a number, or a pair
  int count = 0;

  static Outcome Fail(int err, const char* syscall) {
    Outcome outcome;
    outcome.err = err;
    outcome.syscall = syscall;
    return outcome;
  }
  static Outcome Value(double value) {
    Outcome outcome;
    outcome.values[0] = value;
    outcome.count = 1;
    return outcome;
  }
  static Outcome Pair(double first, double second) {
    Outcome outcome = Value(first);
    outcome.values[1] = second;
    outcome.count = 2;
    return outcome;
  }
};

class SyscallWorker : public Napi::AsyncWorker {
 public:
  using Task = std::function<Outcome()>;

  // keepAlive (e.g. the buffer being read into) stays referenced until the work is done.
  static Napi::Value Run(Napi::Env env, Task task, Napi::Object keepAlive = Napi::Object()) {
    napi_deferred deferred;
    napi_value promise;
    if (napi_create_promise(env, &deferred, &promise) != napi_ok) return env.Undefined();
    (new SyscallWorker(env, deferred, std::move(task), keepAlive))->Queue();
    return Napi::Value(env, promise);
  }

 protected:
  void Execute() override { outcome_ = task_(); }

  // Plain N-API throughout: when the worker owning this environment is being terminated,
  // every call may be refused, and then nobody is left to see the outcome. (node-addon-api
  // would turn a refusal into a throw of V8's termination value, which crashes the thread.)
  void OnOK() override {
    napi_env env = Env();
    napi_value value = outcome_.err != 0 ? NewSysError(env, outcome_.err, outcome_.syscall) : Result(env);
    if (value == nullptr) return;
    if (outcome_.err != 0) {
      napi_reject_deferred(env, deferred_, value);
    } else {
      napi_resolve_deferred(env, deferred_, value);
    }
  }

 private:
  SyscallWorker(Napi::Env env, napi_deferred deferred, Task task, Napi::Object keepAlive)
      : Napi::AsyncWorker(env, "valkka_native"), deferred_(deferred), task_(std::move(task)) {
    if (!keepAlive.IsEmpty()) keepAlive_ = Napi::Persistent(keepAlive);
  }

  napi_value Result(napi_env env) const {
    napi_value value = nullptr;
    if (outcome_.count == 0) {
      napi_get_undefined(env, &value);
    } else if (outcome_.count == 1) {
      napi_create_double(env, outcome_.values[0], &value);
    } else if (napi_create_array_with_length(env, 2, &value) == napi_ok) {
      for (uint32_t i = 0; i < 2; i++) {
        napi_value number;
        if (napi_create_double(env, outcome_.values[i], &number) != napi_ok || napi_set_element(env, value, i, number) != napi_ok)
          return nullptr;
      }
    }
    return value;
  }

  napi_deferred deferred_;
  Task task_;
  Napi::ObjectReference keepAlive_;
  Outcome outcome_;
};
