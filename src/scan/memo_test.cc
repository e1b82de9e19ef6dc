// ScanMemo: who scans, who waits, who is answered, and what a report the memo does not keep does.
#include "scan/memo.h"

#include <gtest/gtest.h>

namespace accord::scan {
namespace {

FileReport Read(const std::string& path) {
  FileReport r;
  r.path = path;
  r.size = 4;
  return r;
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

  a1.sha256 = "ab";
  a1.bytes_scanned = 9;
  a1.findings.push_back({"/x/a1", "Rule", "yara", "r.yar"});
  a1.findings.push_back({"/x/a1!inner/m", "Sig", "sha256", "h.hsb"});
  ScanMemo::Completed done = memo.Complete(t1, a1);
  ASSERT_EQ(done.answered.size(), 1u);
  EXPECT_TRUE(done.unanswered.empty());
  const FileReport& got = done.answered[0].report;
  EXPECT_EQ(got.path, "/y/a2");
  EXPECT_EQ(got.sha256, "ab");
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
  done = memo.Complete(t2, b1);
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
    memo.Complete(t, r);
  }
  EXPECT_EQ(memo.size(), accord::limits::kMaxScanMemoVariants);
}

TEST(ScanMemo, KeepsAtMostItsEntriesOldestFirst) {
  ScanMemo memo(2);
  auto key_of = [](const FileReport&) { return std::string(); };
  for (std::string d : {"1", "2", "3"}) {
    FileReport r = Read("/" + d);
    uint64_t t = 0;
    ASSERT_EQ(memo.Take(d, r, {}, key_of, &t), ScanMemo::Claim::kScan);
    memo.Complete(t, r);
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
