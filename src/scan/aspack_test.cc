#include "scan/aspack.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "crypto/sha256.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// clam-aspack.exe: the stub's base S is RVA 0x5000, file offset 0xc00 (.aspack).
constexpr size_t kStub = 0xc00;
constexpr size_t kSectionTable = 0x1c0;  // .text's header; .rdata, .rsrc, .clam, .aspack, .adata follow

// ClamAV's clam-aspack.exe: three blocks (.rdata, the end of .rsrc, .clam), the last holding
// clam.exe itself at 0x4de0, which the walker carves from the image.
TEST(Aspack, ClamavTestFileUnpacksToClamExe) {
  Bytes packed = ReadTestFile("clam-aspack.exe"), clam = ReadTestFile("clam.exe");
  if (packed.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikeAspack(packed));
  // The decompressor's tables in the stub are the header's.
  EXPECT_EQ(packed.substr(kStub + 0x6d6, 28), Bytes(reinterpret_cast<const char*>(kAspackLenBase), 28));
  EXPECT_EQ(packed.substr(kStub + 0x6f2, 28), Bytes(reinterpret_cast<const char*>(kAspackLenExtra), 28));
  EXPECT_EQ(packed.substr(kStub + 0x70e, 58), Bytes(reinterpret_cast<const char*>(kAspackDistExtra), 58));
  Collected c;
  Status s = ReadAspack(packed, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "ASPack");
  const Bytes& image = c.members[0].data;
  EXPECT_EQ(image.size(), 0x8000u);
  EXPECT_FALSE(LooksLikeAspack(image)) << "the image is not unpacked again";
  EXPECT_EQ(image.substr(0x4de0, clam.size()), clam);
  // Every section as ClamAV's own unpacker rebuilds them (clamscan --debug --leave-temps: its
  // .clam01-04, SHA-256 of each).
  const char* clamav[] = {"004b822e244e7777c03fc8564c50e5dbfd354f0787a4d4bd1de3952ea3229c72",
                          "33b806135ce944a8eb290f727c9ce6ff7251bc4d75dd75fc165c26bc924bc6d3",
                          "d4f9f95677c8491d5f366a40f1d7512add8cdda699c15632dcd54ac55e8d8899",
                          "33c85301a0d6d9aca54142096a7d620756723976a00c6d861f684919440bedbb"};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(0x1000 * (k + 1), 0x1000)))), clamav[k])
        << "section " << k;
  }
  // .rdata: the imports the stub later resolves (KERNEL32.dll's descriptor at 0x205c).
  EXPECT_EQ(image.substr(Le32(image, 0x205c + 12), 12), "KERNEL32.dll");
  EXPECT_NE(image.substr(0x2000, 0x200), packed.substr(0x600, 0x200));
  WalkResult w = WalkAll(packed, "clam-aspack.exe");
  EXPECT_EQ(w.Data("clam-aspack.exe!ASPack!PE@19936"), clam);
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken"));
}

// Damage: every third byte of the packed sections flipped, each ends in OK or DataLoss with the
// image yielded; another decompressor or version is Unimplemented with nothing yielded.
TEST(Aspack, DamageEndsInAStatus) {
  Bytes packed = ReadTestFile("clam-aspack.exe");
  if (packed.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  EXPECT_GT(FlipEach(packed, 0x600, 0xc00, 3, ReadAspack), 50u);
  for (size_t at :
       {kStub + 0x700, kStub + 0x900, kStub + 0xf3b, kStub + 0xa1, kStub + 0x1a8, kStub + 0x3bb}) {
    Bytes other = packed;
    other[at] = static_cast<char>(other[at] ^ 1);
    Collected c;
    EXPECT_TRUE(LooksLikeAspack(other)) << at;
    EXPECT_EQ(ReadAspack(other, {}, c.Sink()).code(), Code::kUnimplemented) << at;
    EXPECT_TRUE(c.members.empty());
  }
  // The loop's immediates are settings, not code.
  for (size_t at : {kStub + 0xff, kStub + 0x148}) {
    Bytes other = packed;
    other[at] = static_cast<char>(other[at] ^ 0x10);
    Collected c;
    EXPECT_TRUE(ReadAspack(other, {}, c.Sink()).ok()) << at;
  }
  Bytes jump = packed;
  jump[kStub + 0x139] = 3;  // into the middle of an instruction
  Collected c;
  EXPECT_EQ(ReadAspack(jump, {}, c.Sink()).code(), Code::kUnimplemented);
  Bytes head = packed;
  head[kStub + 1 + 9] = 0;
  EXPECT_FALSE(LooksLikeAspack(head));
  EXPECT_EQ(ReadAspack(head, {}, c.Sink()).code(), Code::kDataLoss);

  Bytes far = packed;  // the second block's address outside the image
  PutLe(far, kStub + 0x57c + 8, 0x7fff0000, 4);
  c.members.clear();
  Status s = ReadAspack(far, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("block 1 (0x7fff0000, 424 bytes): outside the image"), std::string::npos)
      << s.message();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].data.substr(Le32(c.members[0].data, 0x205c + 12), 12), "KERNEL32.dll")
      << "the first block is unpacked";
  EXPECT_EQ(ReadAspack(far, {}, Declining()).code(), Code::kDataLoss) << "the member declined";
  Bytes over = packed;  // a block over the stub's own code
  PutLe(over, kStub + 0x57c, 0x5600, 4);
  s = ReadAspack(over, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("over the stub"), std::string::npos) << s.message();

  ReaderOptions small;
  small.max_total_bytes = 0x8000 + 0x300;
  c.members.clear();
  s = ReadAspack(packed, small, c.Sink());
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find("block 1 (0x3058, 424 bytes): with the image and the blocks before, more than"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(c.members.size(), 1u) << "the image as far as it was unpacked";
  // The stub's base, its "already unpacked" word and its swap address are as accord reads them.
  for (auto [at, value] :
       {std::pair{kStub + 0x1e, 0x5001u}, {kStub + 0x435, 1u}, {kStub + 0x544, 0x401000u}}) {
    Bytes other = packed;
    PutLe(other, at, value, 4);
    c.members.clear();
    EXPECT_EQ(ReadAspack(other, {}, c.Sink()).code(), Code::kUnimplemented) << at;
    EXPECT_TRUE(c.members.empty());
  }
  Bytes headers = packed;  // a block in the (read-only) headers
  PutLe(headers, kStub + 0x57c, 0x100, 4);
  s = ReadAspack(headers, {}, c.Sink());
  EXPECT_NE(s.message().find("block 0 (0x100, 512 bytes): in the headers"), std::string::npos) << s.message();
  EXPECT_FALSE(LooksLikeAspack(ReadTestFile("clam-upx.exe")));
  EXPECT_FALSE(LooksLikeAspack(ReadTestFile("clam-petite.exe")));
  EXPECT_EQ(ReadAspack("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

// A canonical code from its lengths, as Deflate builds one: shorter codes first, then by symbol.
struct CanonicalCode {
  std::vector<uint8_t> lengths;
  std::vector<uint32_t> codes;
  explicit CanonicalCode(std::vector<uint8_t> l) : lengths(std::move(l)), codes(lengths.size()) {
    uint32_t code = 0;
    for (uint8_t len = 1; len <= 15; ++len) {
      for (size_t s = 0; s < lengths.size(); ++s) {
        if (lengths[s] == len) codes[s] = code++;
      }
      code <<= 1;
    }
  }
};

// Lengths of a complete code over `symbols` of `n` (the rest unused): some of length L, the others
// of length L + 1.
std::vector<uint8_t> CompleteLengths(const std::vector<unsigned>& symbols, size_t n) {
  const size_t count = symbols.size();
  uint8_t l = 0;
  while ((size_t{2} << l) <= count) ++l;  // 2^l <= count < 2^(l+1)
  const size_t shorter = (size_t{2} << l) - count;
  std::vector<uint8_t> out(n, 0);
  for (size_t i = 0; i < count; ++i) out[symbols[i]] = static_cast<uint8_t>(i < shorter ? l : l + 1);
  return out;
}

// A block stream as ASPack's decompressor reads it (bits MSB first), each item also saying what it
// means, so the expected output is built from the format's meaning.
class AspackWriter {
 public:
  static constexpr size_t kMain = 721, kLen = 28, kAlign = 8;

  // Tables coded against the previous lengths (`keep`) or against zeros; runs (16, 17, 18) are
  // used where they fit if `runs`; with `clip`, zeros up to the end are one run of 138.
  void Tables(const std::vector<uint8_t>& main, const std::vector<uint8_t>& len,
              const std::vector<uint8_t>& align, bool keep, bool runs, bool clip = false) {
    std::vector<uint8_t> next = main;
    next.insert(next.end(), len.begin(), len.end());
    next.insert(next.end(), align.begin(), align.end());
    ASSERT_EQ(next.size(), kMain + kLen + kAlign);
    Bits(keep, 1);
    if (!keep) prev_.assign(next.size(), 0);
    // PRE: 13 lengths of 4 and 6 of 5 (a complete code).
    std::vector<uint8_t> pre_lengths(19, 4);
    for (size_t s = 13; s < 19; ++s) pre_lengths[s] = 5;
    for (uint8_t l : pre_lengths) Bits(l, 4);
    CanonicalCode pre(pre_lengths);
    auto sym = [&](unsigned s) { Bits(pre.codes[s], pre.lengths[s]); };
    for (size_t i = 0; i < next.size();) {
      size_t same = 0, zeros = 0;
      while (i + zeros < next.size() && next[i + zeros] == 0) ++zeros;
      while (i > 0 && i + same < next.size() && next[i + same] == next[i - 1]) ++same;
      if (clip && zeros >= 3 && i + zeros == next.size()) {  // the longest run, cut at the end
        sym(18), Bits(127, 7), i += zeros;
      } else if (runs && zeros >= 11) {
        const size_t n = std::min<size_t>(zeros, 11 + 127);
        sym(18), Bits(static_cast<uint32_t>(n - 11), 7), i += n;
      } else if (runs && zeros >= 3) {
        const size_t n = std::min<size_t>(zeros, 3 + 7);
        sym(17), Bits(static_cast<uint32_t>(n - 3), 3), i += n;
      } else if (runs && same >= 3) {
        const size_t n = std::min<size_t>(same, 3 + 3);
        sym(16), Bits(static_cast<uint32_t>(n - 3), 2), i += n;
      } else {
        sym((next[i] - prev_[i]) & 15), ++i;
      }
    }
    prev_ = next;
    main_ = CanonicalCode(main);
    len_ = CanonicalCode(len);
    align_ = CanonicalCode(align);
    use_align_ = std::any_of(align.begin(), align.end(), [](uint8_t l) { return l != 3; });
  }
  void NewTables(const std::vector<uint8_t>& main, const std::vector<uint8_t>& len,
                 const std::vector<uint8_t>& align, bool keep, bool runs) {
    Main(720);
    Tables(main, len, align, keep, runs);
  }
  void Literal(uint8_t b) {
    Main(b);
    expected_ += static_cast<char>(b);
  }
  // A match of `length` bytes from `distance` + 1 back (the distance as the stub keeps it; it
  // becomes the last one).
  void Match(uint32_t length, uint32_t distance) {
    Code(length, distance + 3);
    last_ = {distance, last_[0], last_[1]};
    Copy(length, distance);
  }
  // A match at the distance used `which` = 0 (last), 1 or 2 matches ago (1 and 2 swap with the last).
  void Repeat(uint32_t length, unsigned which) {
    Code(length, which);
    const uint32_t distance = last_[which];
    std::swap(last_[which], last_[0]);
    Copy(length, distance);
  }
  // The stream, padded with zero bytes so the decompressor's four bytes read ahead are there.
  Bytes Stream(size_t pad = 8) {
    Bytes out = bytes_;
    if (used_ != 0) out += static_cast<char>(current_ << (8 - used_));
    return out + Bytes(pad, '\0');
  }
  const Bytes& expected() const { return expected_; }
  void Bits(uint32_t v, int n) {
    while (n-- > 0) {
      current_ = static_cast<uint8_t>(current_ << 1 | ((v >> n) & 1));
      if (++used_ == 8) bytes_ += static_cast<char>(current_), used_ = 0, current_ = 0;
    }
  }

 private:
  void Main(unsigned s) {
    ASSERT_NE(main_.lengths.at(s), 0) << "symbol " << s << " has no code";
    Bits(main_.codes[s], main_.lengths[s]);
  }
  // The main symbol for `length` and distance code `v`, then the length's and the distance's bits.
  void Code(uint32_t length, uint32_t v) {
    ASSERT_GE(length, 2u);
    // The distance slot: bases are the sums of 2^extra before each.
    unsigned slot = 0;
    uint32_t base = 0;
    while (slot + 1 < 58 && base + (uint32_t{1} << kAspackDistExtra[slot]) <= v)
      base += uint32_t{1} << kAspackDistExtra[slot++];
    const unsigned k = length <= 8 ? length - 2 : 7;
    Main(256 + 8 * slot + k);
    if (k == 7) {
      unsigned t = 0;
      while (t + 1 < 28 && kAspackLenBase[t + 1] <= length - 9) ++t;
      ASSERT_LT(length - 9 - kAspackLenBase[t], 1u << kAspackLenExtra[t]) << length;
      ASSERT_NE(len_.lengths.at(t), 0) << "length symbol " << t << " has no code";
      Bits(len_.codes[t], len_.lengths[t]);
      Bits(length - 9 - kAspackLenBase[t], kAspackLenExtra[t]);
    }
    const unsigned extra = kAspackDistExtra[slot];
    if (use_align_ && extra >= 3) {
      Bits((v - base) >> 3, static_cast<int>(extra - 3));
      const unsigned a = (v - base) & 7;
      ASSERT_NE(align_.lengths.at(a), 0) << "align symbol " << a << " has no code";
      Bits(align_.codes[a], align_.lengths[a]);
    } else {
      Bits(v - base, static_cast<int>(extra));
    }
  }
  void Copy(uint32_t length, uint32_t distance) {  // distance - 1 as stored: bytes from distance + 1 back
    // A match that reaches before the block (written so, to test its refusal) expects nothing.
    if (size_t{distance} + 1 > expected_.size()) return;
    for (uint32_t i = 0; i < length; ++i) expected_ += expected_[expected_.size() - distance - 1];
  }

  Bytes bytes_, expected_;
  uint8_t current_ = 0;
  int used_ = 0;
  std::vector<uint8_t> prev_;
  CanonicalCode main_{{}}, len_{{}}, align_{{}};
  bool use_align_ = false;
  std::array<uint32_t, 3> last_{};
};

// clam-aspack.exe with its block list replaced (Block) and the streams written where the blocks
// are: .rdata (RVA 0x2000, up to 0x400 bytes) or .clam (0x4000, up to 0x200).
struct Carrier {
  Bytes file;
  // .rdata's raw data grown to 0x400 bytes (over .rsrc's in the file, which .rsrc still maps).
  Carrier() : file(ReadTestFile("clam-aspack.exe")) {
    if (!file.empty()) PutLe(file, kSectionTable + 40 + 16, 0x400, 4);
  }
  void Block(size_t k, uint32_t rva, uint32_t size, const Bytes& stream) {
    PutLe(file, kStub + 0x57c + 8 * k, rva, 4);
    PutLe(file, kStub + 0x57c + 8 * k + 4, size, 4);
    PutLe(file, kStub + 0x57c + 8 * (k + 1), 0, 4);
    const size_t at = rva == 0x2000 ? 0x600 : rva == 0x4000 ? 0xa00 : 0;
    ASSERT_NE(at, 0u);
    ASSERT_LE(stream.size(), rva == 0x2000 ? 0x400u : 0x200u);
    file.replace(at, stream.size(), stream);
  }
  Result<Bytes> Image() const {
    Collected c;
    Status s = ReadAspack(file, {}, c.Sink());
    if (c.members.size() != 1) return Internal("no image: " + s.ToString());
    if (!s.ok()) return s;
    return std::move(c.members[0].data);
  }
};

std::vector<unsigned> Range(unsigned from, unsigned to) {  // [from, to)
  std::vector<unsigned> v;
  for (unsigned i = from; i < to; ++i) v.push_back(i);
  return v;
}

// MAIN's lengths for every literal and the matches of the first eight distance slots.
std::vector<uint8_t> LiteralsAndShortMatches() {
  std::vector<unsigned> syms = Range(0, 256);
  for (unsigned m = 256; m < 256 + 8 * 8; ++m) syms.push_back(m);
  return CompleteLengths(syms, AspackWriter::kMain);
}

// Literals and matches of every length class, at new and repeated distances, raw and through the
// align code; new tables inside the block, coded against the last ones and afresh with runs;
// codes 1 to 15 bits long; a second block starting afresh (its repeated distances 1 again).
TEST(Aspack, EveryCodeUnpacksToWhatItMeans) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  std::vector<unsigned> first = Range(0, 256), second = Range(0, 128);
  for (unsigned m = 256; m < 256 + 8 * 25; ++m) first.push_back(m);
  for (unsigned m = 256; m < 256 + 8 * 31; ++m) second.push_back(m);
  first.push_back(720), second.push_back(720);
  const std::vector<uint8_t> len_all = CompleteLengths(Range(0, 28), 28), flat(8, 3);
  const std::vector<uint8_t> skewed_align = {1, 2, 3, 4, 5, 6, 7, 7};
  // Codes of 1 to 15 bits: each symbol half as likely as the one before, the last two alike.
  const std::vector<unsigned> skewed = {'x',
                                        'y',
                                        'z',
                                        256 + 0,
                                        256 + 8 * 6 + 2,
                                        256 + 8 * 3 + 7,
                                        'q',
                                        'r',
                                        's',
                                        't',
                                        'u',
                                        'v',
                                        'w',
                                        256 + 8 * 1 + 1,
                                        720,
                                        'p'};
  std::vector<uint8_t> skewed_main(AspackWriter::kMain, 0);
  for (size_t i = 0; i < skewed.size(); ++i)
    skewed_main[skewed[i]] = static_cast<uint8_t>(std::min<size_t>(i + 1, 15));

  AspackWriter a;
  a.Tables(CompleteLengths(first, AspackWriter::kMain), len_all, flat, false, true);
  for (char ch : std::string("Hello, ASPack! ")) a.Literal(static_cast<uint8_t>(ch));
  for (uint32_t len = 2; len <= 8; ++len) a.Match(len, len % 5);  // short lengths, slots 3-5
  a.Repeat(3, 0), a.Match(4, 9), a.Repeat(5, 1), a.Repeat(2, 2), a.Repeat(6, 1);
  for (uint32_t len : {9u, 10u, 16u, 17u, 24u, 40u, 100u, 232u, 233u, 264u})
    a.Match(len, 37);                                             // every LEN range
  for (int i = 0; i < 20; ++i) a.Match(264, i % 2 == 0 ? 3 : 0);  // enough bytes for far distances
  for (uint32_t d : {1u, 2u, 3u, 5u, 7u, 11u, 100u, 1000u, 2046u, 2047u, 3071u, 3072u, 5000u})
    a.Match(3, d);  // raw
  a.NewTables(CompleteLengths(second, AspackWriter::kMain), len_all, skewed_align, true, false);
  for (uint32_t d :
       {0u, 4u, 5u, 6u, 7u, 8u, 13u, 29u, 255u, 256u, 777u, 2000u, 2047u, 5000u})  // ALIGN from 5
    a.Match(5, d);
  a.Repeat(4, 2), a.Literal('!'), a.Match(2, 1), a.Repeat(3, 0);
  a.NewTables(skewed_main, CompleteLengths({0, 1}, 28), flat, false, true);
  for (char ch : std::string("xyzqrstuvwp")) a.Literal(static_cast<uint8_t>(ch));
  // The skewed code's matches: a repeat (slot 0), distance 6-9 (slot 6), a long match at distance
  // 1 (slot 3, LEN symbol 1), the second last distance (slot 1).
  a.Repeat(2, 0), a.Match(4, 6), a.Match(10, 0), a.Repeat(3, 1), a.Repeat(2, 0), a.Match(4, 8);
  const Bytes one = a.expected();
  ASSERT_LT(one.size(), 0x2000u) << "block 0 stays below block 1's stream";

  AspackWriter b;  // .clam: its repeated distances start at distance 1
  b.Tables(CompleteLengths(first, AspackWriter::kMain), len_all, flat, false, true);
  b.Literal('z'), b.Repeat(3, 0), b.Repeat(2, 1), b.Repeat(2, 2), b.Literal('y'), b.Match(2, 0);
  const Bytes two = b.expected();

  carrier.Block(0, 0x2000, static_cast<uint32_t>(one.size()), a.Stream());
  carrier.Block(1, 0x4000, static_cast<uint32_t>(two.size()), b.Stream());
  Result<Bytes> image = carrier.Image();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->substr(0x2000, one.size()), one);
  EXPECT_EQ(image->substr(0x4000, two.size()), two);
  EXPECT_EQ(two, "zzzzzzzzyyy");
}

// The stub's E8/E9 filter, as the loop's immediates set it, on the first block only.
TEST(Aspack, FilterAsTheLoopSetsIt) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  auto literals = [](ByteView plain) {
    AspackWriter w;
    w.Tables(CompleteLengths(Range(0, 256), AspackWriter::kMain), CompleteLengths(Range(0, 28), 28),
             std::vector<uint8_t>(8, 3), false, true);
    for (char ch : plain) w.Literal(static_cast<uint8_t>(ch));
    EXPECT_EQ(w.expected(), plain);
    return w.Stream();
  };
  const Bytes plain(
      "ab\xe8\x00\xea\x00\x00\xe9\x00\x05\x00\x00\xe8\x07\x01\x00\x00"
      "c\xe8\x00\x01\x02\x03\x04",
      24);
  carrier.Block(0, 0x2000, 24, literals(plain));
  carrier.Block(1, 0x4000, 24, literals(plain));
  auto run = [&](uint8_t flag, uint8_t e9_jump, uint8_t marker_jump, uint8_t marker, Bytes* second) -> Bytes {
    Carrier c = carrier;
    c.file[kStub + 0xff] = static_cast<char>(flag);
    c.file[kStub + 0x139] = static_cast<char>(e9_jump);
    c.file[kStub + 0x145] = static_cast<char>(marker_jump);
    c.file[kStub + 0x148] = static_cast<char>(marker);
    Result<Bytes> image = c.Image();
    EXPECT_TRUE(image.ok()) << image.status().ToString();
    if (!image.ok()) return "";
    *second = image->substr(0x4000, 24);
    return image->substr(0x2000, 24);
  };
  Bytes second;
  // E8 at 2: 0xea - 2 = 0xe8, so E8 E8 00 (the walk goes on after the operand, not into it); E9
  // at 7: 5 - 7; E8 at 12 is not followed by the marker 0; E8 at 18 is too near the end
  // (positions below 24 - 6 only).
  EXPECT_EQ(run(0, 0, 0, 0, &second), Bytes("ab\xe8\xe8\x00\x00\x00\xe9\xfe\xff\xff\xff\xe8\x07\x01\x00\x00"
                                            "c\xe8\x00\x01\x02\x03\x04",
                                            24));
  EXPECT_EQ(second, plain) << "the second block is not filtered";
  EXPECT_EQ(run(0, 4, 0, 0, &second),  // E8 only
            Bytes("ab\xe8\xe8\x00\x00\x00\xe9\x00\x05\x00\x00\xe8\x07\x01\x00\x00"
                  "c\xe8\x00\x01\x02\x03\x04",
                  24));
  EXPECT_EQ(run(0, 0, 5, 0, &second),  // no marker test: the E8 at 12 too (1 - 12)
            Bytes("ab\xe8\xe8\x00\x00\x00\xe9\xfe\xff\xff\xff\xe8\xf5\xff\xff\xff"
                  "c\xe8\x00\x01\x02\x03\x04",
                  24));
  EXPECT_EQ(run(0, 0, 0, 7, &second),  // marker 7: only the E8 at 12
            Bytes("ab\xe8\x00\xea\x00\x00\xe9\x00\x05\x00\x00\xe8\xf5\xff\xff\xff"
                  "c\xe8\x00\x01\x02\x03\x04",
                  24));
  EXPECT_EQ(run(1, 0, 0, 0, &second), plain) << "the filter is off";
  EXPECT_EQ(second, plain);
  // The last position filtered: 8 - 7 = 1 (0x040302 - 1).
  Carrier last = carrier;
  last.file[kStub + 0xff] = 0;
  last.Block(0, 0x2000, 8, literals(Bytes("x\xe8\x00\x02\x03\x04\x04\x05", 8)));
  Result<Bytes> image = last.Image();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->substr(0x2000, 8), Bytes("x\xe8\x01\x03\x04\x00\x04\x05", 8));
}

// Streams that are no block: incomplete codes, a repeat before the first length, a match before
// the block's start or past its end; each a DataLoss naming its block, the image still yielded.
TEST(Aspack, BadStreamsAreDataLoss) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const std::vector<uint8_t> len_all = CompleteLengths(Range(0, 28), 28), flat(8, 3);
  const std::vector<uint8_t> main = LiteralsAndShortMatches();
  auto expect = [&](AspackWriter& w, uint32_t size, std::string_view message) {
    Carrier c = carrier;
    c.Block(0, 0x2000, size, w.Stream());
    Collected got;
    Status s = ReadAspack(c.file, {}, got.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss) << message;
    EXPECT_NE(
        s.message().find("block 0 (0x2000, " + std::to_string(size) + " bytes): " + std::string(message)),
        std::string::npos)
        << s.message();
    EXPECT_EQ(got.members.size(), 1u);
  };
  {
    AspackWriter w;  // MAIN one leaf short: a symbol of length 9 dropped
    std::vector<uint8_t> short_main = main;
    short_main[300] = 0;
    w.Tables(short_main, len_all, flat, false, false);
    expect(w, 10, "the main code is not complete");
  }
  {
    AspackWriter w;  // 511 codes of 1 bit and 6 of 2: the 32-bit sum wraps to 2^24, but passed it
    std::vector<uint8_t> wrapped(AspackWriter::kMain, 0);
    for (size_t i = 0; i < 517; ++i) wrapped[i] = i < 511 ? 1 : 2;
    w.Tables(wrapped, len_all, flat, false, true);
    expect(w, 10, "the main code is not complete");
  }
  {
    AspackWriter w;  // ALIGN over-full
    w.Tables(main, len_all, {3, 3, 3, 3, 3, 3, 3, 2}, false, false);
    expect(w, 10, "the align code is not complete");
  }
  {
    AspackWriter w;  // a repeat (16) as the first length
    w.Bits(0, 1);
    for (int i = 0; i < 19; ++i) w.Bits(i < 13 ? 4 : 5, 4);
    w.Bits(0b11101, 5);  // PRE's code for 16: the 13 of length 4 take 0000-1100, 16 is the 4th of length 5
    expect(w, 10, "a repeat before the first length");
  }
  {
    AspackWriter w;
    w.Tables(main, len_all, flat, false, false);
    w.Literal('a'), w.Literal('b');
    w.Match(2, 2);  // distance 3 with 2 bytes out
    expect(w, 10, "a match at distance 3 reaches before the block");
  }
  {
    // A block longer than its stream, which ends where the image does: .adata dropped (5
    // sections), .aspack's raw data grown to 0x2000 (the image ends at 0x7000), the stream at its
    // end. The stub's four bytes read ahead are not taken: 3 bytes are OK, 4 run past.
    AspackWriter w;
    w.Tables(main, len_all, flat, false, true);
    w.Literal('a'), w.Literal('b'), w.Literal('c');
    const Bytes stream = w.Stream(0);
    Carrier c = carrier;
    PutLe(c.file, Le32(c.file, 0x3c) + 6, 5, 2);
    PutLe(c.file, kSectionTable + 4 * 40 + 16, 0x2000, 4);
    c.file.resize(kStub + 0x2000, '\0');
    c.file.replace(c.file.size() - stream.size(), stream.size(), stream);
    const uint32_t rva = static_cast<uint32_t>(0x7000 - stream.size());
    PutLe(c.file, kStub + 0x57c, rva, 4);
    PutLe(c.file, kStub + 0x57c + 4, 3, 4);
    PutLe(c.file, kStub + 0x57c + 8, 0, 4);
    Result<Bytes> image = c.Image();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->size(), 0x7000u);
    EXPECT_EQ(image->substr(rva, 3), "abc");
    PutLe(c.file, kStub + 0x57c + 4, 4, 4);
    Collected got;
    Status s = ReadAspack(c.file, {}, got.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss);
    EXPECT_NE(s.message().find("its packed data runs past the image"), std::string::npos) << s.message();
  }
}

// What the stub does at the edges: a last match past the block's end is copied back too (into
// the stub: DataLoss); a block of 0 bytes reads its tables and writes nothing; a run of zero
// lengths longer than the lengths left is cut at the last one.
TEST(Aspack, EdgesAsTheStubHasThem) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  const std::vector<uint8_t> len_all = CompleteLengths(Range(0, 28), 28), flat(8, 3);
  const std::vector<uint8_t> main = LiteralsAndShortMatches();
  {
    AspackWriter w;  // 5 bytes asked, 9 written
    w.Tables(main, len_all, flat, false, true);
    w.Literal('a'), w.Match(8, 0);
    Carrier c = carrier;
    c.Block(0, 0x2000, 5, w.Stream());
    Result<Bytes> image = c.Image();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->substr(0x2000, 10), Bytes("aaaaaaaaa") + c.file[0x600 + 9]);
  }
  {
    // The filter stops short of the block's SIZE - 6 (ClamAV's aspack.c), not of what a last match
    // wrote past SIZE: 3 bytes asked, 11 written, E8 00 at 0 left as it is (filtered, it would
    // become E8 E8 00 E8 00).
    AspackWriter w;
    w.Tables(main, len_all, flat, false, true);
    w.Literal(0xe8), w.Literal(0), w.Match(9, 1);
    ASSERT_EQ(w.expected(), Bytes("\xe8\x00\xe8\x00\xe8\x00\xe8\x00\xe8\x00\xe8", 11));
    Carrier c = carrier;
    c.file[kStub + 0xff] = 0;  // the filter on, for E8 and E9, with the marker 0
    c.file[kStub + 0x139] = 0;
    c.file[kStub + 0x145] = 0;
    c.file[kStub + 0x148] = 0;
    c.Block(0, 0x2000, 3, w.Stream());
    Result<Bytes> image = c.Image();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->substr(0x2000, 11), w.expected());
  }
  {
    AspackWriter w;  // .clam unpacked to its end at 0x5000, the stub, and 8 bytes more
    w.Tables(main, len_all, flat, false, true);
    w.Literal('a');
    for (int i = 0; i < 15; ++i) w.Match(264, 0);
    w.Match(4096 - 1 - 15 * 264 + 8, 0);
    Carrier c = carrier;
    c.Block(0, 0x4000, 4096, w.Stream());
    Collected got;
    Status s = ReadAspack(c.file, {}, got.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss);
    EXPECT_NE(
        s.message().find("block 0 (0x4000, 4096 bytes): its last match runs past its end, over the stub"),
        std::string::npos)
        << s.message();
    AspackWriter exact;  // the same up to the stub: fine
    exact.Tables(main, len_all, flat, false, true);
    exact.Literal('a');
    for (int i = 0; i < 15; ++i) exact.Match(264, 0);
    exact.Match(4096 - 1 - 15 * 264, 0);
    c.Block(0, 0x4000, 4096, exact.Stream());
    Result<Bytes> image = c.Image();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->substr(0x4000, 0x1000), Bytes(0x1000, 'a'));
  }
  {
    AspackWriter zero, next;  // a block of 0 bytes, then one of 3
    zero.Tables(main, len_all, flat, false, true);
    next.Tables(main, len_all, {1, 1, 0, 0, 0, 0, 0, 0}, false, true, true);  // ALIGN's 6 zeros: a run of 138
    next.Literal('x'), next.Literal('y'), next.Match(2, 1);
    Carrier c = carrier;
    c.Block(0, 0x2000, 0, zero.Stream());
    c.Block(1, 0x4000, 4, next.Stream());
    Result<Bytes> image = c.Image();
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->substr(0x2000, 16), c.file.substr(0x600, 16)) << "nothing written";
    EXPECT_EQ(image->substr(0x4000, 4), "xyxy");
  }
}

}  // namespace
}  // namespace accord::scan
