#include "scan/mew.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <span>

#include "crypto/sha256.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// ClamAV's clam-mew.exe: a program packed by MEW 11 SE in five aPLib blocks, whose `.clam`
// section holds a zip of clam.exe. Each block must end with its end code right where the next
// block's address follows, and the zip's CRC-32 must hold.
TEST(Mew, ClamavTestFileUnpacksToTheZipHoldingClamExe) {
  Bytes mew = ReadTestFile("clam-mew.exe"), clam = ReadTestFile("clam.exe");
  if (mew.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikeMew(mew));
  Collected c;
  Status s = ReadMew(mew, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "MEW");
  const Bytes& image = c.members[0].data;
  EXPECT_EQ(image.size(), 0x7000u);
  EXPECT_FALSE(LooksLikeMew(image)) << "the image is not unpacked again";
  // .text unpacked: the dropper's first instructions (push 0; push 0x402054; push 0x40201c).
  EXPECT_EQ(image.substr(0x1000, 15),
            Bytes("\x6a\x00\x68\x54\x20\x40\x00\x68\x1c\x20\x40\x00\x6a\x00\xff", 15));
  EXPECT_EQ(image.find("PK\x03\x04"), 0x4e6cu);
  // Every section as ClamAV's own unpacker rebuilds them (clamscan --debug --leave-temps, SHA-256
  // of each).
  const char* clamav[] = {"004b822e244e7777c03fc8564c50e5dbfd354f0787a4d4bd1de3952ea3229c72",
                          "224f895ab883e1ed4a87eaaf7b173c94408a265b37aca7fc221490b8978701d3",
                          "e25af553de2bb11dc9c20303a57b0e1d7893782161857cd52298f37a88f5e162",
                          "25757280910acc3e42f21e81c08c3f4a8b45681c4cb9fbd8841d8c34a59471c7",
                          "603ee1313fabb6a24910b8c126774b94eae89ce2a960583d68a435e754235092"};
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(0x1000 * (k + 1), 0x1000)))), clamav[k])
        << "section " << k;
  }
  WalkResult w = WalkAll(mew, "clam-mew.exe");
  EXPECT_TRUE(w.Contains(clam));
  EXPECT_TRUE(w.items.count("clam-mew.exe!MEW!clam.exe"));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken"));
}

// Damage: every third byte of the blocks flipped, each ends in OK or DataLoss with the image (as
// far as it was unpacked) yielded; readers other than MEW's are Unimplemented, with nothing
// yielded.
TEST(Mew, DamageEndsInAStatus) {
  Bytes mew = ReadTestFile("clam-mew.exe");
  if (mew.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const size_t failed = FlipEach(mew, 0x228, 0x5ff, 3, ReadMew);
  EXPECT_GT(failed, 10u);
  for (size_t at :
       {size_t{0x200 + 3}, size_t{0x12c + 1}, size_t{0x108 + 1}}) {  // gamma, bit reader, its tail
    Bytes other = mew;
    other[at] = static_cast<char>(other[at] ^ 1);
    Collected c;
    EXPECT_TRUE(LooksLikeMew(other)) << at;
    EXPECT_EQ(ReadMew(other, {}, c.Sink()).code(), Code::kUnimplemented) << at;
    EXPECT_TRUE(c.members.empty());
  }
  Bytes decoder = mew;
  decoder[0x154 + 0x40] = static_cast<char>(decoder[0x154 + 0x40] ^ 1);
  EXPECT_FALSE(LooksLikeMew(decoder));
  // The first block's address outside the image.
  Bytes far = mew;
  PutLe(far, 0x224, 0x7fff0000, 4);
  Collected c;
  Status s = ReadMew(far, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("block 0 (to 0x7fff0000): outside the image"), std::string::npos) << s.message();
  ReaderOptions small;
  small.max_total_bytes = 0x6000;
  EXPECT_EQ(ReadMew(mew, small, c.Sink()).code(), Code::kResourceExhausted);
  EXPECT_FALSE(LooksLikeMew(ReadTestFile("clam-upx.exe")));
  EXPECT_FALSE(LooksLikeMew(ReadTestFile("clam-petite.exe")));
  EXPECT_EQ(ReadMew("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

// An aPLib stream as MEW's stub reads it (bits in bytes, most significant first, a byte reserved
// where the decoder loads it; whole bytes in between; a fresh bit byte at each block). Each item
// also says what it means, so the expected output is built from the format's meaning.
class AplibWriter : public StubBitWriter {
 public:
  void Block(uint32_t dest, char first) {
    PutLe(out_, out_.size(), dest, 4);
    out_ += first;
    expected_ += first;
    NewBitByte();
    after_literal_ = true;
  }
  void Literal(char c) {
    Bit(0);
    out_ += c;
    expected_ += c;
    after_literal_ = true;
  }
  void Near(uint32_t distance) {  // 1..15, or 0 for a 0 byte
    Bits(0b111, 3);
    Bits(distance, 4);
    expected_ += distance ? expected_[expected_.size() - distance] : '\0';
    after_literal_ = true;
  }
  void Short(uint32_t distance, uint32_t length) {  // distance 1..127, length 2 or 3
    Bits(0b110, 3);
    out_ += static_cast<char>(distance << 1 | (length - 2));
    Copy(distance, length);
    last_ = distance;
    after_literal_ = false;
  }
  void Match(uint32_t distance, uint32_t length) {
    Bits(0b10, 2);
    Gamma((distance >> 8) + (after_literal_ ? 3 : 2));
    out_ += static_cast<char>(distance & 0xff);
    uint32_t bonus = distance >= 0x7d00 ? 2 : distance >= 0x500 ? 1 : distance < 0x80 ? 2 : 0;
    Gamma(length - bonus);
    Copy(distance, length);
    last_ = distance;
    after_literal_ = false;
  }
  void Repeat(uint32_t length) {  // only after a literal or a Near
    ASSERT_TRUE(after_literal_);
    Bits(0b10, 2);
    Gamma(2);
    Gamma(length);
    Copy(last_, length);
    after_literal_ = false;
  }
  void End(char b = '\0') {  // 0 or 1
    Bits(0b110, 3);
    out_ += b;
  }
  void Done() { PutLe(out_, out_.size(), 0, 4); }
  const Bytes& Stream() const { return out_; }
  const Bytes& Expected() const { return expected_; }
  void Restart() { expected_.clear(); }

 private:
  uint32_t last_ = 0;
  bool after_literal_ = true;
};

// clam-mew.exe with its second section grown to hold a table at 0x6800 (the stub's `mov esi`
// pointed there: the gamma and bit readers' addresses, the start, then `blocks`) and room for
// output from 0x20000 on.
constexpr uint32_t kOut = 0x20000, kTable = 0x6804;
Bytes MewWith(const Bytes& mew, const Bytes& blocks, uint32_t room) {
  Bytes f = mew.substr(0, 0x200 + 0x800);
  f.resize(0x200 + 0x800, '\0');
  Bytes table;
  PutLe(table, 0, 0x406000, 4);  // [TABLE - 4]: the gamma reader
  PutLe(table, 4, 0x40012c, 4);  // [TABLE]: the bit reader
  PutLe(table, 8, 0x401020, 4);  // where the program starts
  f += table + blocks;
  PutLe(f, 0x155, 0x400000 + kTable, 4);                             // mov esi, TABLE
  PutLe(f, 0x12c + 8, kOut + room - 0x6000, 4);                      // the section's virtual size
  PutLe(f, 0x12c + 16, static_cast<uint32_t>(f.size() - 0x200), 4);  // its raw size
  return f;
}

// Every code of the format: literals, near bytes and the 0 byte, short matches of both lengths,
// gamma matches after a literal and after a match at distances on both sides of each length
// step (0x80, 0x500, 0x7d00) and far beyond, the last distance again, long lengths, and a second
// block elsewhere.
TEST(Mew, HandMadeStreamsCoverEveryCode) {
  Bytes mew = ReadTestFile("clam-mew.exe");
  if (mew.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  AplibWriter w;
  w.Block(0x400000 + kOut, 'A');
  uint32_t x = 12345;
  for (int i = 1; i < 0x9000; ++i) {
    x = x * 1103515245 + 12345;
    w.Literal(static_cast<char>(x >> 16));
  }
  for (uint32_t d :
       {1u, 2u, 0x7fu, 0x80u, 0x81u, 0x4ffu, 0x500u, 0x501u, 0x7cffu, 0x7d00u, 0x7d01u, 0x8fffu}) {
    for (uint32_t len : {4u, 5u, 6u, 300u}) {
      w.Match(d, len);                           // after a literal (first) or a match
      w.Match(d + 1 < 0x9000 ? d + 1 : d, len);  // after a match
      w.Literal('z');
      w.Repeat(2);
      w.Near(3);
      w.Repeat(len);
    }
  }
  for (uint32_t d = 0; d < 16; ++d) w.Near(d);
  for (uint32_t d : {1u, 5u, 127u}) {
    w.Short(d, 2);
    w.Short(d, 3);
  }
  w.Match(0x8000, 70000);
  w.Short(9, 3);  // a short match sets the last distance
  w.Literal('q');
  w.Repeat(5);
  w.Short(3, 2);
  w.End('\1');
  // The next block right after it in memory: the bit byte starts afresh, the last distance (3)
  // carries over, and the repeat reaches back into the first block's bytes.
  w.Block(static_cast<uint32_t>(0x400000 + kOut + w.Expected().size()), 'B');
  w.Repeat(6);
  w.End();
  const Bytes first = w.Expected();
  w.Restart();
  w.Block(0x400000 + 0x1000, 'B');  // a third block, into the first section
  w.Literal('C');
  w.Match(2, 10);
  w.End();
  w.Done();
  const Bytes second = w.Expected();
  const uint32_t room = static_cast<uint32_t>(first.size() + 0x1000);
  Bytes f = MewWith(mew, w.Stream(), room);
  ASSERT_TRUE(LooksLikeMew(f));
  Collected c;
  Status s = ReadMew(f, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  const Bytes& image = c.members[0].data;
  EXPECT_TRUE(image.substr(kOut, first.size()) == first);
  EXPECT_EQ(image.substr(0x1000, second.size()), second);

  // Reading and writing more than the container may still produce: the image as far as the
  // first block went is still yielded, and the error names the block.
  ReaderOptions limited;
  limited.max_total_bytes = image.size() + first.size() / 2;
  Collected cut;
  s = ReadMew(f, limited, cut.Sink());
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("MEW: block 0 (to 0x420000): "), std::string::npos) << s.message();
  ASSERT_EQ(cut.members.size(), 1u);
  EXPECT_TRUE(cut.members[0].data.substr(kOut, 0x4000) == first.substr(0, 0x4000));

  // Cut in half, without the end code and the blocks after it: the zeros after it read as
  // literals, then the block's own output as its stream (in place, as the stub would), until
  // something fails.
  Bytes open = MewWith(mew, w.Stream().substr(0, w.Stream().size() / 2), room);
  s = ReadMew(open, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_EQ(s.message().rfind("MEW: block ", 0), 0u) << s.message();
  // No terminating 0 address: blocks that never end stop at the limit.
  AplibWriter loop;
  for (size_t i = 0; i <= kMaxMewBlocks; ++i) {
    loop.Block(0x400000 + kOut, 'x');
    loop.End();
  }
  s = ReadMew(MewWith(mew, loop.Stream(), 0x1000), {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("more than 256 blocks"), std::string::npos) << s.message();
}

// Addresses below the image base (the table, or the readers it names): no MEW stub accord reads,
// and no read outside the file (these made an offset wrap, found by fuzz_mew).
TEST(Mew, AddressesBelowTheImageBase) {
  Bytes mew = ReadTestFile("clam-mew.exe");
  if (mew.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // The table (mov esi, TABLE) below the image base, at RVA 2, past the file: DataLoss; the bit
  // or gamma reader it names below the image base or in the DOS header: not MEW's, Unimplemented.
  const std::pair<size_t, uint32_t> table[] = {{0x155, 0x10}, {0x155, 0x400002}, {0x155, 0xffffffff}};
  const std::pair<size_t, uint32_t> readers[] = {{0x21c, 0x400002}, {0x21c, 0x10}, {0x218, 0x3ffffe}};
  for (const auto& [cases, code] :
       {std::pair{std::span(table), Code::kDataLoss}, std::pair{std::span(readers), Code::kUnimplemented}}) {
    for (const auto& [at, value] : cases) {
      Bytes f = mew;
      PutLe(f, at, value, 4);
      EXPECT_TRUE(LooksLikeMew(f)) << at;
      Collected c;
      Status s = ReadMew(f, {}, c.Sink());
      EXPECT_EQ(s.code(), code) << at << " = " << value << ": " << s.ToString();
      EXPECT_TRUE(c.members.empty());
    }
  }
  // The first block's address 0: no block (the stub would write to address 0).
  Bytes none = mew;
  PutLe(none, 0x224, 0, 4);
  Collected c;
  Status s = ReadMew(none, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("no block"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace accord::scan
