// ScanMemo: who scans, who waits, who is answered, and what a report the memo does not keep does.
#include "scan/memo.h"

#include <gtest/gtest.h>

#include "core/bytes.h"
#include "scan/member_memo.h"

namespace accord::scan {
namespace {

FileReport Read(const std::string& path) {
  FileReport r;
  r.path = path;
  r.size = 4;
  return r;
}

// What the scan of a file read as `r` with content digest `digest` reports, with no finding.
FileReport Scanned(FileReport r, const std::string& digest) {
  r.sha256 = HexEncode(digest);
  return r;
}

// A size is unique only once the walk is over, and only if one file had it; a size never walked
// is not (the file's size changed since the walk: it may be anyone's).
TEST(SizeCensus, ASizeIsUniqueOnlyOnceTheWalkIsOverAndOnlyOnce) {
  SizeCensus c;
  c.Add(10);
  c.Add(20);
  c.Add(20);
  c.Add(0);
  EXPECT_FALSE(c.Unique(10));  // a file still to come may have 10 bytes
  c.Finish();
  EXPECT_TRUE(c.Unique(10));
  EXPECT_TRUE(c.Unique(0));
  EXPECT_FALSE(c.Unique(20));
  EXPECT_FALSE(c.Unique(30));
}

// Past its cap, a new size is not counted, and so never unique; those counted stay as they were.
TEST(SizeCensus, ASizeMetPastTheCapIsNeverUnique) {
  SizeCensus c;
  for (uint64_t s = 0; s < accord::limits::kMaxSizeCensusSizes; ++s) c.Add(s);
  c.Add(uint64_t{1} << 40);
  c.Finish();
  EXPECT_TRUE(c.Unique(7));
  EXPECT_FALSE(c.Unique(uint64_t{1} << 40));
}

// The first member of a content is scanned; while it is, others are scanned too; once complete,
// others get its outcomes and externals (and its key, once a caller gave it). Outcomes that may not
// be reused are not; past the cap, nothing new is remembered.
TEST(MemberMemo, TheFirstIsScannedTheOthersGetItsOutcomes) {
  using Kind = MemberMemo::Claim::Kind;
  MemberMemo m(2);
  YaraExternals a, b;
  a.filename = "a.o";
  b.filename = "b.o";
  EXPECT_EQ(m.Take("D1", a).kind, Kind::kFirst);
  EXPECT_EQ(m.Take("D1", b).kind, Kind::kScanIt);  // still being scanned
  YaraScanner::Outcome o;
  o.matches.push_back({"Rule", "r.yar"});
  m.Complete("D1", MemberMemo::Outcomes{o});
  MemberMemo::Claim c = m.Take("D1", b);
  ASSERT_EQ(c.kind, Kind::kSeen);
  EXPECT_EQ(c.first.filename, "a.o");
  EXPECT_FALSE(c.first_key.has_value());
  ASSERT_EQ(c.outcomes->size(), 1u);
  EXPECT_EQ((*c.outcomes)[0].matches[0].rule, "Rule");
  m.RememberKey("D1", "key-a");
  EXPECT_EQ(m.Take("D1", b).first_key, std::optional<std::string>("key-a"));
  EXPECT_EQ(m.Take("D2", a).kind, Kind::kFirst);
  m.Complete("D2", std::nullopt);  // timed out, say: not kept
  EXPECT_EQ(m.Take("D2", b).kind, Kind::kScanIt);
  EXPECT_EQ(m.Take("D3", a).kind, Kind::kScanIt);  // two contents: full
  EXPECT_EQ(m.shared(), 0u);
  m.CountShared();
  EXPECT_EQ(m.shared(), 1u);
}

// Past its byte budget, a content is not remembered, nor an outcome kept.
TEST(MemberMemo, HoldsAtMostItsBytes) {
  using Kind = MemberMemo::Claim::Kind;
  MemberMemo m(100, 1000);
  YaraExternals small, big;
  small.filename = "a.o";
  big.filepath = std::string(2000, 'p');  // a member's path is the archive's to choose
  EXPECT_EQ(m.Take("D1", big).kind, Kind::kScanIt);
  EXPECT_EQ(m.Take("D2", small).kind, Kind::kFirst);
  YaraScanner::Outcome o;
  o.matches.push_back({std::string(2000, 'r'), "r.yar"});
  m.Complete("D2", MemberMemo::Outcomes{o});
  EXPECT_EQ(m.Take("D2", small).kind, Kind::kScanIt);  // its outcome did not fit: not kept
}

TEST(ScanMemo, TheFirstScansTheSameKeyWaitsOrIsAnswered) {
  ScanMemo memo;
  // The key: the name's first letter, as a rule reading `filename startswith "a"` would see it.
  auto key_of = [](const FileReport& r) { return r.path.substr(r.path.rfind('/') + 1, 1); };
  uint64_t t1 = 0, t2 = 0, unused = 0;
  FileReport a1 = Read("/x/a1"), a2 = Read("/y/a2"), b1 = Read("/x/b1"), other = Read("/x/a3");
  EXPECT_EQ(memo.Take("D", a1, {}, key_of, &t1), ScanMemo::Claim::kScan);
  EXPECT_EQ(memo.Take("D", a2, {}, key_of, &unused), ScanMemo::Claim::kWaiting);
  EXPECT_EQ(memo.Take("D", b1, {}, key_of, &t2), ScanMemo::Claim::kScan);         // another key
  EXPECT_EQ(memo.Take("E", other, {}, key_of, &unused), ScanMemo::Claim::kScan);  // other bytes
  EXPECT_EQ(memo.size(), 3u);

  a1.sha256 = HexEncode("D");
  a1.bytes_scanned = 9;
  a1.findings.push_back({"/x/a1", "Rule", "yara", "r.yar"});
  a1.findings.push_back({"/x/a1!inner/m", "Sig", "sha256", "h.hsb"});
  ScanMemo::Completed done = memo.Complete(t1, a1);
  ASSERT_EQ(done.answered.size(), 1u);
  EXPECT_TRUE(done.unanswered.empty());
  const FileReport& got = done.answered[0].report;
  EXPECT_EQ(got.path, "/y/a2");
  EXPECT_EQ(got.sha256, "44");
  EXPECT_EQ(got.bytes_scanned, 9u);
  ASSERT_EQ(got.findings.size(), 2u);
  EXPECT_EQ(got.findings[0].path, "/y/a2");
  EXPECT_EQ(got.findings[1].path, "/y/a2!inner/m");
  EXPECT_EQ(got.findings[1].name, "Sig");

  FileReport a4 = Read("/z/a4");
  EXPECT_EQ(memo.Take("D", a4, {}, key_of, &unused), ScanMemo::Claim::kAnswered);
  EXPECT_EQ(a4.findings.size(), 2u);
  EXPECT_EQ(a4.findings[0].path, "/z/a4");

  // A report the memo does not keep (damage: a lack of memory could explain it): whoever waited
  // is handed back to be scanned, and the next file with those bytes is scanned too.
  FileReport b2 = Read("/y/b2");
  EXPECT_EQ(memo.Take("D", b2, {}, key_of, &unused), ScanMemo::Claim::kWaiting);
  b1.findings.push_back({"/x/b1", "Heuristics.Broken.Mail", "corrupt", "truncated"});
  done = memo.Complete(t2, Scanned(b1, "D"));
  EXPECT_TRUE(done.answered.empty());
  ASSERT_EQ(done.unanswered.size(), 1u);
  EXPECT_EQ(done.unanswered[0].report.path, "/y/b2");
  FileReport b3 = Read("/y/b3");
  EXPECT_EQ(memo.Take("D", b3, {}, key_of, &unused), ScanMemo::Claim::kScan);
}

TEST(ScanMemo, KeepsOneContentUnderAtMostSoManyKeys) {
  ScanMemo memo;
  auto key_of = [](const FileReport& r) { return r.path; };  // every path its own key
  for (size_t i = 0; i <= accord::limits::kMaxScanMemoVariants; ++i) {
    FileReport r = Read("/" + std::to_string(i));
    uint64_t t = 99;
    ASSERT_EQ(memo.Take("D", r, {}, key_of, &t), ScanMemo::Claim::kScan);
    // The last is scanned without a place in the memo (ticket 0): Complete keeps nothing of it.
    EXPECT_EQ(t == 0, i == accord::limits::kMaxScanMemoVariants) << i;
    memo.Complete(t, Scanned(r, "D"));
  }
  EXPECT_EQ(memo.size(), accord::limits::kMaxScanMemoVariants);
}

// A report with members named after its file (a raw gzip stream: a.gz holds "a") answers only for
// files of the same name; a file of another name that waited for it is handed back.
TEST(ScanMemo, AReportNamedAfterItsFileAnswersOnlyForThatName) {
  ScanMemo memo;
  auto key_of = [](const FileReport&) { return std::string(); };  // no rule tells the names apart
  uint64_t t = 0, unused = 0;
  FileReport a = Read("/x/a.gz"), b = Read("/y/b.exe.gz"), same = Read("/y/a.gz");
  ASSERT_EQ(memo.Take("G", a, {}, key_of, &t), ScanMemo::Claim::kScan);
  ASSERT_EQ(memo.Take("G", b, {}, key_of, &unused), ScanMemo::Claim::kWaiting);
  ASSERT_EQ(memo.Take("G", same, {}, key_of, &unused), ScanMemo::Claim::kWaiting);
  FileReport scanned = Scanned(a, "G");
  scanned.named_after_top = true;
  scanned.findings.push_back({"/x/a.gz!a", "Rule", "yara", "r.yar"});
  ScanMemo::Completed done = memo.Complete(t, scanned);
  ASSERT_EQ(done.unanswered.size(), 1u);
  EXPECT_EQ(done.unanswered[0].report.path, "/y/b.exe.gz");
  ASSERT_EQ(done.answered.size(), 1u);
  EXPECT_EQ(done.answered[0].report.findings.at(0).path, "/y/a.gz!a");
  FileReport later = Read("/z/b.exe.gz");
  EXPECT_EQ(memo.Take("G", later, {}, key_of, &t), ScanMemo::Claim::kScan);
  EXPECT_NE(t, 0u);
}

// What the memo holds stays under its budget: a report holding more than 1/64 of it is not kept,
// and older ones go to make room.
TEST(ScanMemo, HoldsAtMostItsBudget) {
  ScanMemo memo(1000, 64 * 4096);
  auto key_of = [](const FileReport&) { return std::string(); };
  uint64_t t = 0;
  FileReport big = Read("/big");
  ASSERT_EQ(memo.Take("B", big, {}, key_of, &t), ScanMemo::Claim::kScan);
  FileReport scanned = Scanned(big, "B");
  for (int i = 0; i < 50; ++i)
    scanned.findings.push_back({"/big!m" + std::to_string(i), "Rule", "yara", "r.yar"});
  memo.Complete(t, scanned);
  FileReport again = Read("/again");
  EXPECT_EQ(memo.Take("B", again, {}, key_of, &t), ScanMemo::Claim::kScan);  // not kept
  EXPECT_EQ(memo.size(), 1u);                                                // the second, being scanned
  memo.Complete(t, Scanned(again, "B"));
  for (int i = 0; i < 2000; ++i) {
    std::string d = "content" + std::to_string(i);
    FileReport r = Read("/" + d);
    ASSERT_EQ(memo.Take(d, r, {}, key_of, &t), ScanMemo::Claim::kScan);
    memo.Complete(t, Scanned(r, d));
    ASSERT_LE(memo.bytes(), size_t{64 * 4096});
  }
  EXPECT_GT(memo.size(), 100u);
}

TEST(ScanMemo, KeepsAtMostItsEntriesOldestFirst) {
  ScanMemo memo(2);
  auto key_of = [](const FileReport&) { return std::string(); };
  for (std::string d : {"1", "2", "3"}) {
    FileReport r = Read("/" + d);
    uint64_t t = 0;
    ASSERT_EQ(memo.Take(d, r, {}, key_of, &t), ScanMemo::Claim::kScan);
    memo.Complete(t, Scanned(r, d));
  }
  EXPECT_EQ(memo.size(), 2u);
  uint64_t t = 0;
  FileReport again = Read("/again");
  EXPECT_EQ(memo.Take("1", again, {}, key_of, &t), ScanMemo::Claim::kScan);  // dropped
  FileReport three = Read("/three");
  EXPECT_EQ(memo.Take("3", three, {}, key_of, &t), ScanMemo::Claim::kAnswered);
}

}  // namespace
}  // namespace accord::scan
