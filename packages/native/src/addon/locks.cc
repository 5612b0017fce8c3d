// Whole-file open file description locks (F_OFD_SETLK): they belong to the open file
// description, so two opens in one process conflict, and close releases them.
#include <errno.h>
#include <fcntl.h>

#include "addon.h"
#include "eintr.h"
#include "errors.h"

namespace {

int SetLock(int fd, short type) {
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // to the end of the file, however it grows
  return RetryOnEintr([&] { return fcntl(fd, F_OFD_SETLK, &lock); }) < 0 ? errno : 0;
}

Napi::Value LockCall(const Napi::CallbackInfo& info, short type) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 1 && info[0].IsNumber(), "expected (fd)")) return env.Undefined();
  int err = SetLock(info[0].As<Napi::Number>().Int32Value(), type);
  if (err != 0) ThrowSysError(env, err, "fcntl F_OFD_SETLK");
  return env.Undefined();
}

}  // namespace

// lock(fd, exclusive): never waits; EAGAIN/EACCES when another description holds it.
Napi::Value Lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 2 && info[1].IsBoolean(), "expected (fd, exclusive)")) return env.Undefined();
  return LockCall(info, info[1].As<Napi::Boolean>().Value() ? F_WRLCK : F_RDLCK);
}

Napi::Value Unlock(const Napi::CallbackInfo& info) { return LockCall(info, F_UNLCK); }
