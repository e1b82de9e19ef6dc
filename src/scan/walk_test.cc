// The walk: the counting walk (for the progress bar's totals) sees exactly the files the scan does.
#include "scan/walk.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <thread>

#include "core/limits.h"
#include "scan/memo.h"
#include "scan/yara_rules.h"

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

// ScanPaths with a memo of its own on `threads` threads; `found` gets "PATH NAME" for each finding.
ScanSummary ScanWithMemo(const Engine& engine, const std::vector<std::string>& paths, int threads,
                         std::vector<std::string>* found) {
  ScanMemo memo;
  WalkOptions o;
  o.memo = &memo;
  o.threads = threads;
  found->clear();
  return ScanPaths(engine, paths, o, [&](const FileReport& r) {
    for (const Finding& f : r.findings) found->push_back(f.path + " " + f.name);
  });
}

// Whether the process has `dir` open (the walk holds a directory open while it lists it).
bool OpenNow(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) == dir) return true;
  }
  return false;
}

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

// A directory whose entries take many getdents64 calls to list (2,000 names of 150 bytes: about
// 340 KB of entries, the walk reads 32 KiB at a time): every file is scanned and counted.
TEST_F(WalkTest, ALargeDirectoryIsListedWhole) {
  const std::string big = dir_ + "/big";
  std::filesystem::create_directories(big);
  for (int i = 0; i < 2000; ++i) std::ofstream(big + "/" + std::to_string(i) + std::string(146, 'n')) << "x";
  EXPECT_EQ(Scanned({big}, true), (std::pair<uint64_t, uint64_t>{2000, 2000}));
  EXPECT_EQ(Counted({big}, true), (std::pair<uint64_t, uint64_t>{2000, 2000}));
}

TEST_F(WalkTest, CountingStopsWhenAsked) {
  std::atomic<bool> stop{true};
  Totals t;
  CountPaths({dir_ + "/t"}, WalkOptions{}, &t, &stop);
  EXPECT_FALSE(t.done.load());
  EXPECT_EQ(t.files.load(), 0u);
}

// Files with the same bytes, scanned with a memo: each gets the report its own scan gives (the
// same findings under its own path, members' paths too), though only the first of each content
// and name class is scanned; rules that read the name still see each name; a report the memo
// does not keep (damage) leaves every copy to be scanned.
// A report that `on_report` cannot take (it throws, as an output that runs out of memory would)
// counts as an error; every other file, copies sharing one scan through the memo included, is
// reported once, and the scan ends.
TEST_F(WalkTest, AReportThatCannotBeTakenIsAnErrorAndTheScanGoesOn) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file) << "rule Plain { strings: $a = \"evil\" condition: $a }\n";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  std::filesystem::create_directories(dir_ + "/m");
  std::set<std::string> all;
  for (int i = 0; i < 40; ++i) {
    std::string p = dir_ + "/m/copy" + std::to_string(i) + ".bin";
    std::ofstream(p) << (i % 2 ? "some evil bytes" : "other bytes, same size");
    all.insert(p);
  }
  Engine engine({}, {*rules}, ScanOptions{});
  for (int threads : {1, 2, 4}) {
    for (const std::string& refused :
         {dir_ + "/m/copy0.bin", dir_ + "/m/copy1.bin", dir_ + "/m/copy39.bin"}) {
      ScanMemo memo;
      WalkOptions o;
      o.threads = threads;
      o.memo = &memo;
      std::map<std::string, int> reported;
      ScanSummary s = ScanPaths(engine, {dir_ + "/m"}, o, [&](const FileReport& r) {
        if (r.path == refused) throw std::bad_alloc();
        ++reported[r.path];
        EXPECT_TRUE(r.error.empty()) << r.path << ": " << r.error;
      });
      EXPECT_EQ(s.errors, 1u) << threads << " " << refused;
      EXPECT_EQ(reported.size(), all.size() - 1) << threads << " " << refused;
      for (const std::string& p : all) EXPECT_EQ(reported[p], p == refused ? 0 : 1) << p;
    }
  }
}

TEST_F(WalkTest, FilesWithTheSameBytesGetTheReportTheirOwnScanGives) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file) << R"(
rule Plain { strings: $a = "evil" condition: $a }
rule ByName { strings: $a = "evil" condition: $a and filename matches /^invoice/ }
rule NotInKeep { strings: $a = "evil" condition: $a and not filepath contains "/keep/" }
)";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const std::string mail =
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Disposition: attachment; filename=invoice.txt\nContent-Transfer-Encoding: base64\n\n"
      "c29tZSBldmlsIGJ5dGVz\n";
  std::filesystem::create_directories(dir_ + "/m/keep");
  for (int i = 0; i < 12; ++i) {
    std::ofstream(dir_ + "/m/copy" + std::to_string(i) + ".bin") << "some evil bytes";
    std::ofstream(dir_ + "/m/mail" + std::to_string(i) + ".eml") << mail + "--b--\n";
    std::ofstream(dir_ + "/m/broken" + std::to_string(i) + ".eml") << mail;  // no closing boundary
  }
  std::ofstream(dir_ + "/m/invoice.bin") << "some evil bytes";
  // gzip streams (`printf 'some evil bytes' | gzip -n`): their member is named after the file, so
  // invoice.txt.gz holds invoice.txt, which ByName finds, and copy.txt.gz holds copy.txt.
  const std::string gz(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x2b\xce\xcf\x4d\x55\x48\x2d"
      "\xcb\xcc\x51\x48\xaa\x2c\x49\x2d\x06\x00\x8d\xff\xdb\x22\x0f\x00\x00\x00",
      35);
  for (const char* name : {"/m/copy.txt.gz", "/m/invoice.txt.gz", "/m/keep/invoice.txt.gz"})
    std::ofstream(dir_ + name) << gz;
  std::ofstream(dir_ + "/m/keep/copy.bin") << "some evil bytes";
  std::ofstream(dir_ + "/m/other.bin") << "other bytes";
  Engine engine({}, {*rules}, ScanOptions{});
  auto scan = [&](ScanMemo* memo, int threads, ScanSummary* summary) {
    WalkOptions o;
    o.threads = threads;
    o.memo = memo;
    std::map<std::string, std::vector<std::string>> out;  // path -> "PATH NAME KIND" per finding
    *summary = ScanPaths(engine, {dir_ + "/m"}, o, [&](const FileReport& r) {
      auto& lines = out[r.path];
      EXPECT_TRUE(lines.empty()) << r.path << " reported twice";
      lines.push_back("sha256 " + r.sha256 + " scanned " + std::to_string(r.bytes_scanned));
      for (const Finding& f : r.findings) lines.push_back(f.path + " " + f.name + " " + f.kind);
      std::sort(lines.begin(), lines.end());
    });
    return out;
  };
  ScanSummary plain, once, twice;
  auto expected = scan(nullptr, 1, &plain);
  ASSERT_EQ(expected.size(), 42u);
  EXPECT_EQ(expected[dir_ + "/m/invoice.txt.gz"][0], dir_ + "/m/invoice.txt.gz!invoice.txt ByName yara");
  EXPECT_EQ(plain.same_content, 0u);
  ASSERT_EQ(expected[dir_ + "/m/copy3.bin"].size(), 3u);
  EXPECT_EQ(expected[dir_ + "/m/copy3.bin"][0], dir_ + "/m/copy3.bin NotInKeep yara");
  EXPECT_EQ(expected[dir_ + "/m/keep/copy.bin"][0], dir_ + "/m/keep/copy.bin Plain yara");
  EXPECT_EQ(expected[dir_ + "/m/mail3.eml"][0], dir_ + "/m/mail3.eml!invoice.txt ByName yara");
  ScanMemo memo;
  EXPECT_EQ(scan(&memo, 1, &once), expected);
  // Of the copies, invoice.bin and keep/copy.bin differ for the rules: 11 of 12 copies, 11 of 12
  // mails answered; the broken mails are each scanned (their report is not kept), and so are the
  // gzip files, whose members have their names (all three differ for the rules: keep/ is named).
  EXPECT_EQ(once.same_content, 22u);
  EXPECT_EQ(once.files, plain.files);
  EXPECT_EQ(once.bytes_read, plain.bytes_read);
  EXPECT_LT(once.bytes_scanned, plain.bytes_scanned);
  for (int round = 0; round < 5; ++round) {  // two threads: copies also wait for each other's scan
    ScanMemo shared;
    EXPECT_EQ(scan(&shared, 2, &twice), expected);
    EXPECT_EQ(twice.same_content, 22u);
  }
  // The rules as a database holds them (format version 5, predicates saved): the same.
  auto loaded = YaraRules::Load(*(*rules)->Save());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  Engine from_db({}, {*loaded}, ScanOptions{});
  EXPECT_TRUE(from_db.PathsCanShareKeys());
  ScanMemo again;
  WalkOptions o;
  o.memo = &again;
  size_t reports = 0;
  ScanSummary s = ScanPaths(from_db, {dir_ + "/m"}, o, [&](const FileReport&) { ++reports; });
  EXPECT_EQ(reports, 42u);
  EXPECT_EQ(s.same_content, 22u);
  EXPECT_EQ(s.infected, plain.infected);
}

// Two gzip files with the same bytes and names the rules do not tell apart, but whose members,
// named after them, the rules do: each gets its own verdict.
TEST_F(WalkTest, MembersNamedAfterTheirFileKeepTheirOwnNames) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file)
      << "rule Exe { strings: $a = \"evil\" condition: $a and extension == \".exe\" }\n";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const std::string gz(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x2b\xce\xcf\x4d\x55\x48\x2d"
      "\xcb\xcc\x51\x48\xaa\x2c\x49\x2d\x06\x00\x8d\xff\xdb\x22\x0f\x00\x00\x00",
      35);
  std::filesystem::create_directories(dir_ + "/g");
  std::ofstream(dir_ + "/g/a.gz") << gz;
  std::ofstream(dir_ + "/g/b.exe.gz") << gz;
  Engine engine({}, {*rules}, ScanOptions{});
  for (int threads : {1, 2}) {
    std::vector<std::string> found;
    ScanSummary s = ScanWithMemo(engine, {dir_ + "/g"}, threads, &found);
    EXPECT_EQ(found, std::vector<std::string>{dir_ + "/g/b.exe.gz!b.exe Exe"});
    EXPECT_EQ(s.same_content, 0u);
  }
  // SZDD (ClamAV's clam.exe.szdd) names its member after the file too: a.exe.szdd holds a.exe,
  // b.dll.szdd holds b.dll.
  std::ifstream in("/usr/share/clamav-testfiles/clam.exe.szdd", std::ios::binary);
  const std::string szdd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (szdd.empty()) GTEST_SKIP() << "no clamav-testfiles";
  std::filesystem::create_directories(dir_ + "/s");
  std::ofstream(dir_ + "/s/a.exe.szdd") << szdd;
  std::ofstream(dir_ + "/s/b.dll.szdd") << szdd;
  std::ofstream(rules_file) << "rule Exe { condition: extension == \".exe\" }\n";
  auto by_extension = YaraRules::Compile({rules_file});
  ASSERT_TRUE(by_extension.ok()) << by_extension.status().ToString();
  Engine engine2({}, {*by_extension}, ScanOptions{});
  ScanMemo memo;
  WalkOptions o;
  o.memo = &memo;
  std::vector<std::string> found;
  ScanSummary s = ScanPaths(engine2, {dir_ + "/s"}, o, [&](const FileReport& r) {
    for (const Finding& f : r.findings) found.push_back(f.path + " " + f.name);
  });
  EXPECT_EQ(found, std::vector<std::string>{dir_ + "/s/a.exe.szdd!a.exe Exe"});
  EXPECT_EQ(s.same_content, 0u);
}

// More directories named than a process holds open at once (limits::kMaxWalkRootsOpen): the walk
// waits for places and every file is scanned; the places are given back (a second walk of them
// all finishes too).
TEST_F(WalkTest, ManyNamedDirectoriesAreAllWalked) {
  DatabaseBuilder b;
  auto db = Database::OpenBytes(*b.Build(), "empty");
  Engine engine({*db}, {}, ScanOptions{});
  std::vector<std::string> paths;
  for (size_t i = 0; i < accord::limits::kMaxWalkRootsOpen + 44; ++i) {
    std::string d = dir_ + "/many/" + std::to_string(i);
    std::filesystem::create_directories(d);
    std::ofstream(d + "/f") << i;
    paths.push_back(d);
  }
  for (int round = 0; round < 2; ++round) {
    WalkOptions o;
    o.threads = 2;
    ScanSummary s = ScanPaths(engine, paths, o, [](const FileReport&) {});
    EXPECT_EQ(s.files, paths.size());
    EXPECT_EQ(s.directories, paths.size());
    EXPECT_EQ(s.errors, 0u);
  }
}

// Directories of the tree swapped for symbolic links to a directory outside it after the walk
// listed them: neither the walk nor a worker follows them out. A worker swaps `a` before it
// opens a/x, the walk's first file; the walk swaps `b` while it lists b, before it enters b/c.
// Outside, x and c/y hold what the rule finds; inside, nothing does.
TEST_F(WalkTest, DirectoriesSwappedForLinksLeadNowhere) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file) << "rule Evil { strings: $a = \"evil\" condition: $a }\n";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  std::filesystem::create_directories(dir_ + "/s/a");
  std::filesystem::create_directories(dir_ + "/s/b/c");
  std::filesystem::create_directories(dir_ + "/out/c");
  std::ofstream(dir_ + "/s/a/x") << "plain";
  std::ofstream(dir_ + "/s/b/c/y") << "plain";
  std::ofstream(dir_ + "/out/x") << "evil";
  std::ofstream(dir_ + "/out/c/y") << "evil";
  auto swap = [&](const std::string& name) {
    std::string d = dir_ + "/s/" + name;
    EXPECT_EQ(::rename(d.c_str(), (d + ".real").c_str()), 0);
    EXPECT_EQ(::symlink((dir_ + "/out").c_str(), d.c_str()), 0);
  };
  Engine engine({}, {*rules}, ScanOptions{});
  const std::thread::id walker = std::this_thread::get_id();
  std::atomic<bool> swapped_a{false}, swapped_b{false};
  WalkOptions o;
  o.threads = 1;
  o.stopped = [&] {
    if (std::this_thread::get_id() != walker) {
      if (!swapped_a.exchange(true)) swap("a");
    } else if (!swapped_b.load() && OpenNow(dir_ + "/s/b")) {
      swapped_b = true;
      swap("b");
    }
    return false;
  };
  std::map<std::string, std::string> errors;
  std::vector<std::string> found;
  ScanSummary summary = ScanPaths(engine, {dir_ + "/s"}, o, [&](const FileReport& r) {
    if (!r.error.empty()) errors[r.path] = r.error;
    for (const Finding& f : r.findings) found.push_back(f.path + " " + f.name);
  });
  ASSERT_TRUE(swapped_a.load());
  ASSERT_TRUE(swapped_b.load());
  EXPECT_TRUE(found.empty()) << found.front();
  EXPECT_EQ(errors[dir_ + "/s/a/x"], "cannot open: a symbolic link now stands in its path, not followed");
  EXPECT_EQ(errors[dir_ + "/s/b/c"],
            "cannot open directory: a symbolic link now stands in its path, not followed");
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_EQ(summary.errors, 2u);
  EXPECT_EQ(summary.files, 0u);
}

// --follow-dir-symlinks=2 and --follow-file-symlinks=2 decide on a link's target as the walk lists
// the directory, and open the link later: a target that is another one by then (a directory: the
// one being walked, a loop; a file: another file) is an error, not walked or scanned.
TEST_F(WalkTest, ALinkWhoseTargetChangedAfterItsCheckIsNotFollowed) {
  std::filesystem::create_directories(dir_ + "/top/f");
  std::filesystem::create_directories(dir_ + "/in");
  std::ofstream(dir_ + "/top/f/a") << "12345";
  std::ofstream(dir_ + "/in/b") << "12";
  std::ofstream(dir_ + "/tgt") << "123";
  const std::thread::id walker = std::this_thread::get_id();
  for (bool to_dir : {true, false}) {
    const std::string target = dir_ + (to_dir ? "/in" : "/tgt");
    std::filesystem::remove(dir_ + "/top/f/l");
    ASSERT_EQ(::symlink(target.c_str(), (dir_ + "/top/f/l").c_str()), 0);
    for (bool swap : {false, true}) {
      SCOPED_TRACE(std::string(to_dir ? "directory, " : "file, ") + (swap ? "swapped" : "left alone"));
      bool listing = false, swapped = false;
      DatabaseBuilder b;
      auto db = Database::OpenBytes(*b.Build(), "empty");
      // The other file is over --max-filesize: not read, and still not reported as the link's.
      ScanOptions limited;
      limited.limits.max_file_size = 6;
      Engine engine({*db}, {}, limited);
      WalkOptions o;
      o.follow_dir_symlinks = o.follow_file_symlinks = 2;
      o.threads = 1;
      o.stopped = [&] {
        // Once "f" is listed (open, then closed again; "top", the root, stays open), the target
        // becomes a link to "f" (a directory) or another file.
        if (std::this_thread::get_id() != walker) return false;
        if (!listing) {
          listing = OpenNow(dir_ + "/top/f");
        } else if (swap && !swapped && !OpenNow(dir_ + "/top/f")) {
          swapped = true;
          EXPECT_EQ(::rename(target.c_str(), (target + ".real").c_str()), 0);
          if (to_dir)
            EXPECT_EQ(::symlink((dir_ + "/top/f").c_str(), target.c_str()), 0);
          else
            std::ofstream(target) << "another";
        }
        return false;
      };
      std::vector<std::string> scanned, errors;
      ScanSummary summary = ScanPaths(engine, {dir_ + "/top"}, o, [&](const FileReport& r) {
        (r.error.empty() ? scanned : errors).push_back(r.path + (r.error.empty() ? "" : ": " + r.error));
      });
      std::sort(scanned.begin(), scanned.end());
      if (!swap) {
        EXPECT_EQ(scanned,
                  (std::vector<std::string>{dir_ + "/top/f/a", dir_ + "/top/f/l" + (to_dir ? "/b" : "")}));
        EXPECT_TRUE(errors.empty());
        continue;
      }
      ASSERT_TRUE(swapped);
      EXPECT_EQ(scanned, std::vector<std::string>{dir_ + "/top/f/a"});  // a directory: not f/l/a too
      EXPECT_EQ(errors,
                std::vector<std::string>{dir_ + "/top/f/l: cannot open" + (to_dir ? " directory" : "") +
                                         ": it changed while the walk followed the link to it"});
      EXPECT_EQ(summary.errors, 1u);
      std::filesystem::remove(target);
      ::rename((target + ".real").c_str(), target.c_str());
    }
  }
}

// Paths named on the command line are scanned themselves, links among them followed; only files
// met in a walk share a scan (a file the memo hands back is reopened as a walked one).
TEST_F(WalkTest, NamedPathsAreScannedThemselves) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file) << "rule Marked { strings: $a = \"MARK\" condition: $a }\n";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  Engine engine({}, {*rules}, ScanOptions{});
  std::filesystem::create_directories(dir_ + "/n");
  for (const char* name : {"a", "b"}) std::ofstream(dir_ + "/n/" + name) << "the MARK";
  ASSERT_EQ(::symlink((dir_ + "/n/a").c_str(), (dir_ + "/link").c_str()), 0);
  for (int threads : {1, 2}) {
    std::vector<std::string> found;
    ScanSummary named = ScanWithMemo(engine, {dir_ + "/n/a", dir_ + "/n/b", dir_ + "/link"}, threads, &found);
    std::sort(found.begin(), found.end());
    EXPECT_EQ(found,
              (std::vector<std::string>{dir_ + "/link Marked", dir_ + "/n/a Marked", dir_ + "/n/b Marked"}));
    EXPECT_EQ(named.errors, 0u);
    EXPECT_EQ(named.same_content, 0u);
    ScanSummary walked = ScanWithMemo(engine, {dir_ + "/n"}, threads, &found);
    EXPECT_EQ(walked.same_content, 1u) << threads;
  }
}

// Rules that read `filepath` other than through predicates: no two paths share a key, so the
// memo is of no use (accord scan does not make one).
TEST_F(WalkTest, RulesThatReadThePathWholeLeaveNothingToShare) {
  std::string rules_file = dir_ + "/r.yar";
  std::ofstream(rules_file) << "rule Same { condition: filepath == filename }\n";
  auto rules = YaraRules::Compile({rules_file});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_FALSE(Engine({}, {*rules}, ScanOptions{}).PathsCanShareKeys());
  std::ofstream(rules_file) << "rule Name { condition: filename == \"a\" and owner == extension }\n";
  auto other = YaraRules::Compile({rules_file});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(Engine({}, {*other}, ScanOptions{}).PathsCanShareKeys());  // owner, extension opaque
}

}  // namespace
}  // namespace accord::scan
