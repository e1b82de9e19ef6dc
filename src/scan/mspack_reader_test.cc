#include "scan/mspack_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "scan/container.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// SZDD with LZSS literals only: each control byte's 8 bits are all 1 (a literal follows).
Bytes Szdd(ByteView content, char missing_char, uint32_t declared_length) {
  Bytes out("SZDD\x88\xf0\x27\x33", 8);
  out.push_back('A');
  out.push_back(missing_char);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((declared_length >> (8 * i)) & 0xff));
  for (size_t i = 0; i < content.size(); i += 8) {
    out.push_back('\xff');
    out.append(content.substr(i, 8));
  }
  return out;
}
Bytes Szdd(ByteView content, char missing_char = 'E') {
  return Szdd(content, missing_char, static_cast<uint32_t>(content.size()));
}

// KWAJ, stored (compression type 0), with a file name and extension in the header.
Bytes KwajStored(ByteView content, std::string_view name, std::string_view ext) {
  Bytes opt;
  opt.append(name).push_back('\0');
  opt.append(ext).push_back('\0');
  Bytes out("KWAJ\x88\xf0\x27\xd1", 8);
  uint16_t data_offset = static_cast<uint16_t>(14 + opt.size());
  for (uint16_t v : {uint16_t{0}, data_offset, uint16_t{0x08 | 0x10}}) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>(v >> 8));
  }
  return out + opt + Bytes(content);
}

const Bytes kPayload = "MZ this stands for an executable, long enough for several LZSS control bytes";

TEST(MspackReaderTest, SzddYieldsItsFileNamedFromTheMissingCharacter) {
  Bytes szdd = Szdd(kPayload);
  ASSERT_TRUE(LooksLikeSzdd(szdd));
  ReaderOptions options;
  options.container_name = "CLAM.EX_";
  Collected c;
  ASSERT_TRUE(ReadSzdd(szdd, options, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "CLAM.EXE");
  EXPECT_EQ(c.members[0].data, kPayload);

  options.container_name = "clam.exe.szdd";
  Collected c2;
  ASSERT_TRUE(ReadSzdd(szdd, options, c2.Sink()).ok());
  EXPECT_EQ(c2.members.at(0).name, "clam.exe");
}

TEST(MspackReaderTest, SzddIsOpenedByTheWalkerByContent) {
  WalkResult w = WalkAll(Szdd(kPayload), "whatever.bin");
  EXPECT_EQ(w.Data("whatever.bin!data"), kPayload);
  EXPECT_TRUE(w.events.empty());
}

TEST(MspackReaderTest, SzddOutputIsCappedAndReported) {
  ReaderOptions options;
  options.max_member_bytes = 10;
  Collected c;
  ASSERT_TRUE(ReadSzdd(Szdd(kPayload), options, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].data, kPayload.substr(0, 10));

  ContainerLimits limits;
  limits.max_file_size = 16;
  WalkResult w = WalkAll(Szdd(kPayload), "X.EX_", limits);
  EXPECT_EQ(w.Data("X.EX_!X.EXE"), kPayload.substr(0, 16));
  EXPECT_TRUE(w.HasEvent(kMaxFileSize));
}

TEST(MspackReaderTest, TruncatedSzddIsBrokenAndKeepsWhatCameBefore) {
  Bytes szdd = Szdd(kPayload);
  for (size_t cut = 0; cut < szdd.size(); ++cut) {
    WalkResult w = WalkAll(szdd.substr(0, cut), "t.szdd");
    if (!LooksLikeSzdd(szdd.substr(0, cut))) continue;
    // A cut in the header is damage; a cut in the data either yields a shorter file or damage.
    EXPECT_TRUE(w.HasEvent("Heuristics.Broken.SZDD") || w.Data("t.szdd!t").size() <= kPayload.size()) << cut;
  }
  WalkResult w = WalkAll(szdd.substr(0, 12), "t.szdd");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.SZDD"));
}

TEST(MspackReaderTest, SzddWithAHugeDeclaredLengthEndsAtTheCap) {
  // 4 GiB declared, 80 bytes of data: ends at the end of the input, without a 4 GiB buffer.
  Bytes szdd = Szdd(kPayload, 'E', 0xffffffffu);
  ReaderOptions options;
  options.max_member_bytes = 1 << 20;
  Collected c;
  Status s = ReadSzdd(szdd, options, c.Sink());
  ASSERT_LE(c.members.size(), 1u);
  if (!c.members.empty()) {
    EXPECT_LE(c.members[0].data.size(), options.max_member_bytes);
  }
  EXPECT_TRUE(s.ok() || !s.message().empty());
}

TEST(MspackReaderTest, KwajStoredYieldsItsFileUnderItsHeaderName) {
  Bytes kwaj = KwajStored(kPayload, "CLAM", "EXE");
  ASSERT_TRUE(LooksLikeKwaj(kwaj));
  WalkResult w = WalkAll(kwaj, "clam.ex_");
  EXPECT_EQ(w.Data("clam.ex_!CLAM.EXE"), kPayload);
  EXPECT_TRUE(w.events.empty());
}

TEST(MspackReaderTest, KwajWithAnUnknownMethodIsUnsupported) {
  Bytes kwaj = KwajStored(kPayload, "CLAM", "EXE");
  kwaj[8] = 9;  // compression type 9
  WalkResult w = WalkAll(kwaj, "k");
  EXPECT_TRUE(w.HasEvent("Heuristics.Unsupported.KWAJ") || w.HasEvent("Heuristics.Broken.KWAJ"));
}

TEST(MspackReaderTest, ChmFromClamavYieldsClamExe) {
  Bytes chm = ReadTestFile("clam.chm");
  if (chm.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikeChm(chm));
  WalkResult w = WalkAll(chm, "clam.chm");
  // The help file stores it as a text file.
  EXPECT_EQ(w.Data("clam.chm!clam.exe.txt"), ReadTestFile("clam.exe"));
  EXPECT_EQ(w.items.size(), 20u);  // the help file and its 19 files, system files included
  EXPECT_TRUE(w.events.empty());
}

TEST(MspackReaderTest, DamagedChmEndsWithAnEventNeverACrash) {
  Bytes chm = ReadTestFile("clam.chm");
  if (chm.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // Every truncation, and a byte flipped every 97 bytes: bounded time, an event or a clean walk.
  for (size_t cut = 8; cut < chm.size(); cut += 61) {
    WalkResult w = WalkAll(chm.substr(0, cut), "c.chm");
    EXPECT_TRUE(w.HasEventPrefix("Heuristics.")) << "cut at " << cut;
  }
  for (size_t at = 8; at < chm.size(); at += 97) {
    Bytes bad = chm;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    (void)WalkAll(bad, "c.chm");
  }
}

TEST(MspackReaderTest, ChmHeaderWithHugeOffsetsIsBroken) {
  Bytes chm = ReadTestFile("clam.chm");
  if (chm.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // The header section table's offsets and lengths (from 0x38) pointed past the end.
  for (size_t at = 0x38; at < 0x58; ++at) chm[at] = '\x7f';
  WalkResult w = WalkAll(chm, "c.chm");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.CHM"));
}

}  // namespace
}  // namespace accord::scan
