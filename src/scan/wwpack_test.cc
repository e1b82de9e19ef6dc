#include "scan/wwpack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scan/pe.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// ClamAV's clam-wwpack.exe: a program whose `.clam` section, packed by WWPack32 1.12, holds a zip
// of clam.exe. The unpacking is right if the zip's CRC-32 holds and clam.exe's bytes come out.
TEST(Wwpack, ClamavTestFileUnpacksToTheZipHoldingClamExe) {
  Bytes ww = ReadTestFile("clam-wwpack.exe"), clam = ReadTestFile("clam.exe");
  if (ww.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikeWwpack(ww));
  Collected c;
  Status s = ReadWwpack(ww, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "WWPack32");
  const Bytes& image = c.members[0].data;
  EXPECT_EQ(image.size(), 0x5000u + 0x400u);  // up to the end of the stub's section (its raw size)
  EXPECT_FALSE(LooksLikeWwpack(image)) << "the image is not unpacked again";
  // .text (not packed) is at its RVA as it was in the file; .clam is unpacked: a zip, then zeros
  // up to the section's end, which the stub clears.
  EXPECT_EQ(image.substr(0x1000, 0xf7), ww.substr(0x400, 0xf7));
  size_t zip = image.find("PK\x03\x04");
  ASSERT_NE(zip, Bytes::npos);
  EXPECT_GE(zip, 0x4000u);
  WalkResult w = WalkAll(ww, "clam-wwpack.exe");
  EXPECT_TRUE(w.Contains(clam));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken.Zip"));
}

// Damage: every cut of the packed data, and every flipped byte of it, ends in a clear status or a
// member, never past the image; a decoder other than 1.12's is Unimplemented.
TEST(Wwpack, DamageEndsInAStatus) {
  Bytes ww = ReadTestFile("clam-wwpack.exe");
  if (ww.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  for (size_t at = 0xa00; at < 0xa00 + 0x18c; at += 7) {
    Bytes bad = ww;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    Collected c;
    Status s = ReadWwpack(bad, {}, c.Sink());
    EXPECT_TRUE(s.ok() || s.code() == Code::kDataLoss) << at << ": " << s.ToString();
    if (!s.ok()) {
      EXPECT_TRUE(c.members.empty()) << at;
    }
  }
  Bytes other = ww;
  other[0xc00 + 0x100] = static_cast<char>(other[0xc00 + 0x100] ^ 1);  // inside the decoder's code
  Collected c;
  EXPECT_TRUE(LooksLikeWwpack(other));
  EXPECT_EQ(ReadWwpack(other, {}, c.Sink()).code(), Code::kUnimplemented);
  EXPECT_TRUE(c.members.empty());
  // The records say the block is 0x63 words; say 0x7fffffff instead.
  Bytes huge = ww;
  PutLe(huge, 0xc00 + 0x2a1 + 8, 0x7fffffff, 4);
  EXPECT_EQ(ReadWwpack(huge, {}, c.Sink()).code(), Code::kDataLoss);
  EXPECT_FALSE(LooksLikeWwpack(ReadTestFile("clam-upx.exe")));
  EXPECT_EQ(ReadWwpack("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

}  // namespace
}  // namespace accord::scan
