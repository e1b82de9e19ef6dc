// The walk: the counting walk (for the progress bar's totals) sees exactly the files the scan does.
#include "scan/walk.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace accord::scan {
namespace {

class WalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-walk-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/t/sub/deeper");
    std::ofstream(dir_ + "/t/a") << "12345";
    std::ofstream(dir_ + "/t/sub/b") << "1234567890";
    std::ofstream(dir_ + "/t/sub/deeper/c") << "1";
    std::ofstream(dir_ + "/single") << "123";
    ::symlink("..", (dir_ + "/t/sub/loop").c_str());                    // not followed
    ::symlink((dir_ + "/single").c_str(), (dir_ + "/t/link").c_str());  // not followed either
    ::mkfifo((dir_ + "/t/fifo").c_str(), 0600);                         // not a file to scan
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What ScanPaths scans: files and bytes.
  std::pair<uint64_t, uint64_t> Scanned(const std::vector<std::string>& paths, bool recursive) {
    DatabaseBuilder b;
    auto db = Database::OpenBytes(*b.Build(), "empty");
    Engine engine({*db}, {}, ScanOptions{});
    WalkOptions o;
    o.recursive = recursive;
    ScanSummary s = ScanPaths(engine, paths, o, [](const FileReport&) {});
    return {s.files, s.bytes_read};
  }
  std::pair<uint64_t, uint64_t> Counted(const std::vector<std::string>& paths, bool recursive) {
    WalkOptions o;
    o.recursive = recursive;
    Totals t;
    CountPaths(paths, o, &t);
    EXPECT_TRUE(t.done.load());
    return {t.files.load(), t.bytes.load()};
  }

  std::string dir_;
};

TEST_F(WalkTest, CountingSeesWhatTheScanScans) {
  for (bool recursive : {true, false}) {
    for (const std::vector<std::string>& paths : {std::vector<std::string>{dir_ + "/t"},
                                                  {dir_ + "/t", dir_ + "/single"},
                                                  {dir_ + "/t/link"},
                                                  {dir_ + "/missing", dir_ + "/t/sub"}}) {
      EXPECT_EQ(Counted(paths, recursive), Scanned(paths, recursive))
          << paths[0] << " recursive " << recursive;
    }
  }
  EXPECT_EQ(Counted({dir_ + "/t"}, true), std::make_pair(uint64_t{3}, uint64_t{16}));
  EXPECT_EQ(Counted({dir_ + "/t"}, false), std::make_pair(uint64_t{1}, uint64_t{5}));
  EXPECT_EQ(Counted({dir_ + "/t/link"}, false), std::make_pair(uint64_t{1}, uint64_t{3}));  // named: followed
}

TEST_F(WalkTest, CountingStopsWhenAsked) {
  std::atomic<bool> stop{true};
  Totals t;
  CountPaths({dir_ + "/t"}, WalkOptions{}, &t, &stop);
  EXPECT_FALSE(t.done.load());
  EXPECT_EQ(t.files.load(), 0u);
}

}  // namespace
}  // namespace accord::scan
