#include "scan/wwpack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sha256.h"
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
  // Every section as ClamAV's own unpacker rebuilds them (clamscan --debug --leave-temps, SHA-256
  // of each).
  const char* clamav[] = {"004b822e244e7777c03fc8564c50e5dbfd354f0787a4d4bd1de3952ea3229c72",
                          "33b806135ce944a8eb290f727c9ce6ff7251bc4d75dd75fc165c26bc924bc6d3",
                          "975f50151455c49e3ca2538038335c8af5cb0f4d3be30a00f0e4e21ae62b690c",
                          "25757280910acc3e42f21e81c08c3f4a8b45681c4cb9fbd8841d8c34a59471c7"};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(0x1000 * (k + 1), 0x1000)))), clamav[k])
        << "section " << k;
  }
  WalkResult w = WalkAll(ww, "clam-wwpack.exe");
  EXPECT_TRUE(w.Contains(clam));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken.Zip"));
}

// Damage: every seventh byte of the packed data flipped, each ends in OK or DataLoss with the
// image (as far as it was unpacked) yielded; a stub whose code differs is Unimplemented.
TEST(Wwpack, DamageEndsInAStatus) {
  Bytes ww = ReadTestFile("clam-wwpack.exe");
  if (ww.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  for (size_t at = 0xa00; at < 0xa00 + 0x18c; at += 7) {
    Bytes bad = ww;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    Collected c;
    Status s = ReadWwpack(bad, {}, c.Sink());
    EXPECT_TRUE(s.ok() || s.code() == Code::kDataLoss) << at << ": " << s.ToString();
    EXPECT_EQ(c.members.size(), 1u) << at;  // the image as far as it was unpacked
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

// A WWPack32 stream written as the stub reads it: 32-bit flag words (most significant bit first),
// each reserved where the decoder loads it (at the start, then as soon as the previous one is used
// up), and literal bytes in between.
class StreamWriter {
 public:
  StreamWriter() { Reserve(); }
  void Bit(int b) {
    word_ |= uint32_t(b & 1) << (31 - used_);
    if (++used_ == 32) {
      PutLe(out_, slot_, word_, 4);
      Reserve();
    }
  }
  void Bits(uint32_t v, int n) {
    while (n-- > 0) Bit(int(v >> n) & 1);
  }
  void Literal(char c) {
    Bit(0);
    out_.push_back(c);
  }
  // Kind 3: length 2; b picks the width (5, 6, 8, 9 bits) and base (1, 0x21, 0x61, 0x161).
  void Match2(uint32_t offset) {
    static constexpr uint32_t kBase[] = {1, 0x21, 0x61, 0x161};
    static constexpr int kWidth[] = {5, 6, 8, 9};
    int b = offset >= 0x161 ? 3 : offset >= 0x61 ? 2 : offset >= 0x21 ? 1 : 0;
    Bit(1), Bits(3, 2), Bits(uint32_t(b), 2), Bits(offset - kBase[b], kWidth[b]);
  }
  void End() { Bit(1), Bits(3, 2), Bits(3, 2), Bits(0x1ff, 9); }
  // Kinds 0-2: the length (kind 1: 3, kind 2: 4, kind 0: more) after the offset code c.
  void Match(uint32_t length, int c, uint32_t offset) {
    Bit(1);
    Bits(length == 3 ? 1 : length == 4 ? 2 : 0, 2);
    Bits(uint32_t(c), 3);
    if (c <= 2) {
      int n = c + 5;
      Bits(offset - ((1u << n) - 0x1f), n);
    } else if (c == 3 || c == 4) {
      int n = offset >= ((1u << (c == 3 ? 9 : 11)) - 0x1f) ? (c == 3 ? 9 : 11) : (c == 3 ? 8 : 10);
      Bit(n % 2 == 1 ? 1 : 0);
      Bits(offset - ((1u << n) - 0x1f), n);
    } else if (c == 5) {
      Bits(offset - 0xfe1, 12);
    } else if (c == 6) {
      Bits(offset - 0x1fe1, 14);
    } else {
      Bits(offset - 0x5fe1, 15);
    }
    if (length <= 4) return;
    if (length <= 6) return Bit(0), Bit(int(length - 5));
    Bit(1);
    if (length <= 13) return Bits(length - 6, 3);
    Bits(0, 3);
    if (length <= 28) return Bits(length - 13, 4);
    Bits(0, 4);
    if (length <= 60) return Bit(1), Bits(length - 29, 5);
    if (length <= 124) return Bit(0), Bit(1), Bits(length - 61, 6);
    if (length <= 252) return Bit(0), Bit(0), Bit(1), Bits(length - 125, 7);
    Bit(0), Bit(0), Bit(0), Bits(length, 14);
  }
  Bytes Finish() {
    PutLe(out_, slot_, word_, 4);
    return out_;
  }

 private:
  void Reserve() {
    slot_ = out_.size();
    out_.append(4, '\0');
    word_ = 0;
    used_ = 0;
  }
  Bytes out_;
  size_t slot_ = 0;
  uint32_t word_ = 0;
  int used_ = 0;
};

// clam-wwpack.exe with its one block's packed stream (at .clam's start, file 0xa00, at most 0x200
// bytes) replaced by `stream`: the record's word count and end follow it.
Bytes WithStream(const Bytes& ww, const Bytes& stream) {
  Bytes out = ww;
  EXPECT_LE(stream.size(), 0x200u);
  out.replace(0xa00, stream.size(), stream);
  uint32_t words = uint32_t((stream.size() + 3) / 4);
  PutLe(out, 0xc00 + 0x2a1 + 8, words, 4);           // N
  PutLe(out, 0xc00 + 0x2a1 + 12, words * 4 - 4, 4);  // Z: they end at dest + Z + 4
  return out;
}

// Every code of the format, in streams made by hand after the stub's code (clam-wwpack.exe uses
// only some of them): what comes out is what the codes say, then zeros to the block's end.
TEST(Wwpack, EveryCodeOfTheStream) {
  Bytes ww = ReadTestFile("clam-wwpack.exe");
  if (ww.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Collected base;
  ASSERT_TRUE(ReadWwpack(ww, {}, base.Sink()).ok());
  const Bytes& before = base.members.at(0).data;  // the image below the block is the same
  StreamWriter w;
  Bytes want;
  auto copy = [&](uint32_t length, uint32_t offset) {
    for (uint32_t i = 0; i < length; ++i) {
      size_t at = want.size() >= offset ? want.size() - offset : 0;
      want.push_back(want.size() >= offset ? want[at] : before[0x4000 + want.size() - offset]);
    }
  };
  // 200 bytes that do not repeat within, then repeated (period 200): a code that decoded an offset
  // or a length one off would copy other bytes.
  uint32_t lcg = 12345;
  for (int i = 0; i < 200; ++i) {
    lcg = lcg * 1103515245 + 12345;
    char ch = char(lcg >> 23);
    w.Literal(ch), want.push_back(ch);
  }
  for (int i = 0; i < 9; ++i) w.Match(252, 2, 200), copy(252, 200);  // width 7 length, 7-bit offset
  w.Match2(3), copy(2, 3);                                           // kind 3, widths 5, 6, 8, 9
  w.Match2(0x25), copy(2, 0x25);
  w.Match2(0x101), copy(2, 0x101);
  w.Match2(0x203), copy(2, 0x203);
  w.Match(4, 3, 0x105), copy(4, 0x105);    // kind 2, 8-bit offset
  w.Match(3, 3, 0x305), copy(3, 0x305);    // kind 1, 9-bit offset
  w.Match(5, 4, 0x503), copy(5, 0x503);    // length 5, 10-bit offset
  w.Match(6, 2, 0x81), copy(6, 0x81);      // length 6, 7-bit offset
  w.Match(10, 4, 0x907), copy(10, 0x907);  // 3-bit length, 11-bit offset
  w.Match(20, 4, 0x901), copy(20, 0x901);  // 4-bit length
  w.Match(40, 1, 0x51), copy(40, 0x51);    // width 5 length, 6-bit offset
  w.Match(100, 2, 0x71), copy(100, 0x71);  // width 6 length
  w.Match(1000, 0, 7), copy(1000, 7);      // 14-bit length, 5-bit offset
  w.Match(200, 1, 0x45), copy(200, 0x45);
  w.Match(3, 6, 0x1fe1 + 5), copy(3, 0x1fe1 + 5);  // 14-bit offset: reaches below the block
  w.Literal('!'), want.push_back('!');
  w.End();
  Bytes file = WithStream(ww, w.Finish());
  Collected c;
  Status s = ReadWwpack(file, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  const Bytes& image = c.members[0].data;
  ASSERT_LE(want.size(), 0x1000u);
  EXPECT_TRUE(image.substr(0x4000, want.size()) == want);
  EXPECT_EQ(image.substr(0x4000 + want.size(), 0x1000 - want.size()), Bytes(0x1000 - want.size(), '\0'));

  // A 15-bit offset (0x5fe1 and more) reaches before the image here: DataLoss, and what was
  // unpacked before it is still yielded.
  StreamWriter bad;
  for (char ch : std::string("abcdef")) bad.Literal(ch);
  bad.Match(3, 7, 0x5fe1);
  bad.End();
  Collected d;
  s = ReadWwpack(WithStream(ww, bad.Finish()), {}, d.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].data.substr(0x4000, 6), "abcdef");
}

// Sections whose file offsets are their RVAs (file and section alignment equal): the image has the
// file's layout, and it is still not taken for a packed program again (the stub's first bytes are
// cleared), so the walk unpacks it once and finds clam.exe.
TEST(Wwpack, AnImageWithTheFilesLayoutIsNotUnpackedAgain) {
  Bytes ww = ReadTestFile("clam-wwpack.exe"), clam = ReadTestFile("clam.exe");
  if (ww.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  std::optional<PeImage> pe = ParsePe(ww);
  ASSERT_TRUE(pe);
  size_t table = Le32(ww, 0x3c) + 24 + Le16(ww, Le32(ww, 0x3c) + 20);
  Bytes aligned = ww.substr(0, 0x400);
  for (size_t i = 0; i < pe->sections.size(); ++i) {
    const PeSection& s = pe->sections[i];
    if (aligned.size() < s.rva + s.raw_size) aligned.resize(s.rva + s.raw_size, '\0');
    aligned.replace(s.rva, s.raw_size, ww.substr(s.raw_offset, s.raw_size));
    PutLe(aligned, table + 40 * i + 20, s.rva, 4);
  }
  ASSERT_TRUE(LooksLikeWwpack(aligned));
  Collected c;
  ASSERT_TRUE(ReadWwpack(aligned, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_FALSE(LooksLikeWwpack(c.members[0].data));
  WalkResult w = WalkAll(aligned, "aligned.exe");
  EXPECT_TRUE(w.Contains(clam));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Limits"));
}

}  // namespace
}  // namespace accord::scan
