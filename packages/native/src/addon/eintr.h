// Restarting syscalls interrupted by a signal.
#pragma once
#include <errno.h>

// Calls `syscall` again while it fails with EINTR; returns its last result.
template <typename Syscall>
auto RetryOnEintr(Syscall syscall) {
  decltype(syscall()) rc;
  do {
    rc = syscall();
  } while (rc < 0 && errno == EINTR);
  return rc;
}
