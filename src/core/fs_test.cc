// File access as a log operator sees it: files appear whole with the mode asked for (keys stay
// private whatever the umask), size limits refuse big files without reading them, and only one
// writer holds a lock, across processes too.
#include "core/fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/descriptors_test_util.h"

namespace accord::fs {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "accord-fs-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  static int ModeOf(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return -1;
    return st.st_mode & 07777;
  }

  std::string dir_;
};

// Restores the process umask when a test ends, even on failure.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST_F(FsTest, WriteFileAtomicCreatesFileWithContents) {
  ASSERT_TRUE(WriteFileAtomic(Path("a"), "hello\n").ok());
  auto got = ReadFile(Path("a"), 100);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello\n");
}

TEST_F(FsTest, WriteFileAtomicWritesEmptyAndBinaryData) {
  ASSERT_TRUE(WriteFileAtomic(Path("empty"), "").ok());
  EXPECT_EQ(ReadFile(Path("empty"), 0).value(), "");
  std::string binary;
  for (int i = 0; i < 3 << 20; ++i) binary.push_back(static_cast<char>(i * 7));
  ASSERT_TRUE(WriteFileAtomic(Path("big"), binary).ok());
  EXPECT_EQ(ReadFile(Path("big"), binary.size()).value(), binary);
}

TEST_F(FsTest, KeyFileIsPrivateWhateverTheUmask) {
  for (mode_t mask : {mode_t(0), mode_t(022), mode_t(077), mode_t(0777)}) {
    ScopedUmask scoped(mask);
    std::string path = Path("key-" + std::to_string(mask));
    ASSERT_TRUE(WriteFileAtomic(path, "PRIVATE+KEY+...", 0600).ok());
    EXPECT_EQ(ModeOf(path), 0600) << "umask " << std::oct << mask;
  }
}

TEST_F(FsTest, PublicFileGetsTheRequestedModeWhateverTheUmask) {
  for (mode_t mask : {mode_t(0), mode_t(077), mode_t(0777)}) {
    ScopedUmask scoped(mask);
    std::string path = Path("pub-" + std::to_string(mask));
    ASSERT_TRUE(WriteFileAtomic(path, "x").ok());  // default 0644
    EXPECT_EQ(ModeOf(path), 0644) << "umask " << std::oct << mask;
  }
}

TEST_F(FsTest, ReplacingAFileSetsTheNewMode) {
  ASSERT_TRUE(WriteFileAtomic(Path("k"), "old", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(Path("k"), "new", 0600).ok());
  EXPECT_EQ(ModeOf(Path("k")), 0600);
  EXPECT_EQ(ReadFile(Path("k"), 100).value(), "new");
}

TEST_F(FsTest, ReplaceIsAtomicForReadersOfTheOldFile) {
  ASSERT_TRUE(WriteFileAtomic(Path("checkpoint"), "old contents\n").ok());
  int fd = ::open(Path("checkpoint").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat before;
  ASSERT_EQ(::fstat(fd, &before), 0);

  ASSERT_TRUE(WriteFileAtomic(Path("checkpoint"), "new contents, longer\n").ok());

  // A reader that opened the old file still reads all of it, untouched: the new file is a new
  // inode renamed into place, not the old one rewritten.
  char buf[64] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  ::close(fd);
  EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "old contents\n");
  struct stat after;
  ASSERT_EQ(::stat(Path("checkpoint").c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(ReadFile(Path("checkpoint"), 100).value(), "new contents, longer\n");
}

TEST_F(FsTest, WriteFileAtomicLeavesNoTemporaryFiles) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(WriteFileAtomic(Path("a"), std::to_string(i)).ok());
  ASSERT_TRUE(WriteFileAtomic(Path("b"), "b", 0600).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(FsTest, FailedWriteLeavesNothingBehind) {
  Status s = WriteFileAtomic(Path("missing-dir/a"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  // A directory in the way of the rename: the temporary file must be removed again.
  ASSERT_TRUE(MakeDirs(Path("dir/inner")).ok());
  EXPECT_FALSE(WriteFileAtomic(Path("dir"), "x").ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"dir"}));
}

TEST_F(FsTest, ReadFileAtTheLimitSucceeds) {
  ASSERT_TRUE(WriteFileAtomic(Path("f"), std::string(4096, 'z')).ok());
  auto got = ReadFile(Path("f"), 4096);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 4096u);
}

TEST_F(FsTest, ReadFileOverTheLimitIsResourceExhausted) {
  ASSERT_TRUE(WriteFileAtomic(Path("f"), std::string(4097, 'z')).ok());
  auto got = ReadFile(Path("f"), 4096);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kResourceExhausted);
  EXPECT_NE(got.status().message().find(Path("f")), std::string::npos) << got.status().message();
  EXPECT_EQ(ReadFile(Path("f"), 0).status().code(), Code::kResourceExhausted);
}

TEST_F(FsTest, ReadFileRefusesAHugeFileWithoutReadingIt) {
  // A sparse 64 GiB file: reading (or allocating for) it would exhaust memory, so a prompt
  // ResourceExhausted shows the size is checked before anything is read.
  int fd = ::open(Path("huge").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  int r = ::ftruncate(fd, off_t(1) << 36);
  ::close(fd);
  if (r != 0) GTEST_SKIP() << "file system does not allow a sparse 64 GiB file";
  auto got = ReadFile(Path("huge"), 1 << 20);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kResourceExhausted);
}

TEST_F(FsTest, ReadFileOfMissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(Path("nope"), 100).status().code(), Code::kNotFound);
}

TEST_F(FsTest, ReadFileOfADirectoryFails) {
  auto got = ReadFile(dir_, 1 << 20);
  EXPECT_FALSE(got.ok());
}

// A process out of descriptors for a moment (a burst of clients): a durable write waits for one
// to be closed instead of failing, and the file is complete.
TEST_F(FsTest, AWriteWaitsForADescriptorRatherThanFail) {
  Status s;
  {
    testing::DescriptorsExhausted none(std::chrono::milliseconds(300));
    ASSERT_TRUE(none.exhausted());
    s = WriteFileAtomic(Path("f"), "after the wait");
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto back = ReadFile(Path("f"), 100);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "after the wait");
  EXPECT_TRUE(ListDir(dir_).ok());
}

// Removing a tree opens its directories: it waits for descriptors too (the log writer removes
// partial tiles after publishing). Reading does not wait: a reader serving a client answers at
// once.
TEST_F(FsTest, RemoveTreeWaitsForADescriptorAndReadFileDoesNot) {
  ASSERT_TRUE(MakeDirs(Path("t/a/b")).ok());
  ASSERT_TRUE(WriteFileAtomic(Path("t/a/b/f"), "x").ok());
  ASSERT_TRUE(WriteFileAtomic(Path("r"), "read me").ok());
  Status s;
  {
    testing::DescriptorsExhausted none(std::chrono::milliseconds(300));
    ASSERT_TRUE(none.exhausted());
    auto read = ReadFile(Path("r"), 100);
    EXPECT_FALSE(read.ok());
    s = RemoveTree(Path("t"));
  }
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(Path("t")));
}

// Out of descriptors for longer than the wait (limits::kMaxDescriptorWaitMs): the error, and
// nothing written.
TEST_F(FsTest, OutOfDescriptorsForLongIsAnError) {
  Status s;
  {
    testing::DescriptorsExhausted none;
    ASSERT_TRUE(none.exhausted());
    s = WriteFileAtomic(Path("f"), "never");
  }
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Too many open files"), std::string::npos) << s.ToString();
  EXPECT_TRUE(Names().empty());
}

TEST_F(FsTest, SecondLockOnTheSamePathFailsWhileTheFirstIsHeld) {
  auto first = FileLock::Acquire(Path("lock"), "log example.com/test");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = FileLock::Acquire(Path("lock"), "log example.com/test");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("log example.com/test"), std::string::npos)
      << second.status().message();
}

TEST_F(FsTest, LockCanBeTakenAgainAfterRelease) {
  {
    auto first = FileLock::Acquire(Path("lock"), "log");
    ASSERT_TRUE(first.ok());
  }
  auto again = FileLock::Acquire(Path("lock"), "log");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(FsTest, LocksOnDifferentPathsAreIndependent) {
  auto a = FileLock::Acquire(Path("a.lock"), "a");
  auto b = FileLock::Acquire(Path("b.lock"), "b");
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.ok());
}

TEST_F(FsTest, MovedLockStaysHeldAndMoveAssignmentReleasesTheOldOne) {
  auto first = FileLock::Acquire(Path("lock"), "log");
  ASSERT_TRUE(first.ok());
  FileLock moved(std::move(first.value()));
  EXPECT_EQ(FileLock::Acquire(Path("lock"), "log").status().code(), Code::kFailedPrecondition);

  auto other = FileLock::Acquire(Path("other"), "other");
  ASSERT_TRUE(other.ok());
  moved = std::move(other.value());  // releases "lock", now holds "other"
  EXPECT_TRUE(FileLock::Acquire(Path("lock"), "log").ok());
  EXPECT_EQ(FileLock::Acquire(Path("other"), "other").status().code(), Code::kFailedPrecondition);
}

TEST_F(FsTest, MissingLockDirectoryIsAnErrorNotACrash) {
  auto lock = FileLock::Acquire(Path("no/such/dir/lock"), "log");
  EXPECT_FALSE(lock.ok());
}

// Runs `child` in a forked process and returns its exit status (or -1).
template <typename F>
int RunInChild(F child) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(child());
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(FsTest, ChildProcessCannotTakeALockTheParentHolds) {
  std::string path = Path("lock");
  {
    auto held = FileLock::Acquire(path, "log");
    ASSERT_TRUE(held.ok());
    int rc = RunInChild([&] {
      auto lock = FileLock::Acquire(path, "log");
      if (lock.ok()) return 1;
      return lock.status().code() == Code::kFailedPrecondition ? 0 : 2;
    });
    EXPECT_EQ(rc, 0) << "1: child got the lock the parent holds; 2: wrong error code";
  }
  int rc = RunInChild([&] { return FileLock::Acquire(path, "log").ok() ? 0 : 1; });
  EXPECT_EQ(rc, 0) << "child could not take the lock after the parent released it";
}

TEST_F(FsTest, ParentCannotTakeALockAChildHoldsUntilTheChildExits) {
  std::string path = Path("lock");
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    ::close(go[1]);
    auto lock = FileLock::Acquire(path, "log");
    char c = lock.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(go[0], &c, 1);  // hold the lock until the parent says so
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(go[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  auto while_held = FileLock::Acquire(path, "log");
  EXPECT_EQ(while_held.status().code(), Code::kFailedPrecondition);
  (void)!::write(go[1], "x", 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(ready[0]);
  ::close(go[1]);
  auto after_exit = FileLock::Acquire(path, "log");
  EXPECT_TRUE(after_exit.ok()) << after_exit.status().ToString();
}

}  // namespace
}  // namespace accord::fs

namespace accord::fs {
namespace {

// OpenBeneath and its fallback: a file under real directories opens; a symbolic link anywhere on
// the way (the last component, a directory in the middle, a link to a directory inside the tree
// too), an absolute path or ".." does not.
TEST_F(FsTest, OpenBeneathFollowsNoSymbolicLink) {
  ASSERT_TRUE(MakeDirs(dir_ + "/root/a/b").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/outside/b").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/root/a/b/f", "inside").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/outside/b/f", "outside").ok());
  ASSERT_EQ(::symlink((dir_ + "/outside").c_str(), (dir_ + "/root/swapped").c_str()), 0);
  ASSERT_EQ(::symlink("a", (dir_ + "/root/inner").c_str()), 0);
  ASSERT_EQ(::symlink("b/f", (dir_ + "/root/a/leaf").c_str()), 0);
  int root = ::open((dir_ + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  for (auto open : {&OpenBeneath, &OpenBeneathStepwise}) {
    SCOPED_TRACE(open == &OpenBeneath ? "OpenBeneath" : "OpenBeneathStepwise");
    int fd = open(root, "a/b/f", O_RDONLY);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    char buf[16] = {};
    EXPECT_EQ(::read(fd, buf, sizeof buf), 6);
    EXPECT_STREQ(buf, "inside");
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    ::close(fd);
    fd = open(root, "a/b", O_RDONLY | O_DIRECTORY);
    EXPECT_GE(fd, 0);
    ::close(fd);
    for (const char* rel : {"swapped/b/f", "inner/b/f", "a/leaf", "swapped"}) {
      errno = 0;
      EXPECT_EQ(open(root, rel, O_RDONLY), -1) << rel;
      EXPECT_EQ(errno, ELOOP) << rel << ": " << std::strerror(errno);
    }
    for (const char* rel : {"swapped", "inner", "swapped/b"}) {  // as the walk opens directories
      errno = 0;
      EXPECT_EQ(open(root, rel, O_RDONLY | O_DIRECTORY), -1) << rel;
      EXPECT_EQ(errno, ELOOP) << rel << ": " << std::strerror(errno);
    }
    fd = open(root, "./a//b/./f", O_RDONLY);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    ::close(fd);
    for (const char* rel : {"a/../../outside/b/f", "a/../a/b/f", "..", "a/..", "/etc/passwd", ""}) {
      errno = 0;
      EXPECT_EQ(open(root, rel, O_RDONLY), -1) << rel;
      EXPECT_EQ(errno, EXDEV) << rel << ": " << std::strerror(errno);
    }
    errno = 0;
    EXPECT_EQ(open(root, "a/missing", O_RDONLY), -1);
    EXPECT_EQ(errno, ENOENT);
  }
  ::close(root);
}

}  // namespace
}  // namespace accord::fs
