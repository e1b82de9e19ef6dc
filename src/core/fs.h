// File-system access for accord's stores: bounded reads, durable atomic writes, locks.
//
// Durable write protocol (used for every file a reader may see): write a temporary file in the
// same directory, fsync it, rename it over the target, fsync the directory. A crash at any point
// leaves either the old file or the new one, never a torn one.
// Out of descriptors: the writers' opens here (files written, synced, listed, removed, locks)
// that fail with EMFILE or ENFILE are tried again, with pauses of up to 50 ms, for
// limits::kMaxDescriptorWaitMs before the error is returned, so a log writer whose process runs
// out for a moment (a burst of clients) is delayed, not stopped. ReadFile fails at once: readers
// that serve clients answer an error rather than hold the client and its descriptor. EINTR is
// retried at once everywhere.
// Thread-safety: functions are safe to call concurrently on different paths.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::fs {

// Reads a whole file. Files larger than max_size are refused (ResourceExhausted) unread.
Result<Bytes> ReadFile(const std::string& path, size_t max_size);
// ReadFile of a file, or of a pipe, terminal or socket read to its end (`-f /dev/stdin`, a shell's
// `<(...)`): more than max_size bytes is ResourceExhausted.
Result<Bytes> ReadFileOrStream(const std::string& path, size_t max_size);

// Writes `data` to `path` durably and atomically (see above). `mode` as for open(2).
Status WriteFileAtomic(const std::string& path, ByteView data, int mode = 0644);

// Writes `data` to a new temporary file beside `path` without syncing; returns its name.
// Used by writers that sync many files with one SyncFilesystem call before renaming them.
Result<std::string> WriteTemp(const std::string& path, ByteView data);
// Creates `path` (which must not exist) holding `data`, without syncing.
Status WriteNew(const std::string& path, ByteView data);
Status Rename(const std::string& from, const std::string& to);

// Flushes every dirty page and inode of the file system holding `path` (syncfs(2)).
Status SyncFilesystem(const std::string& path);
Status SyncDir(const std::string& dir);

Status MakeDirs(const std::string& dir, int mode = 0755);
bool Exists(const std::string& path);
bool IsDir(const std::string& path);
Status RemoveFile(const std::string& path);                        // missing is fine
Status RemoveTree(const std::string& path);                        // recursive; missing is fine
Result<std::vector<std::string>> ListDir(const std::string& dir);  // names, unsorted
std::string Dirname(const std::string& path);
std::string JoinPath(const std::string& a, const std::string& b);
// Absolute, lexically normalised path (no symlink resolution needed for our checks).
Result<std::string> Absolute(const std::string& path);
Result<std::string> RealPath(const std::string& path);

// openat(dirfd, rel, flags) that follows no symbolic link anywhere in `rel` (any component, the
// last included) and never leaves `dirfd`: an empty or absolute `rel`, or one with a ".."
// component, fails with EXDEV. So a directory of a tree swapped for a symbolic link after a
// walk listed it cannot lead the open elsewhere. Through openat2(2) with RESOLVE_NO_SYMLINKS and
// RESOLVE_BENEATH (Linux 5.6); where the kernel or a seccomp filter refuses openat2 (ENOSYS,
// EPERM), one component at a time with O_NOFOLLOW. Returns the descriptor, or -1 with errno set
// (ELOOP: a symbolic link in the way). O_CLOEXEC is always added.
int OpenBeneath(int dirfd, const std::string& rel, int flags);
// OpenBeneath's way without openat2 (what it falls back on; for tests).
int OpenBeneathStepwise(int dirfd, const std::string& rel, int flags);

// A file written only at its end and made durable with fdatasync(2): the log's journal.
// Thread-safety: one user at a time.
class AppendFile {
 public:
  // Opens `path` for appending, creating it if absent; the file and its directory entry are made
  // durable before Open returns, so a later Sync covers everything appended.
  static Result<AppendFile> Open(const std::string& path);
  AppendFile(AppendFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  AppendFile& operator=(AppendFile&& o) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  Status Append(ByteView data);  // all of it at the end; not yet durable
  Status Sync();                 // fdatasync: everything appended so far is durable
  Status Truncate();             // to 0 bytes (durable with the next Sync)

 private:
  AppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// An exclusive advisory lock (flock) on a file, held until destroyed or the process dies.
// A second holder gets FailedPrecondition immediately, it does not wait.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::string& path, std::string_view what);
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace accord::fs
