// Walking the paths given to `accord scan`, and scanning them on N threads.
//
// Directories are read with openat/fdopendir, so names are bytes (newlines, non-UTF-8 and all).
// Symbolic links met during a walk are not followed (a link named on the command line is), so a
// symlink loop cannot trap the walk; each is counted (WalkOptions::follow_dir_symlinks and
// follow_file_symlinks change which are followed, as clamscan's options do). A directory named on the command
// line is opened once (following links, as named) and held open while anything under it is walked or queued;
// everything under it is opened relative to it, following no symbolic link anywhere on the way
// (fs::OpenBeneath). So a file, or a directory on its way, swapped for a symbolic link after the walk met it
// cannot lead the walk or a worker out of the tree: that file or directory is reported as an error ("a
// symbolic link now stands in its path, not followed"), not read (Engine::ReadFileBeneath). Unreadable files
// and directories are reported as errors, never skipped in silence. Descriptors: one per directory named
// while a file under it is queued or waits in the memo (at most limits::kMaxWalkRootsOpen in a process: a
// walk that would open one more waits for another to be let go), one for the directory being listed, and one
// per file being read.
//
// Each directory entry is stat'ed relative to its directory (fstatat), so a stat resolves one name,
// not the whole path; entries whose type the directory gives (d_type: directories, links) are not
// stat'ed at all.
//
// With a scan cache (scan/cache.h), the walk looks each regular file up by the stat it makes
// anyway, before anything opens the file: a hit is reported from the cache as its scan reported it
// (clean, or its findings), unread. A miss is scanned, stat'ed again, and recorded if its report
// can be (scan::Recordable) and both stats agree. With a memo (scan/memo.h), a file read whose
// bytes another file of the walk had is answered from that file's report.
//
// CountPaths walks the same way (the same rules for links, devices and recursion) but only stats,
// so that a progress display can show totals; it never opens a file.
// An exception in a file's handling on a scanning thread (std::bad_alloc: limits above what the
// process may allocate) makes that file an error report ("out of memory, not scanned"; "out of
// memory" when even that text cannot be made, or for a memo waiter that cannot be queued again),
// and the scan goes on; a report that
// `on_report` throws on counts as an error. ScanPaths itself throws only what its own thread met
// (the walk, or no thread at all to scan with), after its threads have finished and been joined;
// with fewer threads than asked available, it scans with those.
// Thread-safety: ScanPaths runs its own threads and calls `on_report` from them, one at a time.
// CountPaths runs on the caller's thread; its counters may be read from any thread meanwhile.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "scan/engine.h"

namespace accord::scan {

class PathFilter;
class ScanCache;
class ScanMemo;

struct WalkOptions {
  int threads = 1;
  bool recursive = true;
  ScanCache* cache = nullptr;  // not owned; nullptr: no cache
  // Files with the same bytes as one scanned earlier in this walk (and the same externals key)
  // get its report, unscanned (scan/memo.h). Not owned; nullptr: every file is scanned.
  ScanMemo* memo = nullptr;
  // Polled from the walking and scanning threads; once it returns true no more files are started
  // (those being scanned are reported) and ScanPaths returns. Empty: never.
  std::function<bool()> stopped;
  // clamscan's --exclude/--include/--exclude-dir/--include-dir (scan/path_filter.h): a file or
  // directory it skips is neither scanned nor counted nor entered, and is passed to `on_excluded`
  // (called one at a time with on_report's calls; may be empty). Not owned; nullptr: none.
  const PathFilter* filter = nullptr;
  std::function<void(const std::string& path)> on_excluded;
  // false: clamscan's --cross-fs=no. Under a directory named, a directory or file on another file
  // system than the named one's (a mount point, a bind-mounted file) is skipped as the filter
  // skips (on_excluded, ScanSummary::excluded), and not entered; what is named is always scanned.
  bool cross_fs = true;
  // clamscan's --follow-dir-symlinks and --follow-file-symlinks, for links to directories and to
  // files: 0 follows none, 1 (the default) only a link named, 2 also those met in the walk. A
  // directory link followed is walked as a directory named, by the link's path (everything under
  // it is then opened relative to it, as above); a file link followed is opened by its path, as
  // a file named. A link not followed (dangling, or to anything else, too) is passed to
  // `on_symlink` (called one at a time with on_report's calls; may be empty) and counted in
  // symlinks_skipped, and so is a directory link that leads to a directory the walk is inside (a
  // loop: below the directory named or above it), one to a directory another link of this walk
  // led to already, or one met under 16 links followed already. What a link leads to when it is
  // opened must be what the walk checked when it listed the link (an error otherwise).
  int follow_dir_symlinks = 1, follow_file_symlinks = 1;
  std::function<void(const std::string& path)> on_symlink;
  // clamscan's --max-dir-recursion: directories at most this many deep are entered, the one named
  // being the first (0: none, so nothing under a directory named is scanned); a deeper one is
  // skipped as the filter skips (on_excluded), not in silence as clamscan does. -1: no limit
  // (clamscan's default is 15).
  int max_dir_levels = -1;
};

struct ScanSummary {
  uint64_t files = 0, directories = 0, infected = 0, errors = 0, symlinks_skipped = 0;
  // Bytes read and scanned by this run: files reported from the cache count in `files`,
  // `cached` (and `infected`), not here.
  uint64_t bytes_read = 0, bytes_scanned = 0;
  uint64_t cached = 0;  // files reported from the cache, unread
  // Files read but not scanned: they had the bytes of a file scanned earlier in this walk (and
  // the same externals key), whose findings they got (scan/memo.h). They count in `files` and
  // `bytes_read`, not in `bytes_scanned`.
  uint64_t same_content = 0;
  uint64_t excluded = 0;  // files and directories WalkOptions::filter or cross_fs skipped
};

// Live counters for a progress display, updated while ScanPaths runs (a cached file counts as
// done, with its size).
struct Progress {
  std::atomic<uint64_t> files{0}, bytes{0};
};

ScanSummary ScanPaths(const Engine& engine, const std::vector<std::string>& paths, const WalkOptions& options,
                      const std::function<void(const FileReport&)>& on_report, Progress* progress = nullptr);

// The regular files ScanPaths would scan for these paths and options, and their sizes (st_size,
// as stat says before the scan). `done` becomes true when the count is complete; setting `stop`
// ends the walk early (the totals then stay incomplete and `done` false).
struct Totals {
  std::atomic<uint64_t> files{0}, bytes{0};
  std::atomic<bool> done{false};
};
void CountPaths(const std::vector<std::string>& paths, const WalkOptions& options, Totals* totals,
                const std::atomic<bool>* stop = nullptr);

}  // namespace accord::scan
