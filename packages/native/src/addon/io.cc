// Whole-range file syscalls. Each JS call queues ONE work item on the libuv
// threadpool; loops inside it only retry EINTR and partial transfers.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "eintr.h"
#include "errors.h"
#include "syscall_worker.h"

namespace {

bool IsFd(const Napi::Value& value) { return value.IsNumber(); }

// The outcome of a syscall that returns 0 or -1 with errno.
Outcome Done(int rc, const char* syscall) { return rc < 0 ? Outcome::Fail(errno, syscall) : Outcome(); }

// For calls taking only (fd): checks the argument and runs `task(fd)` on the threadpool.
template <typename Task>
Napi::Value FdCall(const Napi::CallbackInfo& info, Task task) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 1 && IsFd(info[0]), "expected (fd)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  return SyscallWorker::Run(env, [=]() { return task(fd); });
}

// The bytes of a Uint8Array/Buffer argument, plus the object to keep alive.
struct BufferArg {
  uint8_t* data = nullptr;
  size_t length = 0;
  Napi::Object object;
};

bool GetBuffer(const Napi::CallbackInfo& info, size_t index, BufferArg* out) {
  if (!info[index].IsTypedArray()) return false;
  Napi::TypedArray typed = info[index].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = typed.As<Napi::Uint8Array>();
  out->data = bytes.Data();
  out->length = bytes.ByteLength();
  out->object = bytes;
  return true;
}

Outcome Transfer(bool write, int fd, uint8_t* data, size_t length, off_t position, bool direct) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = write ? pwrite(fd, data + done, length - done, position + done)
                      : pread(fd, data + done, length - done, position + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Outcome::Fail(errno, write ? "pwrite" : "pread");
    }
    if (n == 0) {
      if (write) return Outcome::Fail(EIO, "pwrite");
      break;  // end of file
    }
    done += static_cast<size_t>(n);
    // Under O_DIRECT a short read means end of file; reading on from an unaligned
    // offset would only fail with EINVAL.
    if (!write && direct && done < length) break;
  }
  return Outcome::Value(static_cast<double>(done));
}

Napi::Value TransferCall(const Napi::CallbackInfo& info, bool write) {
  Napi::Env env = info.Env();
  BufferArg buffer;
  if (ThrowUnless(env, info.Length() >= 4 && IsFd(info[0]) && GetBuffer(info, 1, &buffer) && info[2].IsNumber() && info[3].IsBoolean(),
                  "expected (fd, Uint8Array, position, direct)"))
    return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t position = info[2].As<Napi::Number>().Int64Value();
  bool direct = info[3].As<Napi::Boolean>().Value();
  uint8_t* data = buffer.data;
  size_t length = buffer.length;
  return SyscallWorker::Run(
      env, [=]() { return Transfer(write, fd, data, length, position, direct); }, buffer.object);
}

}  // namespace

// open(path, write, create, direct, exclusive) -> Promise<fd>
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 5 && info[0].IsString() && info[1].IsBoolean() && info[2].IsBoolean() && info[3].IsBoolean() && info[4].IsBoolean(),
                  "expected (path, write, create, direct, exclusive)"))
    return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int flags = O_CLOEXEC | (info[1].As<Napi::Boolean>().Value() ? O_RDWR : O_RDONLY);
  if (info[2].As<Napi::Boolean>().Value()) flags |= O_CREAT;
  if (info[3].As<Napi::Boolean>().Value()) flags |= O_DIRECT;
  bool exclusive = info[4].As<Napi::Boolean>().Value();
  return SyscallWorker::Run(env, [=]() {
    int openFlags = flags;
    // O_EXCL without O_CREAT only means something for block devices (refuse when in use).
    struct stat st;
    if (exclusive && stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) openFlags |= O_EXCL;
    int fd = RetryOnEintr([&] { return open(path.c_str(), openFlags, 0666); });
    if (fd < 0) return Outcome::Fail(errno, "open");
    return Outcome::Value(fd);
  });
}

Napi::Value Pread(const Napi::CallbackInfo& info) { return TransferCall(info, false); }
Napi::Value Pwrite(const Napi::CallbackInfo& info) { return TransferCall(info, true); }

// fallocate(fd, offset, length) -> Promise<void>, mode 0: the file grows when needed.
Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowUnless(env, info.Length() >= 3 && IsFd(info[0]) && info[1].IsNumber() && info[2].IsNumber(), "expected (fd, offset, length)"))
    return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t offset = info[1].As<Napi::Number>().Int64Value();
  off_t length = info[2].As<Napi::Number>().Int64Value();
  return SyscallWorker::Run(env, [=]() { return Done(RetryOnEintr([&] { return fallocate(fd, 0, offset, length); }), "fallocate"); });
}

Napi::Value Fdatasync(const Napi::CallbackInfo& info) {
  return FdCall(info, [](int fd) { return Done(RetryOnEintr([&] { return fdatasync(fd); }), "fdatasync"); });
}

// size(fd) -> Promise<bytes>: BLKGETSIZE64 on block devices, st_size otherwise.
Napi::Value Size(const Napi::CallbackInfo& info) {
  return FdCall(info, [](int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return Outcome::Fail(errno, "fstat");
    if (!S_ISBLK(st.st_mode)) return Outcome::Value(static_cast<double>(st.st_size));
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) return Outcome::Fail(errno, "ioctl BLKGETSIZE64");
    return Outcome::Value(static_cast<double>(bytes));
  });
}

// sectorSizes(fd) -> Promise<[logical, physical]>: BLKSSZGET/BLKPBSZGET on block
// devices; 512 and the filesystem's preferred block size (st_blksize) for files.
Napi::Value SectorSizes(const Napi::CallbackInfo& info) {
  return FdCall(info, [](int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return Outcome::Fail(errno, "fstat");
    if (!S_ISBLK(st.st_mode)) {
      double physical = st.st_blksize >= 512 ? static_cast<double>(st.st_blksize) : 512.0;
      return Outcome::Pair(512, physical);
    }
    int logical = 0;
    unsigned int physical = 0;
    if (ioctl(fd, BLKSSZGET, &logical) < 0) return Outcome::Fail(errno, "ioctl BLKSSZGET");
    if (ioctl(fd, BLKPBSZGET, &physical) < 0) return Outcome::Fail(errno, "ioctl BLKPBSZGET");
    return Outcome::Pair(logical, physical);
  });
}

// No EINTR retry: on Linux the descriptor is gone even when close reports EINTR.
Napi::Value Close(const Napi::CallbackInfo& info) {
  return FdCall(info, [](int fd) { return close(fd) < 0 && errno != EINTR ? Outcome::Fail(errno, "close") : Outcome(); });
}
