// ScanPaths when allocations fail: every C++ allocation of a walk fails in turn (and a run of the
// ones after it), in a child process each; every file must still be reported exactly once (as an
// error where its handling ran out of memory), the counts must add up, and the walk must end.
// Its own program: it replaces the global operator new. Not under AddressSanitizer, which
// replaces it too.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>

#include "scan/memo.h"
#include "scan/walk.h"
#include "scan/yara_rules.h"

#if defined(__SANITIZE_ADDRESS__)
#define ACCORD_NO_NEW_HOOK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACCORD_NO_NEW_HOOK 1
#endif
#endif

namespace {
// Armed: the allocations let through before failing, and how many fail after them.
std::atomic<bool> g_armed{false};
std::atomic<long> g_let{0}, g_fail{0}, g_seen{0};

void* Allocate(std::size_t n) {
  if (g_armed.load(std::memory_order_relaxed)) {
    g_seen.fetch_add(1, std::memory_order_relaxed);
    const long left = g_let.fetch_sub(1, std::memory_order_relaxed);
    if (left <= 0 && left > -g_fail.load(std::memory_order_relaxed)) throw std::bad_alloc();
  }
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

#ifndef ACCORD_NO_NEW_HOOK
void* operator new(std::size_t n) {
  return Allocate(n);
}
void* operator new[](std::size_t n) {
  return Allocate(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
#endif

namespace accord::scan {
namespace {

constexpr int kFiles = 12;

class WalkOomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-walk-oom-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/t");
    // Three contents, four copies each: the memo shares scans; one content is found.
    const char* contents[] = {"some evil bytes", "other bytes, same size", "a third one"};
    for (int i = 0; i < kFiles; ++i) std::ofstream(dir_ + "/t/f" + std::to_string(i)) << contents[i % 3];
    std::ofstream(dir_ + "/r.yar") << "rule Evil { strings: $a = \"evil\" condition: $a }\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // In a child: one walk with the allocations armed as asked. Exit status 0: every file reported
  // once, the counts add up; 1: not; killed by SIGALRM: it did not end.
  static void Child(const Engine& engine, const std::string& tree, int threads, long let, long fail) {
    ::alarm(20);
    static std::atomic<int> reported[kFiles];
    for (auto& r : reported) r = 0;
    std::atomic<int> bad{0};
    ScanSummary s;
    {
      ScanMemo memo;
      WalkOptions o;
      o.threads = threads;
      o.memo = &memo;
      g_let = let, g_fail = fail;
      g_armed = true;
      try {
        s = ScanPaths(engine, {tree}, o, [&](const FileReport& r) {
          // No allocation here: the file's number is at the end of its path.
          const size_t slash = r.path.rfind('/');
          const int i = slash == std::string::npos ? -1 : std::atoi(r.path.c_str() + slash + 2);
          if (i < 0 || i >= kFiles || reported[i]++ != 0) ++bad;
        });
      } catch (const std::bad_alloc&) {  // the walk's own thread: nothing more is promised
        g_armed = false;
        ::_exit(0);
      }
      g_armed = false;
    }
    int sum = 0;
    for (auto& r : reported) sum += r.load();
    const bool ok = bad == 0 && sum == kFiles && s.files + s.errors == uint64_t(kFiles);
    ::_exit(ok ? 0 : 1);
  }

  std::string dir_;
};

TEST_F(WalkOomTest, EveryAllocationFailingInTurnLosesNoFile) {
#ifdef ACCORD_NO_NEW_HOOK
  GTEST_SKIP() << "AddressSanitizer replaces operator new";
#else
  auto rules = YaraRules::Compile({dir_ + "/r.yar"});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  Engine engine({}, {*rules}, ScanOptions{});
  // How many allocations a walk makes, none failing.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) Child(engine, dir_ + "/t", 2, 1L << 40, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  g_seen = 0, g_let = 1L << 40, g_fail = 0;
  g_armed = true;
  {
    ScanMemo memo;
    WalkOptions o;
    o.threads = 2;
    o.memo = &memo;
    ScanPaths(engine, {dir_ + "/t"}, o, [](const FileReport&) {});
  }
  g_armed = false;
  const long total = g_seen.load();
  ASSERT_GT(total, 100);
  int runs = 0, failures = 0;
  std::string first_failure;
  for (int threads : {1, 3}) {
    for (long fail : {1L, 2L, 40L}) {
      const long step = std::max(1L, total / 150);
      for (long let = 0; let < total + 10; let += step) {
        pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) Child(engine, dir_ + "/t", threads, let, fail);
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ++runs;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          if (failures++ == 0)
            first_failure = "threads " + std::to_string(threads) + ", allocation " + std::to_string(let) +
                            " and " + std::to_string(fail - 1) + " after it fail: " +
                            (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                                 : "exit " + std::to_string(WEXITSTATUS(status)));
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << failures << " of " << runs << " walks; the first: " << first_failure;
#endif
}

}  // namespace
}  // namespace accord::scan
