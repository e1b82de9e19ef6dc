// The clean-file cache: its file format, its rules (only clean, settled files; a different engine
// is a different cache; a damaged file is ignored with a warning) and the walk's use of it.
#include "scan/cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/fs.h"
#include "core/limits.h"
#include "scan/walk.h"

namespace accord::scan {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

crypto::Hash Fp(std::string_view s) {
  return crypto::Sha256(s);
}

CacheRecord Record(uint64_t dev, uint64_t ino, std::string_view path) {
  CacheRecord r;
  r.stamp = {dev, ino, 1234, 1'600'000'000'000'000'000, 1'600'000'000'500'000'000};
  r.path_hash = PathHash(path);
  r.sha256 = Fp(path);
  r.scanned_bytes = 5678;
  r.last_used_day = uint32_t(NowNs() / 86'400'000'000'000);
  return r;
}

std::vector<CacheRecord> Sorted(std::vector<CacheRecord> v) {
  std::sort(v.begin(), v.end(), KeyLess);
  return v;
}

TEST(ScanCacheFormat, RoundTripsAndIsCanonical) {
  auto records = Sorted({Record(1, 2, "a"), Record(1, 3, "b"), Record(2, 1, "c")});
  Bytes file = SerializeScanCache(Fp("engine"), records);
  EXPECT_EQ(file.size(), kCacheHeaderSize + 3 * kCacheRecordSize + kCacheTrailerSize);
  auto parsed = ParseScanCache(file, Fp("engine"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, records);
  EXPECT_EQ(SerializeScanCache(Fp("engine"), *parsed), file);
  auto empty = ParseScanCache(SerializeScanCache(Fp("engine"), {}), Fp("engine"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ScanCacheFormat, AnotherFingerprintIsNotDamage) {
  Bytes file = SerializeScanCache(Fp("engine"), {Record(1, 2, "a")});
  auto other = ParseScanCache(file, Fp("engine with a new database"));
  EXPECT_EQ(other.status().code(), Code::kFailedPrecondition);
}

TEST(ScanCacheFormat, DamageIsDataLoss) {
  Bytes file = SerializeScanCache(Fp("engine"), Sorted({Record(1, 2, "a"), Record(1, 3, "b")}));
  for (size_t i = 0; i < file.size(); i += 7) {
    Bytes bad = file;
    bad[i] ^= 0x40;
    EXPECT_EQ(ParseScanCache(bad, Fp("engine")).status().code(), Code::kDataLoss) << "byte " << i;
  }
  for (size_t n : {size_t{0}, size_t{10}, kCacheHeaderSize, file.size() - 1})
    EXPECT_EQ(ParseScanCache(file.substr(0, n), Fp("engine")).status().code(), Code::kDataLoss) << n;
  EXPECT_EQ(ParseScanCache(file + "x", Fp("engine")).status().code(), Code::kDataLoss);
  // Sound bytes, records out of order (or twice): not canonical, refused.
  auto records = Sorted({Record(1, 2, "a"), Record(1, 3, "b")});
  std::swap(records[0], records[1]);
  auto unsorted = ParseScanCache(SerializeScanCache(Fp("engine"), records), Fp("engine"));
  EXPECT_EQ(unsorted.status().code(), Code::kDataLoss);
  EXPECT_NE(unsorted.status().message().find("record 1"), std::string::npos) << unsorted.status().message();
  auto twice =
      ParseScanCache(SerializeScanCache(Fp("engine"), {Record(1, 2, "a"), Record(1, 2, "a")}), Fp("engine"));
  EXPECT_EQ(twice.status().code(), Code::kDataLoss);
}

TEST(ScanCacheFingerprint, EveryInputCounts) {
  auto base = [] {
    Fingerprint f;
    f.AddOptions(ScanOptions{});
    return f;
  };
  crypto::Hash a = base().Finish();
  EXPECT_EQ(a, base().Finish());  // deterministic
  ScanOptions o;
  o.limits.max_files = 9999;
  Fingerprint f;
  f.AddOptions(o);
  EXPECT_NE(f.Finish(), a);
  o = ScanOptions{};
  o.limits.max_scan_time = std::chrono::milliseconds(5);
  Fingerprint g;
  g.AddOptions(o);
  EXPECT_NE(g.Finish(), a);

  DatabaseBuilder b1, b2;
  auto src = b2.AddSource(SignatureFileSource("x.hsb", "data"));
  ASSERT_TRUE(src.ok());
  auto db1 = Database::OpenBytes(*b1.Build(), "one");
  auto db2 = Database::OpenBytes(*b2.Build(), "two");
  ASSERT_TRUE(db1.ok() && db2.ok());
  auto h1 = ScanFingerprint({*db1}, {}, ScanOptions{});
  auto h1again = ScanFingerprint({*db1}, {}, ScanOptions{});
  auto h2 = ScanFingerprint({*db2}, {}, ScanOptions{});
  ASSERT_TRUE(h1.ok() && h1again.ok() && h2.ok());
  EXPECT_EQ(*h1, *h1again);
  EXPECT_NE(*h1, *h2);
}

TEST(ScanCacheFingerprint, RulesCompiledTwiceFromTheSameFilesAreTheSame) {
  char tmpl[] = "/tmp/accord-cache-rules-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/r.yar") << "rule A { strings: $a = \"MARK\" condition: $a and filename != \"x\" }\n";
  auto one = YaraRules::Compile({dir});
  auto two = YaraRules::Compile({dir});
  ASSERT_TRUE(one.ok() && two.ok());
  auto h1 = ScanFingerprint({}, {*one}, ScanOptions{});
  auto h2 = ScanFingerprint({}, {*two}, ScanOptions{});
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(*h1, *h2);
  std::ofstream(dir + "/r.yar") << "rule A { strings: $a = \"MARX\" condition: $a and filename != \"x\" }\n";
  auto three = YaraRules::Compile({dir});
  ASSERT_TRUE(three.ok());
  auto h3 = ScanFingerprint({}, {*three}, ScanOptions{});
  ASSERT_TRUE(h3.ok());
  EXPECT_NE(*h1, *h3);
  std::filesystem::remove_all(dir);
}

class ScanCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-cache-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    cache_ = dir_ + "/scan.cache";
    std::filesystem::create_directory(dir_ + "/tree");
    std::string sha = HexEncode(crypto::AsView(crypto::Sha256(kEvil)));
    std::ofstream(dir_ + "/t.hsb") << sha << ":" << std::string(kEvil).size() << ":Test.Evil\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::shared_ptr<const Database> Db() {
    DatabaseBuilder b;
    EXPECT_TRUE(AddHashFile(b, dir_ + "/t.hsb").ok());
    auto db = Database::OpenBytes(std::move(b.Build()).value(), "test");
    EXPECT_TRUE(db.ok());
    return *db;
  }

  void Write(const std::string& name, std::string_view data) {
    std::ofstream(dir_ + "/tree/" + name, std::ios::trunc) << data;
  }

  // One scan of the tree with the cache; `start_ns` is when the scan "started" (the racy rule).
  struct Run {
    ScanSummary summary;
    std::vector<FileReport> reports;
    std::string warning;
  };
  Run Scan(const crypto::Hash& fingerprint, int64_t start_ns) {
    Engine engine({Db()}, {}, ScanOptions{});
    Run run;
    auto cache = ScanCache::Open(cache_, fingerprint, start_ns, &run.warning);
    WalkOptions o;
    o.cache = cache.get();
    run.summary =
        ScanPaths(engine, {dir_ + "/tree"}, o, [&](const FileReport& r) { run.reports.push_back(r); });
    EXPECT_TRUE(cache->Save().ok());
    std::sort(run.reports.begin(), run.reports.end(),
              [](const FileReport& a, const FileReport& b) { return a.path < b.path; });
    return run;
  }

  static constexpr const char* kEvil = "the evil bytes!!";
  static constexpr const char* kClean = "some clean bytes";  // as long as kEvil
  std::string dir_, cache_;
};

TEST_F(ScanCacheTest, SecondScanReportsTheSameFromTheCacheUnread) {
  Write("a.txt", kClean);
  Write("b.txt", "other clean content");
  Write("evil.bin", kEvil);
  int64_t later = NowNs() + 10 * kRacyCleanNs;  // every file is settled for a scan starting then
  Run first = Scan(Fp("engine"), later);
  EXPECT_EQ(first.summary.files, 3u);
  EXPECT_EQ(first.summary.infected, 1u);
  EXPECT_EQ(first.summary.cached, 0u);
  EXPECT_TRUE(first.warning.empty());
  struct stat st;
  ASSERT_EQ(::stat(cache_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Run second = Scan(Fp("engine"), later);
  EXPECT_EQ(second.summary.files, 3u);
  EXPECT_EQ(second.summary.cached, 2u);
  EXPECT_EQ(second.summary.infected, 1u);                           // a detection is never cached
  EXPECT_EQ(second.summary.bytes_read, std::string(kEvil).size());  // the clean files were not read
  EXPECT_EQ(second.summary.errors, 0u);
  ASSERT_EQ(second.reports.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second.reports[i].path, first.reports[i].path);
    EXPECT_EQ(second.reports[i].size, first.reports[i].size);
    EXPECT_EQ(second.reports[i].sha256, first.reports[i].sha256);
    EXPECT_EQ(second.reports[i].bytes_scanned, first.reports[i].bytes_scanned);
    EXPECT_EQ(second.reports[i].findings.size(), first.reports[i].findings.size());
  }
}

TEST_F(ScanCacheTest, AnotherFingerprintIsAMiss) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  Scan(Fp("engine"), later);
  Run other = Scan(Fp("engine with new signatures"), later);
  EXPECT_TRUE(other.warning.empty());  // expected, not damage
  EXPECT_EQ(other.summary.cached, 0u);
  EXPECT_EQ(other.summary.files, 1u);
  EXPECT_EQ(Scan(Fp("engine with new signatures"), later).summary.cached, 1u);
  EXPECT_EQ(Scan(Fp("engine"), later).summary.cached, 0u);  // one fingerprint per cache file
}

TEST_F(ScanCacheTest, RacyFilesAreNotCached) {
  Write("a.txt", kClean);
  Run first = Scan(Fp("engine"), NowNs());  // a.txt changed less than 2 s before the scan
  EXPECT_EQ(first.summary.files, 1u);
  EXPECT_FALSE(fs::Exists(cache_));  // nothing recorded, nothing written
  EXPECT_EQ(Scan(Fp("engine"), NowNs()).summary.cached, 0u);
}

TEST_F(ScanCacheTest, AModifiedFileIsScannedAgainAndItsNewContentFound) {
  Write("a.txt", kClean);
  std::string path = dir_ + "/tree/a.txt";
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  EXPECT_EQ(Scan(Fp("engine"), later).summary.infected, 0u);
  EXPECT_EQ(Scan(Fp("engine"), later).summary.cached, 1u);
  // Same size, and the old mtime put back: only the ctime (which no one can set) tells.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the clock tick of the write
  Write("a.txt", kEvil);
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  Run again = Scan(Fp("engine"), later);
  EXPECT_EQ(again.summary.cached, 0u);
  EXPECT_EQ(again.summary.infected, 1u);
  ASSERT_EQ(again.reports.size(), 1u);
  ASSERT_EQ(again.reports[0].findings.size(), 1u);
  EXPECT_EQ(again.reports[0].findings[0].name, "Test.Evil");
}

TEST_F(ScanCacheTest, ADamagedCacheIsReportedIgnoredAndRebuilt) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  Scan(Fp("engine"), later);
  auto bytes = fs::ReadFile(cache_, 1 << 20);
  ASSERT_TRUE(bytes.ok());
  Bytes bad = *bytes;
  bad[kCacheHeaderSize + 3] ^= 1;
  ASSERT_TRUE(fs::WriteFileAtomic(cache_, bad, 0600).ok());
  Run damaged = Scan(Fp("engine"), later);
  EXPECT_NE(damaged.warning.find("damaged"), std::string::npos) << damaged.warning;
  EXPECT_NE(damaged.warning.find("checksum"), std::string::npos) << damaged.warning;
  EXPECT_EQ(damaged.summary.cached, 0u);
  EXPECT_EQ(damaged.summary.files, 1u);
  Run rebuilt = Scan(Fp("engine"), later);
  EXPECT_TRUE(rebuilt.warning.empty()) << rebuilt.warning;
  EXPECT_EQ(rebuilt.summary.cached, 1u);
  // Not a cache at all, and empty: the same.
  ASSERT_TRUE(fs::WriteFileAtomic(cache_, "hello", 0600).ok());
  EXPECT_NE(Scan(Fp("engine"), later).warning.find("not an accord scan cache"), std::string::npos);
  ASSERT_TRUE(fs::WriteFileAtomic(cache_, "", 0600).ok());
  EXPECT_NE(Scan(Fp("engine"), later).warning.find("damaged"), std::string::npos);
}

TEST_F(ScanCacheTest, ACacheOthersCanWriteIsNotTrusted) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  Scan(Fp("engine"), later);
  ASSERT_EQ(::chmod(cache_.c_str(), 0666), 0);
  Run run = Scan(Fp("engine"), later);
  EXPECT_NE(run.warning.find("writable by group or others"), std::string::npos) << run.warning;
  EXPECT_EQ(run.summary.cached, 0u);
  ASSERT_EQ(::unlink(cache_.c_str()), 0);
  ASSERT_EQ(::symlink((dir_ + "/t.hsb").c_str(), cache_.c_str()), 0);
  EXPECT_NE(Scan(Fp("engine"), later).warning.find("not used"), std::string::npos);
}

TEST_F(ScanCacheTest, TwoScansSavingAtOnceMergeTheirRecords) {
  Write("a.txt", kClean);
  Write("b.txt", "other clean content");
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  Engine engine({Db()}, {}, ScanOptions{});
  std::string w1, w2;
  auto c1 = ScanCache::Open(cache_, Fp("engine"), later, &w1);
  auto c2 = ScanCache::Open(cache_, Fp("engine"), later, &w2);
  WalkOptions o1, o2;
  o1.cache = c1.get();
  o2.cache = c2.get();
  ScanPaths(engine, {dir_ + "/tree/a.txt"}, o1, [](const FileReport&) {});
  ScanPaths(engine, {dir_ + "/tree/b.txt"}, o2, [](const FileReport&) {});
  ASSERT_TRUE(c1->Save().ok());
  ASSERT_TRUE(c2->Save().ok());
  auto merged = ScanCache::Open(cache_, Fp("engine"), later, &w1);
  EXPECT_EQ(merged->loaded(), 2u);
}

TEST_F(ScanCacheTest, RecordsUnusedForAMonthAreDropped) {
  CacheRecord stale = Record(1, 2, "gone");
  stale.last_used_day -= accord::limits::kMaxScanCacheAgeDays;
  CacheRecord recent = Record(1, 3, "kept");
  recent.last_used_day -= 1;
  ASSERT_TRUE(fs::WriteFileAtomic(cache_, SerializeScanCache(Fp("engine"), {stale, recent}), 0600).ok());
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * kRacyCleanNs;
  Scan(Fp("engine"), later);  // records a.txt, so writes the cache
  std::string warning;
  auto cache = ScanCache::Open(cache_, Fp("engine"), later, &warning);
  EXPECT_EQ(cache->loaded(), 2u);  // a.txt and "kept"
  auto parsed = ParseScanCache(*fs::ReadFile(cache_, 1 << 20), Fp("engine"));
  ASSERT_TRUE(parsed.ok());
  for (const auto& r : *parsed) EXPECT_NE(r.path_hash, PathHash("gone"));
}

TEST_F(ScanCacheTest, TheDefaultDirectoryIsPrivate) {
  const char* old = std::getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", (dir_ + "/xdg").c_str(), 1);
  auto path = ScanCache::DefaultPath();
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, dir_ + "/xdg/accord/scan.cache");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/xdg/accord").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::chmod((dir_ + "/xdg/accord").c_str(), 0777), 0);
  EXPECT_EQ(ScanCache::DefaultPath().status().code(), Code::kFailedPrecondition);
  if (old) {
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_CACHE_HOME");
  }
}

}  // namespace
}  // namespace accord::scan
