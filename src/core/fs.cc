#include "core/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "core/limits.h"

namespace accord::fs {

namespace {
Status Errno(std::string_view what, const std::string& path) {
  int e = errno;
  Code code = (e == ENOENT)                  ? Code::kNotFound
              : (e == EACCES || e == EPERM)  ? Code::kPermissionDenied
              : (e == ENOSPC || e == EDQUOT) ? Code::kResourceExhausted
                                             : Code::kInternal;
  return Status(code, std::string(what) + " " + path + ": " + std::strerror(e));
}

Status WriteAll(int fd, ByteView data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Calls `open` (returning a descriptor or handle, negative or null on failure with errno set)
// again while it fails for want of descriptors, up to limits::kMaxDescriptorWaitMs; errno is the
// last failure's.
template <typename T, typename Open>
T RetryOutOfDescriptors(Open open, T failed) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(limits::kMaxDescriptorWaitMs);
  std::chrono::milliseconds pause(1);
  for (;;) {
    T got = open();
    if (got != failed) return got;
    const int e = errno;
    if (e == EINTR) continue;
    if ((e != EMFILE && e != ENFILE) || Clock::now() >= deadline) {
      errno = e;
      return failed;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

int OpenRetrying(const std::string& path, int flags, mode_t mode = 0) {
  return RetryOutOfDescriptors([&] { return ::open(path.c_str(), flags, mode); }, -1);
}

std::string TempName(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(salt ^ counter.fetch_add(1));
}
}  // namespace

namespace {
Result<Bytes> Read(const std::string& path, size_t max_size, bool streams) {
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // fails at once when out of descriptors
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return Errno("open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("stat", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode) &&
      !(streams && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)))) {
    ::close(fd);
    return InvalidArgument(path + (streams ? ": not a file or a pipe" : ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return ResourceExhausted(path + ": " + std::to_string(st.st_size) + " bytes, limit " +
                             std::to_string(max_size));
  }
  Bytes out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (true) {
    if (got == out.size()) {
      // The file may have grown since fstat; read one more byte to find out.
      if (out.size() >= max_size) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n > 0) {
          ::close(fd);
          return ResourceExhausted(path + ": larger than limit " + std::to_string(max_size));
        }
        break;
      }
      out.resize(std::min(max_size, out.size() + 4096));
    }
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}
}  // namespace

Result<Bytes> ReadFile(const std::string& path, size_t max_size) {
  return Read(path, max_size, false);
}

Result<Bytes> ReadFileOrStream(const std::string& path, size_t max_size) {
  return Read(path, max_size, true);
}

Result<std::string> WriteTemp(const std::string& path, ByteView data) {
  std::string tmp = TempName(path);
  int fd = OpenRetrying(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", tmp);
  Status s = WriteAll(fd, data, tmp);
  if (::close(fd) != 0 && s.ok()) s = Errno("close", tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return tmp;
}

Status WriteNew(const std::string& path, ByteView data) {
  int fd = OpenRetrying(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", path);
  Status s = WriteAll(fd, data, path);
  // Start writeback now, so the disk works while the caller computes the next file; the later
  // SyncFilesystem then waits for less.
  if (s.ok()) (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  if (::close(fd) != 0 && s.ok()) s = Errno("close", path);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename to " + to + " from", from);
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, ByteView data, int mode) {
  std::string tmp = TempName(path);
  int fd = OpenRetrying(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create", tmp);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fchmod(fd, mode) != 0) s = Errno("chmod", tmp);  // umask-proof
  if (s.ok() && ::fsync(fd) != 0) s = Errno("fsync", tmp);
  if (::close(fd) != 0 && s.ok()) s = Errno("close", tmp);
  if (s.ok()) s = Rename(tmp, path);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDir(Dirname(path));
}

Status SyncFilesystem(const std::string& path) {
  int fd = OpenRetrying(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  int r = ::syncfs(fd);
  Status s = r == 0 ? Status::Ok() : Errno("syncfs", path);
  ::close(fd);
  return s;
}

Status SyncDir(const std::string& dir) {
  int fd = OpenRetrying(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  int r = ::fsync(fd);
  Status s = r == 0 ? Status::Ok() : Errno("fsync", dir);
  ::close(fd);
  return s;
}

Status MakeDirs(const std::string& dir, int mode) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return FailedPrecondition(dir + ": exists and is not a directory");
  }
  std::string parent = Dirname(dir);
  if (parent != dir) RETURN_IF_ERROR(MakeDirs(parent, mode));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) return Errno("mkdir", dir);
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
  return Status::Ok();
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  RetryOutOfDescriptors<int>(
      [&] {
        ec.clear();
        std::filesystem::remove_all(path, ec);  // removes what is left on each try
        // By value: comparing with std::errc asks the category (a virtual call UBSan's type check,
        // which needs a pipe, cannot follow while no descriptor is left).
        if (ec && (ec.value() == EMFILE || ec.value() == ENFILE)) {
          errno = ec.value();
          return -1;
        }
        return 0;
      },
      -1);
  if (ec) return Internal("remove " + path + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = RetryOutOfDescriptors<DIR*>([&] { return ::opendir(dir.c_str()); }, nullptr);
  if (!d) return Errno("opendir", dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty() || a == ".") return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

Result<std::string> Absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  if (ec) return Internal("absolute " + path + ": " + ec.message());
  return p.lexically_normal().string();
}

Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return Errno("realpath", path);
  return std::string(buf);
}

Result<FileLock> FileLock::Acquire(const std::string& path, std::string_view what) {
  int fd = OpenRetrying(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open lock", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK)
      return FailedPrecondition(std::string(what) + " is locked by another writer (" + path + ")");
    errno = e;
    return Errno("flock", path);
  }
  return FileLock(fd);
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<AppendFile> AppendFile::Open(const std::string& path) {
  int fd = OpenRetrying(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path);
  AppendFile f(fd, path);
  // Also when it exists: an earlier Open may have died between creating it and these syncs.
  if (::fsync(fd) != 0) return Errno("fsync", path);
  RETURN_IF_ERROR(SyncDir(Dirname(path)));
  return f;
}

AppendFile& AppendFile::operator=(AppendFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status AppendFile::Append(ByteView data) {
  return WriteAll(fd_, data, path_);
}

Status AppendFile::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
  return Status::Ok();
}

Status AppendFile::Truncate() {
  if (::ftruncate(fd_, 0) != 0) return Errno("truncate", path_);
  return Status::Ok();
}

namespace {
// A path OpenBeneath takes: relative, not empty, no NUL, no ".." component.
bool Beneath(const std::string& rel) {
  if (rel.empty() || rel.front() == '/' || rel.find('\0') != std::string::npos) return false;
  for (size_t pos = 0;;) {
    size_t slash = rel.find('/', pos);
    if (rel.compare(pos, slash == std::string::npos ? std::string::npos : slash - pos, "..") == 0)
      return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}
}  // namespace

int OpenBeneath(int dirfd, const std::string& rel, int flags) {
  flags |= O_CLOEXEC;
  if (!Beneath(rel)) {
    errno = EXDEV;
    return -1;
  }
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = uint64_t(flags);
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
    for (;;) {
      long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
      if (fd >= 0) return int(fd);
      if (errno == EINTR) continue;
      if (errno != ENOSYS && errno != EPERM) return -1;
      break;
    }
    // ENOSYS: no openat2 here, for the rest of the process. EPERM: a seccomp filter's answer,
    // or the file's own (O_NOATIME on another's file), which the way below gives again; if that
    // way opens it, openat2 is what was refused.
    const bool refused = errno == EPERM;
    if (!refused) no_openat2.store(true, std::memory_order_relaxed);
    int fd = OpenBeneathStepwise(dirfd, rel, flags);
    if (fd >= 0 && refused) no_openat2.store(true, std::memory_order_relaxed);
    return fd;
  }
  return OpenBeneathStepwise(dirfd, rel, flags);
}

int OpenBeneathStepwise(int dirfd, const std::string& rel, int flags) {
  flags |= O_CLOEXEC;
  if (!Beneath(rel)) {
    errno = EXDEV;
    return -1;
  }
  // One component at a time: each directory on the way opened with O_PATH (search permission is
  // enough, as for openat2) and O_NOFOLLOW relative to the one before.
  int cur = dirfd;
  size_t pos = 0;
  for (;;) {
    size_t slash = rel.find('/', pos);
    const bool last = slash == std::string::npos;
    std::string name = rel.substr(pos, last ? std::string::npos : slash - pos);
    int next;
    if (name.empty() || name == ".") {
      next = last ? ::openat(cur, ".", flags | O_NOFOLLOW) : ::fcntl(cur, F_DUPFD_CLOEXEC, 0);
    } else {
      do {
        next = ::openat(cur, name.c_str(),
                        last ? (flags | O_NOFOLLOW) : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      } while (next < 0 && errno == EINTR);
    }
    int e = errno;
    if (next < 0 && e == ENOTDIR && (!last || (flags & O_DIRECTORY))) {
      // O_DIRECTORY|O_NOFOLLOW on a symbolic link may say ENOTDIR: it is ELOOP, as openat2 says.
      struct stat st;
      if (::fstatat(cur, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) e = ELOOP;
    }
    if (cur != dirfd) ::close(cur);
    if (next < 0) {
      errno = e;
      return -1;
    }
    if (last) return next;
    cur = next;
    pos = slash + 1;
  }
}

}  // namespace accord::fs
