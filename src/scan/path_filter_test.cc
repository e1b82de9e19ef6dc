// clamscan's path filters: POSIX extended expressions matched anywhere in a path, as bytes; what
// the walk skips (not entered, not scanned, not counted) and reports as excluded. The command line
// is checked against clamscan itself in tests/scan_cli_test.sh.
#include "scan/path_filter.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/limits.h"
#include "scan/database.h"
#include "scan/walk.h"

namespace accord::scan {
namespace {

using Strings = std::vector<std::string>;
PathPatterns P(Strings exclude, Strings include = {}, Strings exclude_dir = {}, Strings include_dir = {}) {
  PathPatterns p;
  p.exclude = std::move(exclude);
  p.include = std::move(include);
  p.exclude_dir = std::move(exclude_dir);
  p.include_dir = std::move(include_dir);
  return p;
}

std::shared_ptr<const PathFilter> Filter(const PathPatterns& p) {
  auto f = PathFilter::Make(p);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return f.ok() ? *f : nullptr;
}

TEST(PathFilterTest, ExcludeAndIncludeAsClamscan) {
  auto f = Filter(P({"\\.log$", "^tmp/"}, {}, {"cache"}));
  EXPECT_TRUE(f->SkipsFile("a/b.log"));
  EXPECT_FALSE(f->SkipsFile("a/b.log.txt"));  // anchored by the pattern, not by the filter
  EXPECT_TRUE(f->SkipsFile("tmp/x"));
  EXPECT_FALSE(f->SkipsFile("a/tmp/x"));
  EXPECT_TRUE(f->SkipsDir("home/u/.cache"));  // anywhere in the path: regexec, unanchored
  EXPECT_FALSE(f->SkipsDir("a/b.log"));       // file patterns are not directory patterns
  EXPECT_FALSE(f->SkipsFile("home/u/.cache"));

  auto inc = Filter(P({"secret"}, {"\\.(exe|dll)$", "^bin/"}, {}, {"^src($|/)"}));
  EXPECT_FALSE(inc->SkipsFile("x/a.exe"));
  EXPECT_FALSE(inc->SkipsFile("bin/tool"));
  EXPECT_TRUE(inc->SkipsFile("x/a.txt"));       // matches no --include
  EXPECT_TRUE(inc->SkipsFile("x/secret.exe"));  // --exclude wins
  EXPECT_FALSE(inc->SkipsDir("src"));
  EXPECT_FALSE(inc->SkipsDir("src/lib"));
  EXPECT_TRUE(inc->SkipsDir("srcx"));

  // Extended syntax (+, ?, |, {n}, classes), case-sensitive; bytes that are not UTF-8, and a
  // newline, in a name.
  auto ere = Filter(P({"a+b?c{2}[[:digit:]]", "\xff", "\n"}));
  EXPECT_TRUE(ere->SkipsFile("x/aacc7"));
  EXPECT_FALSE(ere->SkipsFile("x/AACC7"));
  EXPECT_TRUE(ere->SkipsFile("x/bad\xff.txt"));
  EXPECT_TRUE(ere->SkipsFile("x/new\nline"));
  EXPECT_FALSE(ere->SkipsFile("x/plain"));

  // A pattern that ends in '/' matches the path with a '/' appended (clamscan: --exclude-dir=/proc/).
  auto slash = Filter(P({"b\\.txt/"}, {}, {"/skip/"}));
  EXPECT_TRUE(slash->SkipsDir("a/skip"));
  EXPECT_FALSE(slash->SkipsDir("a/skipper"));
  EXPECT_TRUE(slash->SkipsFile("/x/b.txt"));
  EXPECT_FALSE(slash->SkipsFile("/x/b.txt.gz"));

  auto none = Filter(P({}));
  EXPECT_FALSE(none->SkipsFile("anything"));
  EXPECT_FALSE(none->SkipsDir("anything"));
}

// clamscan compiles a bad pattern, fails and matches nothing with it, in silence; accord refuses
// it before scanning, naming the option and regcomp's reason.
TEST(PathFilterTest, ABadPatternIsAnErrorNamingIt) {
  for (const auto& [patterns, option] :
       std::vector<std::pair<PathPatterns, std::string>>{{P({"ok", "("}), "--exclude \"(\""},
                                                         {P({}, {"[a-"}), "--include \"[a-\""},
                                                         {P({}, {}, {"a{2,1}"}), "--exclude-dir \"a{2,1}\""},
                                                         {P({}, {}, {}, {"*x"}), "--include-dir"}}) {
    auto f = PathFilter::Make(patterns);
    ASSERT_FALSE(f.ok()) << option;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_NE(f.status().message().find(option), std::string::npos) << f.status().message();
  }
  EXPECT_FALSE(PathFilter::Make(P({std::string(accord::limits::kMaxPathPatternSize + 1, 'a')})).ok());
  EXPECT_FALSE(PathFilter::Make(P(Strings(accord::limits::kMaxPathPatterns + 1, "a"))).ok());
}

class FilteredWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-filter-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (const char* d : {"/t/keep", "/t/skip/inner", "/t/keep/skip-not"})
      std::filesystem::create_directories(dir_ + d);
    for (const char* f : {"/t/a.txt", "/t/b.log", "/t/keep/c.txt", "/t/skip/d.txt", "/t/skip/inner/e.txt",
                          "/t/keep/skip-not/f.log"})
      std::ofstream(dir_ + f) << "12345";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FilteredWalkTest, SkippedPathsAreReportedNeitherEnteredNorScannedNorCounted) {
  DatabaseBuilder b;
  auto db = Database::OpenBytes(*b.Build(), "empty");
  Engine engine({*db}, {}, ScanOptions{});
  auto filter = Filter(P({"\\.log$"}, {}, {"/skip$"}));
  for (int threads : {1, 3}) {
    WalkOptions o;
    o.threads = threads;
    o.filter = filter.get();
    std::multiset<std::string> scanned, excluded;
    o.on_excluded = [&](const std::string& p) { excluded.insert(p.substr(dir_.size())); };
    ScanSummary s = ScanPaths(engine, {dir_ + "/t"}, o, [&](const FileReport& r) {
      EXPECT_TRUE(r.error.empty()) << r.error;
      scanned.insert(r.path.substr(dir_.size()));
    });
    EXPECT_EQ(scanned, (std::multiset<std::string>{"/t/a.txt", "/t/keep/c.txt"}));
    // The skipped directory once, not what is under it; "skip-not" does not end in "/skip".
    EXPECT_EQ(excluded, (std::multiset<std::string>{"/t/b.log", "/t/skip", "/t/keep/skip-not/f.log"}));
    EXPECT_EQ(s.files, 2u);
    EXPECT_EQ(s.excluded, 3u);
    EXPECT_EQ(s.directories, 3u);  // t, keep, keep/skip-not

    Totals t;  // the progress bar's totals: the same files
    CountPaths({dir_ + "/t"}, o, &t);
    EXPECT_EQ(t.files.load(), 2u);
  }
  // Paths named on the command line are filtered too (clamscan: `--include-dir d1` skips `ex`).
  WalkOptions o;
  auto named = Filter(P({"a\\.txt$"}, {}, {}, {"keep"}));
  o.filter = named.get();
  std::vector<std::string> excluded;
  o.on_excluded = [&](const std::string& p) { excluded.push_back(p.substr(dir_.size())); };
  ScanSummary s = ScanPaths(engine, {dir_ + "/t/a.txt", dir_ + "/t", dir_ + "/t/keep/c.txt"}, o,
                            [](const FileReport&) {});
  EXPECT_EQ(excluded, (std::vector<std::string>{"/t/a.txt", "/t"}));
  EXPECT_EQ(s.files, 1u);  // keep/c.txt: a named file is not under a directory filter
}

// Files are matched by their real path (absolute, links resolved), as clamscan matches them, and
// reported under the path that names them; a named directory's trailing slashes are dropped.
TEST_F(FilteredWalkTest, FilesAreMatchedByTheirRealPath) {
  DatabaseBuilder b;
  auto db = Database::OpenBytes(*b.Build(), "empty");
  Engine engine({*db}, {}, ScanOptions{});
  ASSERT_EQ(::symlink((dir_ + "/t").c_str(), (dir_ + "/lnk").c_str()), 0);
  const std::string real = std::filesystem::canonical(dir_).string();
  ASSERT_EQ(real.find_first_of(".[]()*+?{}|^$\\"), std::string::npos) << real;  // a pattern as it is
  auto filter = Filter(P({"^" + real + "/t/keep/c\\.txt$"}, {}, {"^" + dir_ + "/(t|lnk)/skip$"}));
  for (const auto& [named, shown] : std::vector<std::pair<std::string, std::string>>{
           {dir_ + "/lnk", dir_ + "/lnk"}, {dir_ + "/t//", dir_ + "/t"}, {dir_ + "/lnk/keep/c.txt", ""}}) {
    WalkOptions o;
    o.filter = filter.get();
    std::vector<std::string> excluded;
    std::set<std::string> scanned;
    o.on_excluded = [&](const std::string& p) { excluded.push_back(p); };
    ScanPaths(engine, {named}, o, [&](const FileReport& r) { scanned.insert(r.path); });
    if (shown.empty()) {  // a named link to the file: its real path is the one excluded
      EXPECT_EQ(excluded, std::vector<std::string>{named});
      continue;
    }
    EXPECT_EQ(excluded, (std::vector<std::string>{shown + "/keep/c.txt", shown + "/skip"})) << named;
    EXPECT_TRUE(scanned.count(shown + "/a.txt")) << named;
  }
}

}  // namespace
}  // namespace accord::scan
