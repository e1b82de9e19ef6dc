// The progress line: what a user sees on the terminal while `accord scan` runs.
#include "scan/report.h"

#include <gtest/gtest.h>

namespace accord::scan {
namespace {

constexpr uint64_t kMb = 1048576;

TEST(FormatProgress, CountingUntilTheTotalsAreKnown) {
  ProgressCounts c;
  c.files = 120;
  c.bytes = 512 * kMb;
  c.seconds = 4;
  EXPECT_EQ(FormatProgress(c), "120 files, 512.0 MB, 128.0 MB/s, counting...");
}

TEST(FormatProgress, TotalsPercentRateAndEta) {
  ProgressCounts c;
  c.files = 120;
  c.bytes = 256 * kMb;
  c.totals_known = true;
  c.total_files = 8689;
  c.total_bytes = 1024 * kMb;
  c.seconds = 2;  // 128 MB/s, a quarter done: 6 s to go
  EXPECT_EQ(FormatProgress(c), "120/8689 files, 256.0/1024.0 MB (25%), 128.0 MB/s, ETA 0:06");
  c.seconds = 2000;  // a quarter in 2000 s: 6000 s to go
  EXPECT_EQ(FormatProgress(c), "120/8689 files, 256.0/1024.0 MB (25%), 0.1 MB/s, ETA 1:40:00");
  EXPECT_LE(FormatProgress(c).size(), 79u);
}

TEST(FormatProgress, NoEtaBeforeASecondOrAByte) {
  ProgressCounts c;
  c.totals_known = true;
  c.total_files = 10;
  c.total_bytes = 100 * kMb;
  c.seconds = 0.5;
  EXPECT_EQ(FormatProgress(c), "0/10 files, 0.0/100.0 MB (0%), 0.0 MB/s, ETA --:--");
  c.seconds = 3;
  EXPECT_EQ(FormatProgress(c), "0/10 files, 0.0/100.0 MB (0%), 0.0 MB/s, ETA --:--");
}

TEST(FormatProgress, EmptyFilesGoByFileCount) {
  ProgressCounts c;
  c.files = 5;
  c.totals_known = true;
  c.total_files = 10;
  c.seconds = 10;
  EXPECT_EQ(FormatProgress(c), "5/10 files, 0.0/0.0 MB (50%), 0.0 MB/s, ETA 0:10");
}

TEST(FormatProgress, FilesThatAppearedAfterTheCountRaiseTheTotal) {
  ProgressCounts c;
  c.files = 12;
  c.bytes = 30 * kMb;
  c.totals_known = true;
  c.total_files = 10;
  c.total_bytes = 20 * kMb;
  c.seconds = 3;
  EXPECT_EQ(FormatProgress(c), "12/12 files, 30.0/30.0 MB (100%), 10.0 MB/s, ETA 0:00");
}

TEST(FormatProgress, AVeryLongScan) {
  ProgressCounts c;
  c.files = 1;
  c.bytes = 1;
  c.totals_known = true;
  c.total_files = 2;
  c.total_bytes = 1000 * kMb;
  c.seconds = 100;
  EXPECT_EQ(FormatProgress(c), "1/2 files, 0.0/1000.0 MB (0%), 0.0 MB/s, ETA >99h");
}

}  // namespace
}  // namespace accord::scan
