#include "scan/petite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tuple>

#include "crypto/sha256.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// ClamAV's clam-petite.exe: a program whose sections, packed by Petite 2.x, hold a zip of clam.exe
// in `.clam`. Its records unpack three blocks (each to exactly its size, or the reader fails) and
// move one; the unpacking is right if the zip's CRC-32 holds and clam.exe's bytes come out.
TEST(Petite, ClamavTestFileUnpacksToTheZipHoldingClamExe) {
  Bytes petite = ReadTestFile("clam-petite.exe"), clam = ReadTestFile("clam.exe");
  if (petite.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikePetite(petite));
  Collected c;
  Status s = ReadPetite(petite, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "Petite");
  const Bytes& image = c.members[0].data;
  EXPECT_EQ(image.size(), 0x5000u + 0x400u);  // up to the end of the stub's section (its raw size)
  EXPECT_FALSE(LooksLikePetite(image)) << "the image is not unpacked again";
  // .text unpacked: the dropper's first instructions (push 0; push 0x402054; push 0x40201c).
  EXPECT_EQ(image.substr(0x1000, 15),
            Bytes("\x6a\x00\x68\x54\x20\x40\x00\x68\x1c\x20\x40\x00\x6a\x00\xff", 15));
  size_t zip = image.find("PK\x03\x04");
  ASSERT_NE(zip, Bytes::npos);
  EXPECT_GE(zip, 0x4000u);
  // The sections as ClamAV's own unpacker rebuilds them (clamscan --debug --leave-temps: its
  // .clam01-03 at these RVAs and sizes, SHA-256 of each).
  const std::tuple<size_t, size_t, const char*> clamav[] = {
      {0x1000, 0xf7, "8b04af431cbf6781ef3bb442f574cde9043a44c922a2a3516e178dbefdad789c"},
      {0x2000, 0x123, "7d5a5d51d84266e04eb980e69349f4e7ffc86a1d11560a81039471f6ef56492a"},
      {0x4000, 0xffc, "33bdcdc899dbe3bebc54166344b47098ee06ecc2e4615850806b06364f1437bf"}};
  for (const auto& [rva, size, sha256] : clamav) {
    EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(rva, size)))), sha256) << HexNumber(rva);
  }
  WalkResult w = WalkAll(petite, "clam-petite.exe");
  EXPECT_TRUE(w.Contains(clam));
  EXPECT_TRUE(w.items.count("clam-petite.exe!Petite!clam.exe"));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken"));
}

// Damage: every fifth byte of the packed data flipped (most are literal bytes: the zip is stored), each ends
// in OK or DataLoss with the image (as far as it was unpacked) yielded; a stub whose decoder differs is
// Unimplemented.
TEST(Petite, DamageEndsInAStatus) {
  Bytes petite = ReadTestFile("clam-petite.exe");
  if (petite.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const size_t failed = FlipEach(petite, 0x800, 0xe00, 5, ReadPetite);
  EXPECT_GT(failed, 10u) << "a flipped bit byte makes a block unpack to another size";  // 33 here
  Bytes other = petite;
  Collected c;
  other[0x442 + 0x69 + 0x50] = static_cast<char>(other[0x442 + 0x69 + 0x50] ^ 1);  // in the decoder
  EXPECT_TRUE(LooksLikePetite(other));
  EXPECT_EQ(ReadPetite(other, {}, c.Sink()).code(), Code::kUnimplemented);
  EXPECT_TRUE(c.members.empty());
  // The first record's size 0xffc made 0x7ffffffc: its block runs past the image.
  Bytes huge = petite;
  PutLe(huge, 0x5b8 + 4, 0x7ffffffc, 4);
  EXPECT_EQ(ReadPetite(huge, {}, c.Sink()).code(), Code::kDataLoss);
  // A move of 0x7fffffff dwords.
  Bytes move = petite;
  PutLe(move, 0x5c8, 0xffffffff, 4);
  EXPECT_EQ(ReadPetite(move, {}, c.Sink()).code(), Code::kDataLoss);
  // No end record: empty records up to the end of the image.
  Bytes endless = petite;
  endless.replace(0x5b8, 0x800 - 0x5b8, Bytes(0x800 - 0x5b8, '\0'));
  Status s = ReadPetite(endless, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("lies outside the image"), std::string::npos) << s.message();
  // An image larger than the container may still produce.
  ReaderOptions small;
  small.max_total_bytes = 0x5000;
  EXPECT_EQ(ReadPetite(petite, small, c.Sink()).code(), Code::kResourceExhausted);
  EXPECT_FALSE(LooksLikePetite(ReadTestFile("clam-upx.exe")));
  EXPECT_FALSE(LooksLikePetite(ReadTestFile("clam-wwpack.exe")));
  EXPECT_EQ(ReadPetite("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

// A Petite stream written as the stub reads it: bits in bytes (most significant first), each byte
// reserved where the decoder loads it (when it needs a bit and the last byte's 8 are used), whole
// bytes in between. Each item also says what it means, so the expected output is built from the
// format's meaning, not from a decoder.
class PetiteWriter : public StubBitWriter {
 public:
  PetiteWriter(uint32_t size, char first) : size_(size) {
    if (size < 0x10000) {
      w_ = 5, d1_ = 0x3a0, d2_ = 0x3fa0;
    } else if (size < 0x40000) {
      w_ = 7, d1_ = 0x680, d2_ = 0x7e80;
    } else {
      w_ = 8, d1_ = 0x500, d2_ = 0x7d00;
    }
    out_ += first;
    expected_ += first;
  }
  void Literal(char c) {
    Bit(0);
    out_ += static_cast<char>(c ^ static_cast<char>(size_ - expected_.size()));
    expected_ += c;
  }
  void Match(uint32_t distance, uint32_t length) {  // a new distance
    Bit(1);
    uint32_t v = distance - 1;
    Gamma((v >> w_) + 3);
    for (int i = w_ - 1; i >= 0; --i) Bit(int(v >> i) & 1);
    Length(length - 1 - (distance > d1_) - (distance > d2_));
    Copy(distance, length);
    last_ = distance;
  }
  void Repeat(uint32_t length) {  // the last distance again
    Bit(1);
    Gamma(2);
    Length(length);
    Copy(last_, length);
  }
  const Bytes& Stream() const { return out_; }
  const Bytes& Expected() const { return expected_; }
  int Width() const { return w_; }

 private:
  void Length(uint32_t n) {
    ASSERT_GE(n, 1u);
    if (n <= 3) {
      Bit(int(n >> 1));
      Bit(int(n & 1));
    } else {
      Bit(0);
      Bit(0);
      Gamma(n - 2);
    }
  }
  uint32_t size_, last_ = 0, d1_ = 0, d2_ = 0;
  int w_ = 0;
};

// Records as the stub reads them.
Bytes Unpack(uint32_t from, uint32_t size, uint32_t to) {
  Bytes r;
  PutLe(r, 0, from, 4);
  PutLe(r, 4, size, 4);
  PutLe(r, 8, to, 4);
  PutLe(r, 12, 0, 4);
  return r;
}
Bytes Move(uint32_t dwords, uint32_t from, uint32_t to) {
  Bytes r;
  PutLe(r, 0, dwords | 0x80000000u, 4);
  PutLe(r, 4, from, 4);
  PutLe(r, 8, to, 4);
  return r;
}
const Bytes kEnd = Unpack(0, 1, 0);  // a block into page 0: the write faults

constexpr uint32_t kDst = 0x10000;
uint32_t SrcOf(uint32_t size) {
  return (kDst + size + 0xfff) & ~0xfffu;
}

// clam-petite.exe with two sections added (an empty one of `size` bytes at kDst, and `data` at
// SrcOf(size) after it) and its records replaced by `records` (by default one block from the
// second into the first, and the end).
Bytes PetiteWith(const Bytes& petite, const Bytes& data, uint32_t size, Bytes records = "") {
  Bytes f = petite;
  const size_t table = 0x1e8;
  const uint32_t src = SrcOf(size);
  if (records.empty()) records = Unpack(src, size, kDst) + kEnd;
  const uint32_t raw = static_cast<uint32_t>((f.size() + 0x1ff) & ~size_t{0x1ff});
  f.resize(raw, '\0');
  f += data;
  PutLe(f, 0xf0 + 6, 6, 2);
  auto section = [&](size_t i, uint32_t vsize, uint32_t rva, uint32_t rsize, uint32_t roff) {
    size_t e = table + 40 * i;
    f.replace(e, 8, Bytes(".test\0\0\0", 8));
    PutLe(f, e + 8, vsize, 4);
    PutLe(f, e + 12, rva, 4);
    PutLe(f, e + 16, rsize, 4);
    PutLe(f, e + 20, roff, 4);
  };
  section(4, size, kDst, 0, 0);
  section(5, static_cast<uint32_t>(data.size()), src, static_cast<uint32_t>(data.size()), raw);
  const size_t at = 0x5b8;
  EXPECT_LE(records.size(), 0x600u - at);
  for (size_t i = at; i < 0x600; ++i) f[i] = '\0';
  f.replace(at, records.size(), records);
  return f;
}

// Every code of the format, in each of the three size classes (the distance's width and the two
// distances past which a match gains a byte): literals, matches at distances on both sides of
// each step, the last distance again, lengths of two bits and of gamma codes up to 0x30000.
TEST(Petite, HandMadeStreamsCoverEveryCode) {
  Bytes petite = ReadTestFile("clam-petite.exe");
  if (petite.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // Each class, and each side of the sizes where it changes.
  for (uint32_t size : {0xf000u, 0xffffu, 0x10000u, 0x20000u, 0x3ffffu, 0x40000u, 0x48000u}) {
    PetiteWriter w(size, 'A');
    uint32_t x = 12345;
    for (int i = 1; i < 0x8000; ++i) {
      x = x * 1103515245 + 12345;
      w.Literal(static_cast<char>(x >> 16));
    }
    for (uint32_t d : {1u, 2u, 0x3a0u, 0x3a1u, 0x500u, 0x501u, 0x680u, 0x681u, 0x3fa0u, 0x3fa1u, 0x7d00u,
                       0x7d01u, 0x7e80u, 0x7e81u, 0x7fffu}) {
      for (uint32_t len : {4u, 5u, 6u, 9u, 300u}) {
        w.Match(d, len);
        w.Repeat(2);
        w.Literal('z');
      }
      w.Repeat(7);
      w.Repeat(300);
    }
    w.Repeat(1);
    w.Match(0x8000, size - static_cast<uint32_t>(w.Expected().size()));  // the rest, one long match
    ASSERT_EQ(w.Expected().size(), size);
    Bytes f = PetiteWith(petite, w.Stream(), size);
    ASSERT_TRUE(LooksLikePetite(f));
    Collected c;
    Status s = ReadPetite(f, {}, c.Sink());
    ASSERT_TRUE(s.ok()) << size << ": " << s.ToString();
    ASSERT_EQ(c.members.size(), 1u);
    const size_t image_size = c.members[0].data.size();
    EXPECT_TRUE(c.members[0].data.substr(kDst, size) == w.Expected())
        << "size " << size << ", class " << w.Width();

    // Reading and writing more than the container may still produce: the image as far as the
    // block went is still yielded.
    ReaderOptions limited;
    limited.max_total_bytes = image_size + size / 2;
    Collected cut;
    s = ReadPetite(f, limited, cut.Sink());
    EXPECT_EQ(s.code(), Code::kResourceExhausted) << size << ": " << s.ToString();
    EXPECT_NE(s.message().find("record 0 (unpack "), std::string::npos) << s.message();
    ASSERT_EQ(cut.members.size(), 1u);
    EXPECT_TRUE(cut.members[0].data.substr(kDst, 0x4000) == w.Expected().substr(0, 0x4000)) << size;
    EXPECT_FALSE(cut.members[0].data.substr(kDst, size) == w.Expected()) << size;

    // The sizes next to it, where they are in the same class (else the stream means another
    // thing: the classes are what a size one off at their edge shows).
    auto width = [](uint32_t n) { return n < 0x10000 ? 5 : n < 0x40000 ? 7 : 8; };
    if (width(size - 1) != width(size) || width(size + 1) != width(size)) {
      const uint32_t across = width(size - 1) != width(size) ? size - 1 : size + 1;
      Collected o;
      s = ReadPetite(PetiteWith(petite, w.Stream(), size, Unpack(SrcOf(size), across, kDst) + kEnd), {},
                     o.Sink());
      ASSERT_EQ(o.members.size(), 1u);
      EXPECT_FALSE(s.ok() && o.members[0].data.substr(kDst, size) == w.Expected())
          << size << " read as " << across;
      continue;
    }
    // The block's size one byte short: the last match overshoots (the count is signed).
    Bytes shorter = PetiteWith(petite, w.Stream(), size, Unpack(SrcOf(size), size - 1, kDst) + kEnd);
    s = ReadPetite(shorter, {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss) << size;
    EXPECT_NE(s.message().find("more than its size (by 1)"), std::string::npos) << s.message();
    // A byte more than the stream holds: it ends first.
    Bytes longer = PetiteWith(petite, w.Stream(), size, Unpack(SrcOf(size), size + 1, kDst) + kEnd);
    s = ReadPetite(longer, {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss) << size;
    EXPECT_NE(s.message().find("runs past the image"), std::string::npos) << s.message();
  }
}

// Moves copy downwards, so one onto itself shifted up keeps its bytes (an upward copy would repeat
// the first word); a move reaching page 0 is done down to it and ends the walk.
TEST(Petite, MovesCopyDownwardsAndEndAtPageZero) {
  Bytes petite = ReadTestFile("clam-petite.exe");
  if (petite.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const uint32_t size = 0x1000, src = SrcOf(size);
  const Bytes data = "0123456789abcdefghijklmnopqrstuv";
  Collected c;
  Status s = ReadPetite(PetiteWith(petite, data, size, Move(4, src + 12, src + 16) + kEnd), {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.members.at(0).data.substr(src, 32), Bytes("0123") + "0123456789abcdef" + "klmnopqrstuv");
  // Down into page 0 from 0x1004: the words at 0x1004 and 0x1000 are written, then it faults.
  Collected d;
  s = ReadPetite(PetiteWith(petite, data, size, Move(8, src + 28, 0x1004) + Unpack(src, 5, kDst)), {},
                 d.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(d.members.at(0).data.substr(0x1000, 8), "opqrstuv");
  EXPECT_EQ(d.members.at(0).data.substr(kDst, 5), Bytes(5, '\0')) << "the walk ended at the move";
  // The same with a count reaching far below the image: the words after the fault are never read.
  Collected e;
  s = ReadPetite(PetiteWith(petite, data, size, Move(0x100000, src + 28, 0x1004) + Unpack(src, 5, kDst)), {},
                 e.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(e.members.at(0).data.substr(0x1000, 8), "opqrstuv");
}

// Records that never end: at most kMaxPetiteRecords are read (the stub's record pointer moved to
// a section of 300 records, empty ones and one-byte blocks).
TEST(Petite, RecordsThatNeverEndStopAtTheLimit) {
  Bytes petite = ReadTestFile("clam-petite.exe");
  if (petite.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const uint32_t size = 0x1000, src = SrcOf(size);
  Bytes records;
  for (int i = 0; i < 150; ++i) records += Unpack(src, 1, kDst) + Unpack(0, 0, 0);
  Bytes f = PetiteWith(petite, records, size);
  PutLe(f, 0x442 + 101, src - 0x5000, 4);  // lea edx, [eax + R]: SECTION + R = src
  Collected c;
  Status s = ReadPetite(f, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("no end record within 256"), std::string::npos) << s.ToString();
  EXPECT_EQ(c.members.size(), 1u);
}

}  // namespace
}  // namespace accord::scan
