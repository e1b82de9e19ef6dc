// Names the calling thread (at most 15 bytes are kept), so that `top -H`, `perf` and
// /proc/PID/task/*/comm tell accord's threads apart.
// Thread-safety: names only the calling thread.
#pragma once

#include <pthread.h>

namespace accord {

inline void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace accord
