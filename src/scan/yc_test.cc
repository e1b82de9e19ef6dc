#include "scan/yc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scan/pe.h"
#include "scan/reader_test_util.h"
#include "scan/upx.h"

namespace accord::scan {
namespace {

// ClamAV's clam-yc.exe: yC 1.3 over a UPX-packed dropper that holds clam.exe. The decryption is
// right if UPX's Adler-32 of the packed data then matches and the dropper yields clam.exe's bytes.
TEST(Yc, ClamavTestFileDecryptsToTheUpxProgramHoldingClamExe) {
  Bytes yc = ReadTestFile("clam-yc.exe"), clam = ReadTestFile("clam.exe");
  if (yc.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  EXPECT_TRUE(LooksLikeYc(yc));
  Collected broken;  // UPX's pack header is in the clear, the data it describes encrypted
  EXPECT_EQ(ReadUpx(yc, {}, broken.Sink()).code(), Code::kDataLoss);
  Collected c;
  ASSERT_TRUE(ReadYc(yc, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  const Bytes& program = c.members[0].data;
  EXPECT_EQ(c.members[0].name, "yC");
  EXPECT_EQ(program.size(), yc.size());
  EXPECT_FALSE(LooksLikeYc(program)) << "a decrypted program is not decrypted again";
  ASSERT_TRUE(LooksLikeUpx(program));
  Collected u;
  ASSERT_TRUE(ReadUpx(program, {}, u.Sink()).ok());  // the Adler-32 of the packed and unpacked data
  bool found = false;
  for (const auto& m : u.members) found = found || m.data == clam;
  EXPECT_TRUE(found);
  // Only the program's sections changed: headers and resources are as they were.
  std::optional<PeImage> pe = ParsePe(yc);
  ASSERT_TRUE(pe);
  EXPECT_EQ(program.substr(0, 0x400), yc.substr(0, 0x400));
  for (const PeSection& s : pe->sections) {
    bool same = program.substr(s.raw_offset, s.raw_size) == yc.substr(s.raw_offset, s.raw_size);
    if (s.name.starts_with("UPX1")) {
      EXPECT_FALSE(same) << "decrypted";
    } else if (s.name.starts_with(".rsrc")) {
      EXPECT_TRUE(same) << "resources are not encrypted";
    }
  }
}

TEST(Yc, WalkerReachesClamExeThroughYcAndUpx) {
  Bytes yc = ReadTestFile("clam-yc.exe"), clam = ReadTestFile("clam.exe");
  if (yc.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(yc, "clam-yc.exe");
  EXPECT_EQ(w.Data("clam-yc.exe!yC!UPX@15840"), clam);
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Limits")) << "no recursion into its own output";
}

// A cipher step accord does not emulate (sbb al, cl in place of sub al, cl): reported, nothing
// yielded. A file cut before its stub (the crypter appends it): reported, nothing yielded.
TEST(Yc, UnknownStepIsUnimplementedAndTruncationIsDataLoss) {
  Bytes yc = ReadTestFile("clam-yc.exe");
  if (yc.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  std::optional<PeImage> pe = ParsePe(yc);
  ASSERT_TRUE(pe);
  size_t ep = *PeOffsetOf(*pe, pe->entry_rva, yc.size());
  size_t sub = yc.find(std::string_view("\xac\x2a\xc1", 3), ep);  // lodsb; sub al, cl
  ASSERT_NE(sub, Bytes::npos);
  Bytes odd = yc;
  odd[sub + 1] = '\x1a';  // sbb al, cl
  Collected c;
  Status s = ReadYc(odd, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kUnimplemented) << s.ToString();
  EXPECT_TRUE(c.members.empty());

  Bytes cut = yc.substr(0, 0x700);  // UPX1 is 0x400..0xa00
  Collected t;
  s = ReadYc(cut, {}, t.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();  // the stub lies past the cut
  EXPECT_TRUE(t.members.empty());
}

// Sections that overlap (UPX0 given UPX1's data, both 4 KiB): refused before anything is decrypted,
// so a small file cannot make the reader decrypt its bytes many times over. A file cut inside its
// stub is not taken for yC at all (a member cut at the member cap is not reported as broken).
TEST(Yc, OverlappingSectionsAndACutStub) {
  Bytes yc = ReadTestFile("clam-yc.exe");
  if (yc.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  std::optional<PeImage> pe = ParsePe(yc);
  ASSERT_TRUE(pe);
  size_t table = Le32(yc, 0x3c) + 24 + Le16(yc, Le32(yc, 0x3c) + 20);
  Bytes overlap = yc;
  for (size_t i : {size_t{0}, size_t{1}}) {  // UPX0, UPX1
    PutLe(overlap, table + 40 * i + 16, 0x1000, 4);
    PutLe(overlap, table + 40 * i + 20, 0x400, 4);
  }
  Collected c;
  Status s = ReadYc(overlap, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("overlap"));
  EXPECT_TRUE(c.members.empty());

  Bytes cut = yc.substr(0, 0xd00);  // the entry point (0xc60) is there, the stub's region is not
  EXPECT_FALSE(LooksLikeYc(cut));
  EXPECT_EQ(ReadYc(cut, {}, c.Sink()).code(), Code::kDataLoss);
}

TEST(Yc, NotYc) {
  Collected c;
  EXPECT_FALSE(LooksLikeYc("MZ"));
  EXPECT_EQ(ReadYc("MZ", {}, c.Sink()).code(), Code::kDataLoss);
  Bytes upx = ReadTestFile("clam-upx.exe");
  if (!upx.empty()) {
    EXPECT_FALSE(LooksLikeYc(upx));
  }
  EXPECT_TRUE(c.members.empty());
}

}  // namespace
}  // namespace accord::scan
