// The scan cache: its file format, its rules (only settled files, and only reports whose findings
// depend on nothing but the file; a different engine is a different cache; a damaged file is
// ignored with a warning) and the walk's use of it: a rescan reports what the scan reported.
#include "scan/cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/fs.h"
#include "core/limits.h"
#include "scan/memo.h"
#include "scan/report.h"
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
  r.path_hash = PathHash(path, "owner");
  r.sha256 = Fp(path);
  r.scanned_bytes = 5678;
  r.last_used_day = uint32_t(NowNs() / 86'400'000'000'000);
  return r;
}

std::vector<CacheRecord> Sorted(std::vector<CacheRecord> v) {
  std::sort(v.begin(), v.end(), KeyLess);
  return v;
}

// A record with every kind of field a finding has, for the file "a.zip".
CacheRecord WithFindings(uint64_t dev, uint64_t ino, std::string_view path) {
  CacheRecord r = Record(dev, ino, path);
  Finding hash{"!x.exe", "Test.Evil", "sha256", "sigs.hsb"};
  hash.cited = true;
  hash.item_sha256 = std::string(64, 'a');
  hash.item_digest = std::string(64, 'a');
  Finding tlsh{"", "Test.Tlsh", "tlsh", "t.tlsh", 17u};
  tlsh.item_digest = std::string(70, 'B');
  Finding limit{"!big.bin", std::string(kMaxFileSize), "limit", "200 bytes, over 100"};
  r.findings = {hash, tlsh, limit};
  return r;
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

TEST(ScanCacheFormat, FindingsRoundTrip) {
  CacheRecord unread = Record(1, 1, "huge.iso");  // over --max-filesize: never read, no SHA-256
  unread.has_sha256 = false;
  unread.sha256 = {};
  unread.scanned_bytes = 0;
  unread.findings = {{"", std::string(kMaxFileSize), "limit", "5000000000 bytes, over 104857600"}};
  auto records =
      Sorted({Record(1, 2, "a"), WithFindings(1, 3, "a.zip"), unread, WithFindings(7, 1, "b.zip")});
  Bytes file = SerializeScanCache(Fp("engine"), records);
  auto parsed = ParseScanCache(file, Fp("engine"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, records);
  EXPECT_EQ(SerializeScanCache(Fp("engine"), *parsed), file);
}

// Damage behind a sound checksum: what the records and findings say is checked too.
TEST(ScanCacheFormat, InconsistentFindingsAreDataLoss) {
  auto records = Sorted({WithFindings(1, 2, "a.zip"), WithFindings(1, 3, "b.zip")});
  Bytes file = SerializeScanCache(Fp("engine"), records);
  auto resealed = [](Bytes f) {
    f.resize(f.size() - kCacheTrailerSize);
    return f + std::string(crypto::AsView(crypto::Sha256(f)));
  };
  size_t r0 = kCacheHeaderSize, r1 = kCacheHeaderSize + kCacheRecordSize;
  size_t findings = kCacheHeaderSize + 2 * kCacheRecordSize;
  struct {
    size_t at;
    char value;
    const char* why;
  } cases[] = {
      {r0 + 100, 2, "flags"},                       // an unknown record flag
      {r1 + 104, 1, "findings at"},                 // record 1's findings not where record 0's end
      {r0 + 108, 0, "cut short"},                   // record 0 says its findings are shorter than they are
      {findings, 0, "count of 0"},                  // a record with findings has at least one
      {findings + 2, 9, "kind 9"},                  // no such kind
      {findings + 3, 4, "flags 4"},                 // an unknown finding flag
      {findings + 4, 1, "a distance without"},      // the first finding is not TLSH
      {findings + 10, 'x', "not inside the file"},  // its path does not start with '!'
  };
  for (const auto& c : cases) {
    Bytes bad = file;
    bad[c.at] = c.value;
    auto parsed = ParseScanCache(resealed(bad), Fp("engine"));
    EXPECT_EQ(parsed.status().code(), Code::kDataLoss) << c.why;
    EXPECT_NE(parsed.status().message().find(c.why), std::string::npos)
        << c.why << ": " << parsed.status().message();
  }
  // A SHA-256 for a file that was not read.
  CacheRecord unread = Record(1, 1, "x");
  unread.has_sha256 = false;
  EXPECT_EQ(ParseScanCache(SerializeScanCache(Fp("engine"), {unread}), Fp("engine")).status().code(),
            Code::kDataLoss);
}

TEST(ScanCacheFormat, AnOlderFormatIsNotDamage) {
  // Version 1 (accord before the findings were recorded): the same header and checksum.
  Bytes file = SerializeScanCache(Fp("engine"), {Record(1, 2, "a")});
  file[8] = 1;
  file.resize(file.size() - kCacheTrailerSize);
  file += std::string(crypto::AsView(crypto::Sha256(file)));
  auto parsed = ParseScanCache(file, Fp("engine"));
  EXPECT_EQ(parsed.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(parsed.status().message().find("version 1"), std::string::npos) << parsed.status().message();
}

TEST(ScanCacheFormat, OnlyReportsThatDependOnTheFileAloneAreRecordable) {
  FileReport r;
  r.path = "dir/a.zip";
  r.sha256 = std::string(64, '0');
  EXPECT_TRUE(Recordable(r));  // clean
  auto with = [&](Finding f) {
    FileReport x = r;
    x.findings = {f};
    return Recordable(x);
  };
  EXPECT_TRUE(with({"dir/a.zip!x.exe", "Test.Evil", "sha256", "sigs.hsb"}));
  EXPECT_TRUE(with({"dir/a.zip", "Rule", "yara", "r.yar"}));
  EXPECT_TRUE(with({"dir/a.zip", "Test.Tlsh", "tlsh", "t.tlsh", 3u}));
  EXPECT_TRUE(with({"dir/a.zip", std::string(kMaxFileSize), "limit", ""}));
  EXPECT_TRUE(with({"dir/a.zip!b.tar", std::string(kMaxFiles), "limit", ""}));
  // The clock, a database's path, or what could be a lack of memory: scanned again every time.
  EXPECT_FALSE(with({"dir/a.zip", std::string(kMaxScanTime), "limit", ""}));
  EXPECT_FALSE(with({"dir/a.zip", "Heuristics.Limits.Exceeded.MaxTlshMatches", "limit", "db: 3 more"}));
  EXPECT_FALSE(with({"dir/a.zip", "Heuristics.Broken.Zip", "corrupt", "libarchive: out of memory"}));
  EXPECT_FALSE(with({"dir/a.zip", "Heuristics.Unsupported.Zip", "corrupt", ""}));
  EXPECT_FALSE(with({"dir/a.zip", "Heuristics.Encrypted.Zip", "encrypted", ""}));
  EXPECT_FALSE(with({"dir/a.zip", "Heuristics.Broken.Database", "corrupt", ""}));
  // A finding about another file, or a path that only starts like this one's.
  EXPECT_FALSE(with({"dir/b.zip", "Test.Evil", "sha256", ""}));
  EXPECT_FALSE(with({"dir/a.zip2", "Test.Evil", "sha256", ""}));
  FileReport failed = r;
  failed.error = "read failed: EIO";
  EXPECT_FALSE(Recordable(failed));
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
  Run Scan(const crypto::Hash& fingerprint, int64_t start_ns, ScanOptions options = {},
           ScanMemo* memo = nullptr) {
    Engine engine({Db()}, {}, options);
    Run run;
    auto cache = ScanCache::Open(cache_, fingerprint, start_ns, &run.warning);
    WalkOptions o;
    o.cache = cache.get();
    o.memo = memo;
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

// What a user reads: the text lines and the --json objects, in path order.
std::string Printed(const std::vector<FileReport>& reports) {
  std::string out;
  for (const FileReport& r : reports) out += FormatText(r, false) + FormatJson(r);
  return out;
}

// Files the memo answered (scan/memo.h) are recorded as their own scan would have been, and
// replayed as such: the output is a scan's without the memo.
TEST_F(ScanCacheTest, FilesTheMemoAnsweredAreRecordedAsTheirOwnScan) {
  Write("evil1.bin", kEvil);
  Write("evil2.bin", kEvil);
  Write("a.txt", kClean);
  Write("b.txt", kClean);
  int64_t later = NowNs() + 10 * RacyCleanNs();
  ScanMemo memo;
  Run first = Scan(Fp("engine"), later, {}, &memo);
  EXPECT_EQ(first.summary.same_content, 2u);
  EXPECT_EQ(first.summary.infected, 2u);
  ScanMemo memo2;
  Run second = Scan(Fp("engine"), later, {}, &memo2);
  EXPECT_EQ(second.summary.cached, 4u);
  EXPECT_EQ(Printed(second.reports), Printed(first.reports));
  std::filesystem::remove(cache_);
  Run plain = Scan(Fp("engine"), later);
  EXPECT_EQ(plain.summary.same_content, 0u);
  EXPECT_EQ(Printed(plain.reports), Printed(first.reports));
  EXPECT_NE(Printed(first.reports).find("evil2.bin: Test.Evil FOUND"), std::string::npos);
}

TEST_F(ScanCacheTest, SecondScanReportsTheSameFromTheCacheUnread) {
  Write("a.txt", kClean);
  Write("b.txt", "other clean content");
  Write("evil.bin", kEvil);
  int64_t later = NowNs() + 10 * RacyCleanNs();  // every file is settled for a scan starting then
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
  EXPECT_EQ(second.summary.cached, 3u);    // the detection too
  EXPECT_EQ(second.summary.infected, 1u);  // and it still counts (the exit code is 1)
  EXPECT_EQ(second.summary.bytes_read, 0u);
  EXPECT_EQ(second.summary.errors, 0u);
  ASSERT_EQ(second.reports.size(), 3u);
  EXPECT_EQ(Printed(second.reports), Printed(first.reports));
  EXPECT_NE(Printed(second.reports).find("evil.bin: Test.Evil FOUND\n"), std::string::npos);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second.reports[i].sha256, first.reports[i].sha256);
    ASSERT_EQ(second.reports[i].findings.size(), first.reports[i].findings.size());
    for (size_t j = 0; j < first.reports[i].findings.size(); ++j) {  // what `accord evidence` reads too
      EXPECT_EQ(second.reports[i].findings[j].item_sha256, first.reports[i].findings[j].item_sha256);
      EXPECT_EQ(second.reports[i].findings[j].item_digest, first.reports[i].findings[j].item_digest);
    }
  }
  // Scans that only use records already used today do not write the cache again.
  Scan(Fp("engine"), later);
  struct stat again;
  ASSERT_EQ(::stat(cache_.c_str(), &again), 0);
  EXPECT_EQ(again.st_ino, st.st_ino);
  EXPECT_EQ(StampOf(again), StampOf(st));
}

// YARA rules see the owner's name, and renaming a user in the user database changes no file's
// ctime: a record is found only under the owner's name its scan saw.
TEST_F(ScanCacheTest, ARecordIsOnlyForTheOwnerNameItsScanSaw) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * RacyCleanNs();
  Run first = Scan(Fp("engine"), later);
  ASSERT_EQ(first.reports.size(), 1u);
  struct stat st;
  const std::string path = dir_ + "/tree/a.txt";
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(first.reports[0].owner, OwnerName(st.st_uid));
  std::string warning;
  auto cache = ScanCache::Open(cache_, Fp("engine"), later, &warning);
  ASSERT_EQ(cache->loaded(), 1u) << warning;
  FileReport r;
  EXPECT_TRUE(cache->Lookup(StampOf(st), path, OwnerName(st.st_uid), &r));
  EXPECT_EQ(r.owner, OwnerName(st.st_uid));
  EXPECT_FALSE(cache->Lookup(StampOf(st), path, OwnerName(st.st_uid) + "-renamed", &r));
  EXPECT_NE(PathHash("a", "bc"), PathHash("ab", "c")) << "the two names are delimited";
}

// A store through a shared mapping to a page already dirty changes no time until the kernel writes
// the page back: a file changed within that window (twice vm.dirty_expire + dirty_writeback) is not
// recorded, even if its last change is older than a clock tick.
TEST_F(ScanCacheTest, AFileChangedWithinTheWritebackWindowIsNotRecorded) {
  if (std::getenv("ACCORD_SCAN_CACHE_SETTLE_MS")) GTEST_SKIP() << "the window is set by the environment";
  if (RacyCleanNs() < int64_t{10'000'000'000})
    GTEST_SKIP() << "this machine's writeback window (vm.dirty_*) is under 5 s";
  Write("a.txt", kClean);
  int64_t soon = NowNs() + 3'000'000'000;  // past a clock tick, within the writeback window
  Scan(Fp("engine"), soon);
  EXPECT_EQ(Scan(Fp("engine"), soon).summary.cached, 0u);
  int64_t later = NowNs() + 2 * RacyCleanNs();
  Scan(Fp("engine"), later);
  EXPECT_EQ(Scan(Fp("engine"), later).summary.cached, 1u);
}

// Only file systems whose times the kernel keeps are recorded: on tmpfs a store through a shared
// mapping never changes a time (and on FAT, FUSE or NFS the times are not the kernel's own).
TEST_F(ScanCacheTest, AFileOnTmpfsIsNeverRecorded) {
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) != 0 || static_cast<uint32_t>(fs.f_type) != 0x01021994u)
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  char tmpl[] = "/dev/shm/accord-cache-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string shm = tmpl;
  std::ofstream(shm + "/a.txt") << kClean;
  std::ofstream(dir_ + "/tree/b.txt") << kClean;  // the same on this test's own file system
  Engine engine({Db()}, {}, ScanOptions{});
  int64_t later = NowNs() + 2 * RacyCleanNs();
  uint64_t cached = 0, read = 0;
  for (int i = 0; i < 2; ++i) {
    std::string warning;
    auto cache = ScanCache::Open(cache_, Fp("engine"), later, &warning);
    WalkOptions o;
    o.cache = cache.get();
    ScanSummary sum = ScanPaths(engine, {shm, dir_ + "/tree"}, o, [](const FileReport&) {});
    EXPECT_TRUE(cache->Save().ok());
    cached = sum.cached, read = sum.bytes_read;
  }
  std::filesystem::remove_all(shm);
  EXPECT_EQ(cached, 1u);  // b.txt only
  EXPECT_EQ(read, std::string(kClean).size());
}

// A rule set that imports the time module judges by the date: what it said yesterday is not replayed.
TEST_F(ScanCacheTest, AScanByRulesThatReadTheClockIsNotRecorded) {
  Write("a.txt", kClean);
  std::ofstream(dir_ + "/clock.yar")
      << "import \"time\"\nrule AfterTheEnd { condition: time.now() > 4102444800 }\n";
  std::ofstream(dir_ + "/plain.yar") << "rule Plain { strings: $a = \"never here\" condition: $a }\n";
  int64_t later = NowNs() + 2 * RacyCleanNs();
  for (const char* rules : {"/plain.yar", "/clock.yar"}) {
    auto compiled = YaraRules::Compile({dir_ + rules});
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    Engine engine({Db()}, {*compiled}, ScanOptions{});
    uint64_t cached = 0;
    for (int i = 0; i < 2; ++i) {
      std::string warning;
      auto cache = ScanCache::Open(cache_ + "-" + (rules + 1), Fp(rules), later, &warning);
      WalkOptions o;
      o.cache = cache.get();
      cached = ScanPaths(engine, {dir_ + "/tree"}, o, [](const FileReport&) {}).cached;
      EXPECT_TRUE(cache->Save().ok());
    }
    EXPECT_EQ(cached, std::string(rules) == "/plain.yar" ? 1u : 0u) << rules;
  }
}

TEST_F(ScanCacheTest, AFileOverMaxFileSizeIsReportedAgainWithItsNote) {
  Write("big.bin", std::string(300, 'x'));
  Write("small.txt", kClean);
  ScanOptions options;
  options.limits.max_file_size = 100;
  int64_t later = NowNs() + 10 * RacyCleanNs();
  Run first = Scan(Fp("engine, max 100"), later, options);
  ASSERT_EQ(first.reports.size(), 2u);
  ASSERT_EQ(first.reports[0].findings.size(), 1u);
  EXPECT_EQ(first.reports[0].findings[0].name, kMaxFileSize);
  EXPECT_TRUE(first.reports[0].sha256.empty());  // never read
  Run second = Scan(Fp("engine, max 100"), later, options);
  EXPECT_EQ(second.summary.cached, 2u);
  EXPECT_EQ(second.summary.infected, 0u);  // a limit note is not a detection
  EXPECT_EQ(Printed(second.reports), Printed(first.reports));
  EXPECT_NE(Printed(second.reports).find("big.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND\n"),
            std::string::npos);
}

TEST_F(ScanCacheTest, AFileWhoseScanMayHaveFailedIsScannedEveryTime) {
  // A damaged zip: "Heuristics.Broken.Zip", which a lack of memory could also cause.
  Write("broken.zip", std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10) + std::string(40, '\xff'));
  int64_t later = NowNs() + 10 * RacyCleanNs();
  Run first = Scan(Fp("engine"), later);
  ASSERT_EQ(first.reports.size(), 1u);
  ASSERT_FALSE(first.reports[0].findings.empty());
  EXPECT_NE(first.reports[0].findings[0].kind, "limit");
  Run second = Scan(Fp("engine"), later);
  EXPECT_EQ(second.summary.cached, 0u);
  EXPECT_EQ(Printed(second.reports), Printed(first.reports));
}

TEST_F(ScanCacheTest, ARescanWalkedOnManyThreadsReportsEachFileOnceAsTheScanDid) {
  // 200 directories in three levels, a file in each, some of them found.
  for (int i = 0; i < 200; ++i) {
    std::string d = std::to_string(i % 5) + "/" + std::to_string(i % 17) + "/" + std::to_string(i);
    std::filesystem::create_directories(dir_ + "/tree/" + d);
    Write(d + "/f", i % 50 == 0 ? kEvil : kClean + std::to_string(i));
  }
  int64_t later = NowNs() + 10 * RacyCleanNs();
  Engine engine({Db()}, {}, ScanOptions{});
  auto run = [&](int threads) {
    std::string warning;
    auto cache = ScanCache::Open(cache_, Fp("engine"), later, &warning);
    WalkOptions o;
    o.cache = cache.get();
    o.threads = threads;
    Run r;
    r.summary = ScanPaths(engine, {dir_ + "/tree"}, o, [&](const FileReport& x) { r.reports.push_back(x); });
    EXPECT_TRUE(cache->Save().ok());
    std::sort(r.reports.begin(), r.reports.end(),
              [](const FileReport& a, const FileReport& b) { return a.path < b.path; });
    return r;
  };
  Run first = run(1);
  EXPECT_EQ(first.summary.files, 200u);
  EXPECT_EQ(first.summary.infected, 4u);
  EXPECT_EQ(first.summary.directories, 1u + 5u + 85u + 200u);
  for (int threads : {2, 4}) {
    Run again = run(threads);
    EXPECT_EQ(again.summary.cached, 200u) << threads;
    EXPECT_EQ(again.summary.infected, 4u) << threads;
    EXPECT_EQ(again.summary.directories, first.summary.directories) << threads;
    EXPECT_EQ(Printed(again.reports), Printed(first.reports)) << threads;  // each file once, as scanned
  }
}

TEST_F(ScanCacheTest, AnotherFingerprintIsAMiss) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * RacyCleanNs();
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
  int64_t later = NowNs() + 10 * RacyCleanNs();
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
  EXPECT_EQ(Scan(Fp("engine"), later).summary.cached, 1u);  // the detection, from the cache
}

TEST_F(ScanCacheTest, ACleanedFileIsScannedAgainAndReportedClean) {
  Write("a.txt", kEvil);
  std::string path = dir_ + "/tree/a.txt";
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  int64_t later = NowNs() + 10 * RacyCleanNs();
  EXPECT_EQ(Scan(Fp("engine"), later).summary.infected, 1u);
  Run cached = Scan(Fp("engine"), later);
  EXPECT_EQ(cached.summary.cached, 1u);
  EXPECT_EQ(cached.summary.infected, 1u);
  // Cleaned in place, same size, the old mtime put back: a recorded detection must not stick.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Write("a.txt", kClean);
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  Run again = Scan(Fp("engine"), later);
  EXPECT_EQ(again.summary.cached, 0u);
  EXPECT_EQ(again.summary.infected, 0u);
  ASSERT_EQ(again.reports.size(), 1u);
  EXPECT_TRUE(again.reports[0].findings.empty());
}

TEST_F(ScanCacheTest, ADamagedCacheIsReportedIgnoredAndRebuilt) {
  Write("a.txt", kClean);
  int64_t later = NowNs() + 10 * RacyCleanNs();
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
  int64_t later = NowNs() + 10 * RacyCleanNs();
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
  int64_t later = NowNs() + 10 * RacyCleanNs();
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
  int64_t later = NowNs() + 10 * RacyCleanNs();
  Scan(Fp("engine"), later);  // records a.txt, so writes the cache
  std::string warning;
  auto cache = ScanCache::Open(cache_, Fp("engine"), later, &warning);
  EXPECT_EQ(cache->loaded(), 2u);  // a.txt and "kept"
  auto parsed = ParseScanCache(*fs::ReadFile(cache_, 1 << 20), Fp("engine"));
  ASSERT_TRUE(parsed.ok());
  for (const auto& r : *parsed) EXPECT_NE(r.path_hash, PathHash("gone", "owner"));
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
