// The engine end to end on buffers: hash and YARA findings, inside containers, with their
// sources; allow-lists; limits as findings.
#include "scan/engine.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "crypto/sha256.h"
#include "scan/report.h"
#include "scan/tlsh.h"

namespace accord::scan {
namespace {

std::string Zip(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out(1 << 16, '\0');
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& [name, data] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, la_int64_t(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}
std::string Zip(const std::string& name, const std::string& data) {
  return Zip({{name, data}});
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-engine-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string sha = HexEncode(crypto::AsView(crypto::Sha256(kEvil)));
    std::ofstream(dir_ + "/t.hsb") << sha << ":" << std::string(kEvil).size() << ":Test.Evil\n";
    std::ofstream(dir_ + "/r.yar") << "rule Marked { strings: $a = \"MARK\" condition: $a }\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Engine Make(bool allow_evil = false, const std::string& allow_list = "") {
    DatabaseBuilder b;
    EXPECT_TRUE(AddHashFile(b, dir_ + "/t.hsb").ok());
    if (!allow_list.empty()) {
      EXPECT_TRUE(AddHashFile(b, allow_list).ok());
    }
    if (allow_evil) {
      std::ofstream(dir_ + "/ok.sfp")
          << HexEncode(crypto::AsView(crypto::Sha256(kEvil))) << ":*:Known.Good\n";
      EXPECT_TRUE(AddHashFile(b, dir_ + "/ok.sfp").ok());
    }
    auto image = b.Build();
    auto db = Database::OpenBytes(std::move(image).value(), "test");
    EXPECT_TRUE(db.ok());
    auto rules = YaraRules::Compile({dir_ + "/r.yar"});
    EXPECT_TRUE(rules.ok());
    return Engine({*db}, {*rules}, ScanOptions{});
  }

  static constexpr const char* kEvil = "the evil bytes MARK";
  std::string dir_;
};

TEST_F(EngineTest, FindsHashAndRuleInsideAZipWithPathsAndSources) {
  Engine engine = Make();
  auto w = engine.NewWorker();
  FileReport r = engine.ScanBuffer(*w, Zip("dir/x.bin", kEvil), "mail.zip");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].path, "mail.zip!dir/x.bin");
  EXPECT_EQ(r.findings[0].name, "Test.Evil");
  EXPECT_EQ(r.findings[0].kind, "sha256");
  EXPECT_EQ(r.findings[0].source, "t.hsb");
  EXPECT_EQ(r.findings[1].name, "Marked");
  EXPECT_EQ(r.findings[1].kind, "yara");
  EXPECT_TRUE(r.detected());
  EXPECT_EQ(r.sha256.size(), 64u);
  EXPECT_EQ(engine.signature_count(), 2u);
}

TEST_F(EngineTest, AllowListedFilesAreNeverReported) {
  Engine engine = Make(/*allow_evil=*/true);
  auto w = engine.NewWorker();
  FileReport r = engine.ScanBuffer(*w, kEvil, "x.bin");
  EXPECT_TRUE(r.findings.empty());
  EXPECT_FALSE(r.detected());
}

// ClamAV checks the allow-list for every layer up to the top-level file: an allow-listed archive
// is clean with everything in it. A sibling beside it is still scanned.
TEST_F(EngineTest, AnAllowListedContainerCoversWhatIsInsideIt) {
  std::string known = Zip("x.bin", kEvil);
  std::ofstream(dir_ + "/zip.sfp") << HexEncode(crypto::AsView(crypto::Sha256(known)))
                                   << ":*:Known.Good.Zip\n";
  Engine engine = Make(false, dir_ + "/zip.sfp");
  auto w = engine.NewWorker();
  FileReport alone = engine.ScanBuffer(*w, known, "known.zip");
  EXPECT_TRUE(alone.findings.empty()) << alone.findings[0].path << ": " << alone.findings[0].name;
  FileReport outer = engine.ScanBuffer(*w, Zip({{"known.zip", known}, {"y.bin", kEvil}}), "outer.zip");
  std::vector<std::string> found;
  for (const Finding& f : outer.findings) found.push_back(f.path + ": " + f.name);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<std::string>{"outer.zip!y.bin: Marked", "outer.zip!y.bin: Test.Evil"}));
  // Its members still count against the limits, and a limit they use up is reported: the walk
  // stops there for what follows (here y.bin), which must not pass for clean.
  {
    DatabaseBuilder b;
    EXPECT_TRUE(AddHashFile(b, dir_ + "/t.hsb").ok());
    EXPECT_TRUE(AddHashFile(b, dir_ + "/zip.sfp").ok());
    auto db = Database::OpenBytes(std::move(b.Build()).value(), "test");
    ASSERT_TRUE(db.ok());
    ScanOptions small;
    small.limits.max_scan_size = known.size() + 8;  // the outer zip's first member and a little more
    Engine capped({*db}, {}, small);
    auto cw = capped.NewWorker();
    FileReport r = capped.ScanBuffer(
        *cw, Zip({{"known.zip", known}, {"pad.bin", std::string(4096, 'p')}, {"y.bin", kEvil}}), "outer.zip");
    bool noted = false;
    for (const Finding& f : r.findings) noted |= f.name == "Heuristics.Limits.Exceeded.MaxScanSize";
    EXPECT_TRUE(noted) << r.findings.size() << " findings";
  }
  // The same archive not allow-listed: what is inside it is found.
  Engine plain = Make();
  auto pw = plain.NewWorker();
  EXPECT_TRUE(plain.ScanBuffer(*pw, known, "known.zip").detected());
}

TEST_F(EngineTest, LimitsAreFindingsNotDetections) {
  DatabaseBuilder b;
  auto db = Database::OpenBytes(*b.Build(), "empty");
  ScanOptions o;
  o.limits.max_recursion = 1;
  Engine engine({*db}, {}, o);
  auto w = engine.NewWorker();
  FileReport r = engine.ScanBuffer(*w, Zip("inner.zip", Zip("x", "data")), "outer.zip");
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].name, "Heuristics.Limits.Exceeded.MaxRecursion");
  EXPECT_EQ(r.findings[0].kind, "limit");
  EXPECT_FALSE(r.detected());
}

// A string that matches more often than libyara keeps (YR_MAX_STRING_MATCHES, 1,000,000): the
// item's scan ends, the rule still matches on what was kept, and the cap is a finding that names
// the string. Both ways a rule reaches libyara: one that needs no literal ("ab" is too short), and
// one that needs its literal (a group the prefilter runs).
TEST_F(EngineTest, AStringPastLibyarasMatchCapIsAFinding) {
  std::ofstream(dir_ + "/often.yar")
      << "rule Short { strings: $short = \"ab\" condition: #short > 10 }\n"
         "rule Long { strings: $long = \"long-needle-text\" condition: $long }\n";
  auto rules = YaraRules::Compile({dir_ + "/often.yar"});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  Engine engine({}, {*rules}, ScanOptions{});
  auto w = engine.NewWorker();
  constexpr size_t kPast = 1'000'001;
  std::string data;
  data.reserve(kPast * 18);
  for (size_t i = 0; i < kPast; ++i) data += "ab";
  for (size_t i = 0; i < kPast; ++i) data += "long-needle-text";
  FileReport r = engine.ScanBuffer(*w, data, "often.bin");
  EXPECT_TRUE(r.error.empty()) << r.error;
  std::vector<std::string> got;
  for (const auto& f : r.findings) got.push_back(f.name + " " + f.kind + " " + f.source);
  std::sort(got.begin(), got.end());
  const std::vector<std::string> want = {
      "Heuristics.Limits.Exceeded.MaxStringMatches limit $long",
      "Heuristics.Limits.Exceeded.MaxStringMatches limit $short",
      "Long yara " + dir_ + "/often.yar",
      "Short yara " + dir_ + "/often.yar",
  };
  EXPECT_EQ(got, want);
  // Under the cap: the rules, no finding of it.
  FileReport under =
      engine.ScanBuffer(*w, std::string(20, 'a') + "abababababababababababab long-needle-text", "x");
  std::vector<std::string> names;
  for (const auto& f : under.findings) names.push_back(f.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"Long", "Short"}));
}

TEST_F(EngineTest, ScanFileReadsWhatIsThere) {
  Engine engine = Make();
  auto w = engine.NewWorker();
  std::string p = dir_ + "/evil.bin";
  std::ofstream(p) << kEvil;
  FileReport r = engine.ScanFile(*w, p);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.size, std::string(kEvil).size());
  EXPECT_TRUE(r.detected());
  FileReport missing = engine.ScanFile(*w, dir_ + "/nope");
  EXPECT_NE(missing.error.find("cannot open"), std::string::npos);
}

// One worker reads files of growing and shrinking sizes into the buffer it reuses (grown without
// being cleared): each scan sees exactly its own file's bytes, never what an earlier, longer file
// left beyond them ("...MAR" after "...MARK": not one byte more), and its digest is of those
// bytes. The first file is empty, read into no buffer yet.
TEST_F(EngineTest, AReusedReadBufferHoldsOnlyEachFilesOwnBytes) {
  Engine engine = Make();
  auto w = engine.NewWorker();
  const std::string big = std::string(300000, 'x') + "MARK", small(1000, 'x'),
                    bigger = std::string(700000, 'y') + "MAR", biggest = "MARK" + std::string(2000000, 'z'),
                    mark = std::string(5000, 'x') + "MARK", mar = std::string(5000, 'x') + "MAR";
  struct Case {
    std::string name, bytes;
    bool marked;
  } cases[] = {{"empty0", "", false},     {"big", big, true},         {"small", small, false},
               {"bigger", bigger, false}, {"biggest", biggest, true}, {"small2", small, false},
               {"mark", mark, true},      {"mar", mar, false},        {"empty", "", false}};
  for (const Case& c : cases) {
    std::string p = dir_ + "/" + c.name;
    std::ofstream(p, std::ios::binary) << c.bytes;
    FileReport r = engine.ScanFile(*w, p);
    EXPECT_TRUE(r.error.empty()) << c.name << ": " << r.error;
    EXPECT_EQ(r.size, c.bytes.size()) << c.name;
    EXPECT_EQ(r.bytes_scanned, c.bytes.size()) << c.name;
    EXPECT_EQ(r.sha256, HexEncode(crypto::AsView(crypto::Sha256(c.bytes)))) << c.name;
    EXPECT_EQ(r.detected(), c.marked) << c.name;
  }
}

// ScanOptions::file_digests off (text output without a cache): a clean file is not hashed and its
// report names no SHA-256; a file a rule matched is, and its report and findings carry it; with a
// database that looks digests up, every file is hashed as before. No verdict changes.
TEST_F(EngineTest, WithoutFileDigestsOnlyFilesWithFindingsNameTheirDigest) {
  auto rules = YaraRules::Compile({dir_ + "/r.yar"});
  ASSERT_TRUE(rules.ok());
  ScanOptions lean;
  lean.file_digests = false;
  std::string clean = dir_ + "/clean.txt", marked = dir_ + "/marked.txt";
  std::ofstream(clean) << "nothing here";
  std::ofstream(marked) << kEvil;
  const std::string sha_clean = HexEncode(crypto::AsView(crypto::Sha256(std::string("nothing here"))));
  const std::string sha_marked = HexEncode(crypto::AsView(crypto::Sha256(kEvil)));
  Engine rules_only({}, {*rules}, lean);
  auto w = rules_only.NewWorker();
  FileReport c = rules_only.ScanFile(*w, clean);
  EXPECT_FALSE(c.detected());
  EXPECT_EQ(c.sha256, "");
  FileReport m = rules_only.ScanFile(*w, marked);
  ASSERT_EQ(m.findings.size(), 1u);
  EXPECT_EQ(m.findings[0].name, "Marked");
  EXPECT_EQ(m.findings[0].item_sha256, sha_marked);
  EXPECT_EQ(m.sha256, sha_marked);
  // A member's finding is the member's: the container file itself stays unhashed.
  FileReport z = rules_only.ScanBuffer(*w, Zip("x.bin", kEvil), "a.zip");
  ASSERT_EQ(z.findings.size(), 1u);
  EXPECT_EQ(z.sha256, "");
  // A database with hash signatures: every file is hashed, clean ones too.
  DatabaseBuilder b;
  ASSERT_TRUE(AddHashFile(b, dir_ + "/t.hsb").ok());
  auto image = b.Build();
  ASSERT_TRUE(image.ok());
  auto db = Database::OpenBytes(std::move(image).value(), "test");
  ASSERT_TRUE(db.ok());
  Engine with_hashes({*db}, {*rules}, lean);
  auto w2 = with_hashes.NewWorker();
  EXPECT_EQ(with_hashes.ScanFile(*w2, clean).sha256, sha_clean);
  FileReport h = with_hashes.ScanFile(*w2, marked);
  EXPECT_EQ(h.sha256, sha_marked);
  EXPECT_EQ(h.findings.size(), 2u);  // Test.Evil and Marked
  // The default: every file's report names its digest.
  Engine full({}, {*rules}, ScanOptions{});
  auto w3 = full.NewWorker();
  EXPECT_EQ(full.ScanFile(*w3, clean).sha256, sha_clean);
}

// Members with the same bytes: the second gets the first's YARA outcome unscanned when the rules
// cannot tell their names apart, and is scanned when they can; every member keeps its own path.
// --scan-duplicates (share_member_scans off) scans them all, with the same findings.
TEST_F(EngineTest, MembersWithTheSameBytesShareAScanUnlessTheirNamesDiffer) {
  std::ofstream(dir_ + "/n.yar")
      << "rule Marked { strings: $a = \"MARK\" condition: $a }\n"
      << "rule NamedA { strings: $a = \"MARK\" condition: $a and filename == \"a.bin\" }\n";
  auto rules = YaraRules::Compile({dir_ + "/n.yar"});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const std::string zip = Zip(
      {{"x/b.bin", kEvil}, {"y/b.bin", kEvil}, {"a.bin", kEvil}, {"z/b.bin", "clean"}, {"w/b.bin", "clean"}});
  auto lines = [](const FileReport& r) {
    std::vector<std::string> out;
    for (const Finding& f : r.findings) out.push_back(f.path + " " + f.name);
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<std::string> want = {"m.zip!a.bin Marked", "m.zip!a.bin NamedA", "m.zip!x/b.bin Marked",
                                         "m.zip!y/b.bin Marked"};
  Engine shared({}, {*rules}, ScanOptions{});
  auto w = shared.NewWorker();
  EXPECT_EQ(lines(shared.ScanBuffer(*w, zip, "m.zip")), want);
  // y/b.bin from x/b.bin's scan, w/b.bin from z/b.bin's; a.bin's name sets NamedA apart.
  EXPECT_EQ(shared.shared_member_scans(), 2u);
  // Another file's members: the memo lives as long as the engine.
  EXPECT_EQ(lines(shared.ScanBuffer(*w, Zip("q/b.bin", kEvil), "n.zip")),
            std::vector<std::string>{"n.zip!q/b.bin Marked"});
  EXPECT_EQ(shared.shared_member_scans(), 3u);
  ScanOptions every;
  every.share_member_scans = false;
  Engine each({}, {*rules}, every);
  auto w2 = each.NewWorker();
  EXPECT_EQ(lines(each.ScanBuffer(*w2, zip, "m.zip")), want);
  EXPECT_EQ(each.shared_member_scans(), 0u);
}

// With a database of YARA rules only, a member is not hashed unless a rule matches it; the
// findings about it carry its SHA-256 all the same (and a scan without a database, none).
TEST_F(EngineTest, MembersAYaraRuleMatchesCarryTheirDigest) {
  auto image = DatabaseBuilder().Build();
  ASSERT_TRUE(image.ok());
  auto db = Database::OpenBytes(std::move(image).value(), "empty");
  ASSERT_TRUE(db.ok());
  auto rules = YaraRules::Compile({dir_ + "/r.yar"});
  ASSERT_TRUE(rules.ok());
  const std::string sha = HexEncode(crypto::AsView(crypto::Sha256(kEvil)));
  Engine with_db({*db}, {*rules}, ScanOptions{});
  auto w = with_db.NewWorker();
  FileReport r = with_db.ScanBuffer(*w, Zip({{"clean.txt", "nothing here"}, {"dir/x.bin", kEvil}}), "a.zip");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "a.zip!dir/x.bin");
  EXPECT_EQ(r.findings[0].kind, "yara");
  EXPECT_EQ(r.findings[0].item_sha256, sha);
  Engine rules_only({}, {*rules}, ScanOptions{});
  auto w2 = rules_only.NewWorker();
  FileReport r2 = rules_only.ScanBuffer(*w2, Zip("dir/x.bin", kEvil), "a.zip");
  ASSERT_EQ(r2.findings.size(), 1u);
  EXPECT_EQ(r2.findings[0].item_sha256, "");
}

// A walk stat'ed a regular file; by the time a worker opens it, it is a symbolic link to a file
// the walk would not enter. Read as met in a walk, the link is refused, nothing of its target is
// read or reported; named by the user, it is followed.
TEST_F(EngineTest, ALinkMetInAWalkIsNotFollowed) {
  Engine engine = Make();
  auto w = engine.NewWorker();
  std::string target = dir_ + "/evil.bin", link = dir_ + "/swapped";
  std::ofstream(target) << kEvil;
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  bool read = true;
  FileReport walked = engine.ReadFile(*w, link, false, &read);
  EXPECT_FALSE(read);
  EXPECT_EQ(walked.error, "cannot open: now a symbolic link, not followed");
  EXPECT_EQ(walked.size, 0u);
  EXPECT_TRUE(walked.sha256.empty());
  EXPECT_FALSE(walked.detected());
  FileReport named = engine.ReadFile(*w, link, true, &read);
  EXPECT_TRUE(read);
  EXPECT_TRUE(named.error.empty());
  engine.ScanRead(*w, named);
  EXPECT_TRUE(named.detected());
  EXPECT_TRUE(engine.ScanFile(*w, link).detected());  // ScanFile: a path the caller names
}

// Text-like bytes, the kind of input TLSH separates well.
std::string Prose(uint64_t seed, size_t size) {
  static const char* kWords[] = {"invoice", "payment", "macro", "enable", "content",  "document", "open",
                                 "account", "urgent",  "click", "below",  "attached", "file",     "the",
                                 "and",     "your",    "to",    "of",     "please",   "view",     "now"};
  std::string out;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  while (out.size() < size) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out += kWords[x % std::size(kWords)];
    out += x % 11 == 0 ? ".\n" : " ";
  }
  out.resize(size);
  return out;
}

TEST_F(EngineTest, TlshFindsAVariantAnywhereAndNamesItsSourceAndDistance) {
  std::string sample = Prose(1, 6000);
  std::optional<TlshDigest> digest = ComputeTlsh(sample);
  ASSERT_TRUE(digest);
  std::ofstream(dir_ + "/variants.tlsh") << "# a known sample\n"
                                         << digest->ToString() << ":40:Test.Variant.Prose\n";
  DatabaseBuilder b;
  ASSERT_TRUE(AddTlshFile(b, dir_ + "/variants.tlsh").ok());
  auto db = Database::OpenBytes(*b.Build(), "tlsh");
  ASSERT_TRUE(db.ok());
  Engine engine({*Database::OpenBytes(*DatabaseBuilder().Build(), "none"), *db}, {}, ScanOptions{});
  EXPECT_EQ(engine.signature_count(), 1u);
  auto w = engine.NewWorker();

  std::string variant = sample;
  variant.replace(2000, 30, "a line the attacker changed...");
  variant += "one more sentence at the end.\n";
  uint32_t distance = TlshDistance(*digest, *ComputeTlsh(variant));
  ASSERT_GT(distance, 0u);
  ASSERT_LE(distance, 40u);

  FileReport r = engine.ScanBuffer(*w, variant, "variant.txt");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "variant.txt");
  EXPECT_EQ(r.findings[0].name, "Test.Variant.Prose");
  EXPECT_EQ(r.findings[0].kind, "tlsh");
  EXPECT_EQ(r.findings[0].source, "variants.tlsh");
  EXPECT_EQ(r.findings[0].distance, distance);
  EXPECT_TRUE(r.detected());
  EXPECT_NE(FormatJson(r).find("\"distance\":" + std::to_string(distance)), std::string::npos)
      << FormatJson(r);
  EXPECT_EQ(FormatText(r, false), "variant.txt: Test.Variant.Prose FOUND\n");

  // A container member is hashed as an item of its own; the container itself is not near.
  FileReport z = engine.ScanBuffer(*w, Zip("docs/v.txt", variant), "mail.zip");
  ASSERT_EQ(z.findings.size(), 1u) << FormatJson(z);
  EXPECT_EQ(z.findings[0].path, "mail.zip!docs/v.txt");
  EXPECT_EQ(z.findings[0].kind, "tlsh");

  // An unrelated text of the same size; too short a copy; one byte repeated: no TLSH finding.
  EXPECT_TRUE(engine.ScanBuffer(*w, Prose(99, 6000), "other.txt").findings.empty());
  EXPECT_TRUE(engine.ScanBuffer(*w, sample.substr(0, kTlshMinInput - 1), "short.txt").findings.empty());
  EXPECT_TRUE(engine.ScanBuffer(*w, std::string(6000, 'x'), "flat.txt").findings.empty());
  // And the exact sample, at distance 0.
  FileReport same = engine.ScanBuffer(*w, sample, "sample.txt");
  ASSERT_EQ(same.findings.size(), 1u);
  EXPECT_EQ(same.findings[0].distance, 0u);
}

}  // namespace
}  // namespace accord::scan
