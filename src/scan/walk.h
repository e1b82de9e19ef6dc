// Walking the paths given to `accord scan`, and scanning them on N threads.
//
// Directories are read with openat/fdopendir, so names are bytes (newlines, non-UTF-8 and all).
// Symbolic links met during a walk are not followed (a link named on the command line is), so a
// symlink loop cannot trap the walk; each is counted. Unreadable files and directories are
// reported as errors, never skipped in silence.
// Thread-safety: ScanPaths runs its own threads and calls `on_report` from them, one at a time.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "scan/engine.h"

namespace accord::scan {

struct WalkOptions {
  int threads = 1;
  bool recursive = true;
};

struct ScanSummary {
  uint64_t files = 0, directories = 0, infected = 0, errors = 0, symlinks_skipped = 0;
  uint64_t bytes_read = 0, bytes_scanned = 0;
};

// Live counters for a progress display, updated while ScanPaths runs.
struct Progress {
  std::atomic<uint64_t> files{0}, bytes{0};
};

ScanSummary ScanPaths(const Engine& engine, const std::vector<std::string>& paths, const WalkOptions& options,
                      const std::function<void(const FileReport&)>& on_report, Progress* progress = nullptr);

}  // namespace accord::scan
