#include "scan/pespin.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// ClamAV's clam-pespin.exe: PESpin 1.1 over four sections; the fourth, compressed, holds clam.exe
// at 0x4de0 once unpacked, which the walker carves from the image.
TEST(Pespin, ClamavTestFileUnpacksToClamExe) {
  Bytes packed = ReadTestFile("clam-pespin.exe"), clam = ReadTestFile("clam.exe");
  if (packed.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikePespin(packed));
  Collected c;
  Status s = ReadPespin(packed, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "PESpin");
  const Bytes& image = c.members[0].data;
  EXPECT_FALSE(LooksLikePespin(image)) << "the image is not unpacked again";
  EXPECT_EQ(image.substr(0x5087 + 4, 10), Bytes(10, '\0')) << "the stub's first bytes cleared";
  EXPECT_EQ(image.substr(0x4de0, clam.size()), clam);
  // Every section as ClamAV's own unpacker rebuilds them (clamscan --debug --leave-temps: its
  // .clam01-04, SHA-256 of each: the raw data of the first three, decrypted; the fourth unpacked).
  const std::pair<size_t, const char*> clamav[] = {
      {0x200, "fcf6514bc86c84ad47e0b3166b9698cfc7089c5488e45cfe4bf94b8d6b485033"},
      {0x200, "e8a7189e483293dae5de7f3eed8b6c0505d1d99d13257618c73c12824907e06c"},
      {0x200, "42d018198d2dbbe8ffa38aee41771bed33fe8f2fdc969f5fa15adc1105ebc657"},
      {0x1000, "33c85301a0d6d9aca54142096a7d620756723976a00c6d861f684919440bedbb"}};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(0x1000 * (k + 1), clamav[k].first)))),
              clamav[k].second)
        << "section " << k;
  }
  EXPECT_NE(image.find("This is a ClamAV test file with the embedded clam.exe"), Bytes::npos);
  EXPECT_EQ(packed.find("This is a ClamAV test file"), Bytes::npos) << "encrypted in the file";
  WalkResult w = WalkAll(packed, "clam-pespin.exe");
  EXPECT_EQ(w.Data("clam-pespin.exe!PESpin!PE@19936"), clam);
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken"));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Unsupported"));
}

// The byte programs, each form by what its x86 instruction does (worked by hand).
TEST(Pespin, ByteProgramsDoWhatTheirInstructionsDo) {
  auto program = [](Bytes code) {
    code.resize(0x24, '\x90');
    return code + "\xaa";
  };
  // AL = 0x81, CL = 2: rol 3 -> 0x0c; ror 1 -> 0x06; inc -> 0x07; add al, cl -> 0x09;
  // xor 0x0f -> 0x06; sub al, cl -> 0x04; dec -> 0x03; add 0x10 -> 0x13; sub 0x03 -> 0x10;
  // xor al, cl -> 0x12. AL = 0xf0, CL = 1: rol 3 -> 0x87; ror 1 -> 0xc3; inc -> 0xc4; add cl ->
  // 0xc5; xor 0x0f -> 0xca; sub cl -> 0xc9; dec -> 0xc8; add 0x10 -> 0xd8; sub 3 -> 0xd5; xor cl
  // -> 0xd4. The jump over a byte, `or al, al`, nop, clc and stc change nothing.
  const Bytes code(
      "\xc0\xc0\x03\xc0\xc8\x01\xfe\xc0\x02\xc1\x34\x0f\xeb\x01\xff\x2a\xc1\xfe\xc8\x0a\xc0"
      "\x04\x10\xf8\x2c\x03\xf9\x32\xc1",
      29);
  std::optional<Bytes> out = RunPespinProgram(program(code), Bytes("\x81\xf0", 2));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, Bytes("\x12\xd4", 2));
  // Forms accord does not read: another register, a longer jump, a missing end byte, a program
  // running past 0x24 bytes, an unknown opcode.
  for (const Bytes& bad : {program(Bytes("\x02\xc2", 2)), program(Bytes("\xeb\x02\x90\x90", 4)),
                           program(Bytes("\x0a\xc1", 2)), program(Bytes("\xfe\xc1", 2)),
                           program(Bytes("\xc0\xc1\x01", 3)), program("").substr(0, 0x24) + "\xab",
                           Bytes(0x23, '\x90') + "\x34\x01\xaa", program(Bytes("\x8b\xc0", 2))}) {
    EXPECT_FALSE(RunPespinProgram(bad, Bytes("\x01", 1)).has_value()) << HexEncode(bad);
  }
}

// Damage: the packed data flipped (every byte feeds the checksum that keys the sections) ends in
// OK or DataLoss with the image yielded; another version, a password, an unreadable program are
// Unimplemented with nothing yielded; a checksum over the whole file is DataLoss.
TEST(Pespin, DamageEndsInAStatus) {
  Bytes packed = ReadTestFile("clam-pespin.exe");
  if (packed.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  EXPECT_GT(FlipEach(packed, 0xa00, 0xc00, 7, ReadPespin), 30u);
  constexpr size_t e = 0xc87;
  // The layers' keystreams do not depend on the data: XORing the file flips the plain bytes.
  for (auto [at, flip] : {std::pair{e + 0xdb, 0x01},
                          {e + 0xe1, 0x01},
                          {e + 0x26f0, 0x01},
                          {e + 0x644, 0x01},
                          {e + 0x28dd, 0x01},
                          {e + 0x2910, 0x01},
                          {e + 0x1e3, 0x20}}) {
    Bytes other = packed;
    other[at] = static_cast<char>(other[at] ^ flip);
    Collected c;
    Status s = ReadPespin(other, {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kUnimplemented) << at << ": " << s.ToString();
    EXPECT_TRUE(c.members.empty()) << at;
  }
  Bytes whole = packed;  // the checksum's length: the file's size - 0x163, made size - 0
  whole[e + 0x429] = static_cast<char>(whole[e + 0x429] ^ 0x63);
  whole[e + 0x42a] = static_cast<char>(whole[e + 0x42a] ^ 0x01);
  Collected c;
  Status s = ReadPespin(whole, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
  ReaderOptions small;
  small.max_total_bytes = 3 * packed.size() + 0x1000;
  s = ReadPespin(packed, small, c.Sink());
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find("more than the container may still produce"), std::string::npos) << s.message();
  // The compressed section with no data in the file (raw size 0, its offset far past the end):
  // DataLoss, the image still yielded.
  Bytes empty = packed;
  PutLe(empty, 0x1c0 + 3 * 40 + 16, 0, 4);
  PutLe(empty, 0x1c0 + 3 * 40 + 20, 0x10000000, 4);
  c.members.clear();
  s = ReadPespin(empty, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("section 3: compressed, but it has no data in the file"), std::string::npos)
      << s.message();
  EXPECT_EQ(ReadPespin(empty, {}, Declining()).code(), Code::kDataLoss) << "the member declined";
  EXPECT_EQ(c.members.size(), 1u);
  EXPECT_FALSE(LooksLikePespin(ReadTestFile("clam-aspack.exe")));
  EXPECT_FALSE(LooksLikePespin(ReadTestFile("clam-upack.exe")));
  EXPECT_EQ(ReadPespin("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

}  // namespace
}  // namespace accord::scan
