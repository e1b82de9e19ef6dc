#include "scan/fault_guard.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

namespace accord::scan {
namespace {

// A page no access is allowed to: writing it faults, with no undefined behaviour a sanitizer
// would stop at first (as a null pointer's would be).
volatile int* Forbidden() {
  static void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return static_cast<volatile int*>(page);
}
void WriteForbidden(void*) {
  *Forbidden() = 1;
}
void Add(void* p) {
  ++*static_cast<int*>(p);
}
void ReadByte(void* p) {
  auto* at = static_cast<const volatile char**>(p);
  (void)**at;
}

TEST(FaultGuardTest, AFaultEndsTheCallNotTheProcess) {
  ASSERT_NE(static_cast<volatile void*>(Forbidden()), MAP_FAILED);
  int signal = 0;
  EXPECT_FALSE(RunGuarded(WriteForbidden, nullptr, &signal));
  EXPECT_EQ(signal, SIGSEGV);
  // The thread goes on, and guards again: twice more, and a call that returns.
  EXPECT_FALSE(RunGuarded(WriteForbidden, nullptr, &signal));
  int n = 0;
  EXPECT_TRUE(RunGuarded(Add, &n, &signal));
  EXPECT_TRUE(RunGuarded(Add, &n));
  EXPECT_EQ(n, 2);
}

// The fault libyara's guard was mostly for: reading a mapped file that was cut short meanwhile.
TEST(FaultGuardTest, ABusErrorEndsTheCall) {
  char path[] = "/tmp/accord-fault-guard-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(ftruncate(fd, 1 << 16), 0);
  void* map = mmap(nullptr, 1 << 16, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  ASSERT_EQ(ftruncate(fd, 0), 0);
  const volatile char* at = static_cast<const char*>(map) + 4096;
  int signal = 0;
  EXPECT_FALSE(RunGuarded(ReadByte, &at, &signal));
  EXPECT_EQ(signal, SIGBUS);
  munmap(map, 1 << 16);
  close(fd);
}

struct Nested {
  bool inner = true;
  int signal = 0;
};
void FaultInside(void* p) {
  auto* n = static_cast<Nested*>(p);
  n->inner = RunGuarded(WriteForbidden, nullptr, &n->signal);
}

TEST(FaultGuardTest, GuardsNestAndEachThreadHasItsOwn) {
  Nested n;
  EXPECT_TRUE(RunGuarded(FaultInside, &n));  // the inner call faulted, the outer one returned
  EXPECT_FALSE(n.inner);
  EXPECT_EQ(n.signal, SIGSEGV);
  bool other = true;
  std::thread t([&other] { other = RunGuarded(WriteForbidden, nullptr); });
  t.join();
  EXPECT_FALSE(other);
}

// Outside a guarded call, a fault does what it did before the guard was installed: here (no
// sanitizer) the process dies of it; under a sanitizer its handler reports it and ends the
// process.
TEST(FaultGuardDeathTest, AFaultOutsideAGuardedCallStillEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        int n = 0;
        (void)RunGuarded(Add, &n);  // the guard's handler is installed in this process
        WriteForbidden(nullptr);
      },
      "");
}

void ExitSeven(int, siginfo_t*, void*) {
  std::_Exit(7);
}

// A handler installed before the guard's still gets the faults outside guarded calls, and a
// signal sent to a process that ignored it is still ignored.
TEST(FaultGuardDeathTest, TheHandlerBeforeItStillGetsTheOtherFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction act {};
        act.sa_sigaction = ExitSeven;
        act.sa_flags = SA_SIGINFO;
        sigemptyset(&act.sa_mask);
        sigaction(SIGSEGV, &act, nullptr);
        std::signal(SIGBUS, SIG_IGN);
        int n = 0;
        (void)RunGuarded(Add, &n);  // installed now (this child process starts without it)
        if (RunGuarded(WriteForbidden, nullptr)) std::_Exit(1);  // guarded: not the old handler's
        std::raise(SIGBUS);                                      // ignored, as before
        WriteForbidden(nullptr);                                 // the old handler's: exits 7
        std::_Exit(2);
      },
      ::testing::ExitedWithCode(7), "");
}

}  // namespace
}  // namespace accord::scan
