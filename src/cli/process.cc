#include "cli/process.h"

#include <malloc.h>

namespace accord::cli {

void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_ARENA_MAX, 8);  // a thousand handler threads need not keep a thousand heaps
}

}  // namespace accord::cli
