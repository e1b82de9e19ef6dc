#include "scan/autoit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

TEST(AutoItTest, ClamavTestFilesYieldTheScriptAndClamExe) {
  Bytes clam = ReadTestFile("clam.exe");
  if (clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  for (const char* file : {"clam.ea05.exe", "clam.ea06.exe"}) {
    Bytes exe = ReadTestFile(file);
    ASSERT_TRUE(LooksLikeAutoIt(exe)) << file;
    Collected c;
    Status s = ReadAutoIt(exe, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << file << ": " << s.message();
    ASSERT_EQ(c.members.size(), 2u) << file;
    EXPECT_EQ(c.members[0].name, "script");
    // The scripts' sizes as their headers state them (22,502 and 19,921 bytes), whole.
    EXPECT_EQ(c.members[0].data.size(), std::string(file) == "clam.ea05.exe" ? 22502u : 19921u) << file;
    EXPECT_EQ(c.members[1].name, "clam.exe");
    EXPECT_EQ(c.members[1].data, clam) << file;
  }
  // EA05's script is UTF-16 text: the FileInstall line names the installed file.
  Collected c;
  ASSERT_TRUE(ReadAutoIt(ReadTestFile("clam.ea05.exe"), {}, c.Sink()).ok());
  std::string ascii;
  for (size_t i = 0; i < c.members[0].data.size(); i += 2) ascii.push_back(c.members[0].data[i]);
  EXPECT_THAT(ascii, ::testing::HasSubstr("FileInstall"));
}

TEST(AutoItTest, CutsDamageAndCaps) {
  Bytes clam = ReadTestFile("clam.exe"), exe = ReadTestFile("clam.ea06.exe");
  if (clam.empty() || exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // The cap: exactly that many bytes of each member.
  ReaderOptions small;
  small.max_member_bytes = 100;
  Collected capped;
  EXPECT_TRUE(ReadAutoIt(exe, small, capped.Sink()).ok());
  ASSERT_EQ(capped.members.size(), 2u);
  EXPECT_EQ(capped.members[1].data, clam.substr(0, 100));
  // Cut inside clam.exe's data: the script, then DataLoss.
  Collected cut;
  EXPECT_EQ(ReadAutoIt(ByteView(exe).substr(0, exe.size() - 100), {}, cut.Sink()).code(), Code::kDataLoss);
  EXPECT_EQ(cut.members.size(), 1u);
  // Flipped bytes anywhere in the script's data: a clear result, never a crash; clam.exe intact.
  size_t marker = exe.find("AU3!EA06");
  ASSERT_NE(marker, Bytes::npos);
  for (size_t at : {marker + 200, marker + 1000, marker + 3000}) {
    Bytes bad = exe;
    bad[at] ^= 0x40;
    Collected c;
    Status s = ReadAutoIt(bad, {}, c.Sink());
    EXPECT_TRUE(s.ok() || s.code() == Code::kDataLoss) << at;
    ASSERT_EQ(c.members.size(), 2u) << at;
    EXPECT_EQ(c.members[1].data, clam) << at;
  }
  // A decoy marker earlier in the program (with a version, no entries after it) does not hide
  // the script.
  Bytes decoy = exe;
  decoy.replace(0x200, 24, exe.substr(marker - 16, 24));
  Collected d;
  EXPECT_TRUE(ReadAutoIt(decoy, {}, d.Sink()).ok());
  ASSERT_EQ(d.members.size(), 2u);
  EXPECT_EQ(d.members[1].data, clam);
  // Not a program: refused.
  EXPECT_FALSE(LooksLikeAutoIt(exe.substr(2)));
  Collected none;
  EXPECT_EQ(ReadAutoIt(exe.substr(2), {}, none.Sink()).code(), Code::kDataLoss);
  EXPECT_TRUE(none.members.empty());
}

}  // namespace
}  // namespace accord::scan
