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
  static Napi::Promise Run(Napi::Env env, Task task, Napi::Object keepAlive = Napi::Object()) {
    auto* worker = new SyscallWorker(env, std::move(task), keepAlive);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override { outcome_ = task_(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (outcome_.err != 0) {
      deferred_.Reject(SysError(env, outcome_.err, outcome_.syscall).Value());
    } else if (outcome_.count == 0) {
      deferred_.Resolve(env.Undefined());
    } else if (outcome_.count == 1) {
      deferred_.Resolve(Napi::Number::New(env, outcome_.values[0]));
    } else {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, outcome_.values[0]));
      pair.Set(1u, Napi::Number::New(env, outcome_.values[1]));
      deferred_.Resolve(pair);
    }
  }

 private:
  SyscallWorker(Napi::Env env, Task task, Napi::Object keepAlive)
      : Napi::AsyncWorker(env, "valkka_native"), deferred_(Napi::Promise::Deferred::New(env)), task_(std::move(task)) {
    if (!keepAlive.IsEmpty()) keepAlive_ = Napi::Persistent(keepAlive);
  }

  Napi::Promise::Deferred deferred_;
  Task task_;
  Napi::ObjectReference keepAlive_;
  Outcome outcome_;
};
