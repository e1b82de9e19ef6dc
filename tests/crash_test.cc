// Kills `accord log append` with SIGKILL at random moments during large appends, at least 50
// times, and checks after each kill what a user relies on: the log as served still verifies,
// the next writer recovers it, and every index printed before the kill holds the bytes it was
// printed for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "core/fs.h"
#include "tlog/log.h"

namespace accord {
namespace {

using Clock = std::chrono::steady_clock;

std::string Bin() {
  const char* b = std::getenv("ACCORD_BIN");
  return b ? b : "accord";
}

struct AppendRun {
  std::string out;  // what the killed process printed on stdout
  double seconds = 0;
  int status = 0;
};

// Runs `accord log append dir` with `input` on stdin; kills it after `kill_after` (if set).
AppendRun AppendOnce(const std::string& dir, const std::string& input_path,
                     std::optional<double> kill_after) {
  int out_pipe[2];
  EXPECT_EQ(pipe(out_pipe), 0);
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(input_path.c_str(), O_RDONLY);
    dup2(in, 0);
    dup2(out_pipe[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    close(out_pipe[0]);
    execl(Bin().c_str(), "accord", "log", "append", dir.c_str(), (char*)nullptr);
    _exit(127);
  }
  close(out_pipe[1]);
  AppendRun r;
  std::thread killer;
  if (kill_after) {
    killer = std::thread([pid, d = *kill_after] {
      std::this_thread::sleep_for(std::chrono::duration<double>(d));
      kill(pid, SIGKILL);
    });
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) r.out.append(buf, size_t(n));
  close(out_pipe[0]);
  waitpid(pid, &r.status, 0);
  if (killer.joinable()) killer.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

TEST(CrashTest, SigkillDuringAppendLosesNoAcknowledgedEntry) {
  char tmpl[] = "/tmp/accord-crash-XXXXXX";
  std::string root = mkdtemp(tmpl);
  std::string dir = root + "/log", key = root + "/log.key";
  auto signer = note::GenerateSigner("crash.example/log");
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE(fs::WriteFileAtomic(key, note::FormatSignerKey(*signer) + "\n", 0600).ok());
  ASSERT_TRUE(tlog::InitLog(dir, "crash.example/log", key).ok());

  // Each run appends its own lines, so a printed index says exactly which bytes it must hold.
  const int kLines = 40000;
  auto make_input = [&](int run) {
    std::string text;
    text.reserve(kLines * 120);
    std::string pad(80, char('a' + run % 26));
    for (int i = 0; i < kLines; ++i)
      text += "run " + std::to_string(run) + " line " + std::to_string(i) + " " + pad + "\n";
    std::string path = root + "/input";
    EXPECT_TRUE(fs::WriteFileAtomic(path, text).ok());
    return path;
  };

  // A first, uninterrupted run tells how long an append takes here.
  AppendRun full = AppendOnce(dir, make_input(0), std::nullopt);
  ASSERT_TRUE(WIFEXITED(full.status) && WEXITSTATUS(full.status) == 0);
  std::mt19937_64 rng(20261128);
  // Kill at a uniform moment within the time a whole append takes; runs that finish first (the
  // machine got faster) shorten that estimate. Go on until 50 appends were killed.
  double estimate = full.seconds;
  int killed = 0, checked_entries = 0, run = 0;
  while (killed < 50 && run < 200) {
    ++run;
    if (run % 15 == 0) {  // a fresh log now and then keeps each check's cost flat
      std::filesystem::remove_all(dir);
      ASSERT_TRUE(tlog::InitLog(dir, "crash.example/log", key).ok());
    }
    AppendRun r =
        AppendOnce(dir, make_input(run), std::uniform_real_distribution<double>(0.0, estimate)(rng));
    if (WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL) {
      ++killed;
    } else {
      ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << "run " << run << " failed";
      estimate = std::min(estimate, r.seconds * 0.9);
    }
    // Indices printed: only complete lines count (a kill can cut the last one).
    std::vector<uint64_t> printed;
    size_t pos = 0;
    while (true) {
      size_t nl = r.out.find('\n', pos);
      if (nl == std::string::npos) break;
      printed.push_back(std::stoull(r.out.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    // The served state verifies even before any recovery.
    auto vr = tlog::VerifyLog(dir, signer->verifier());
    ASSERT_TRUE(vr.ok()) << "run " << run << " right after the kill: " << vr.status().ToString();
    // The next writer recovers; then every printed index holds its line.
    {
      auto w = tlog::LogWriter::Open(dir);
      ASSERT_TRUE(w.ok()) << "run " << run << ": " << w.status().ToString();
    }
    auto after = tlog::VerifyLog(dir, signer->verifier());
    ASSERT_TRUE(after.ok()) << "run " << run << " after recovery: " << after.status().ToString();
    uint64_t size = after->checkpoint.checkpoint.size;
    tlog::DirTileReader reader(dir);
    std::string pad(80, char('a' + run % 26));
    for (size_t k = 0; k < printed.size(); ++k) {
      // Check all of a small print, else a spread including the last one.
      if (printed.size() > 2000 && k % 97 != 0 && k + 1 != printed.size()) continue;
      ASSERT_LT(printed[k], size) << "run " << run << ": printed index " << printed[k]
                                  << " is not in the log";
      auto e = tlog::ReadEntry(reader, printed[k], size);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      ASSERT_EQ(*e, "run " + std::to_string(run) + " line " + std::to_string(k) + " " + pad)
          << "index " << printed[k];
      ++checked_entries;
    }
  }
  std::printf("killed %d of %d appends; checked %d acknowledged entries\n", killed, run, checked_entries);
  EXPECT_GE(killed, 50);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace accord
