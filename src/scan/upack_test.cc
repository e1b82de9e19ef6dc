#include "scan/upack.h"

#include <gtest/gtest.h>
#include <lzma.h>

#include "crypto/sha256.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// ClamAV's clam-upack.exe: Upack 0.39, three sections; its stream unpacks 0x1000-0x506f, where a
// zip holds clam.exe.
TEST(Upack, ClamavTestFileUnpacksToTheZipHoldingClamExe) {
  Bytes packed = ReadTestFile("clam-upack.exe"), clam = ReadTestFile("clam.exe");
  if (packed.empty() || clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  ASSERT_TRUE(LooksLikeUpack(packed));
  Collected c;
  Status s = ReadUpack(packed, {}, c.Sink());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "Upack");
  const Bytes& image = c.members[0].data;
  EXPECT_EQ(image.size(), 0xf000u);
  EXPECT_FALSE(LooksLikeUpack(image)) << "the image is not unpacked again";
  EXPECT_EQ(image.find("PK\x03\x04"), 0x4e6cu);
  // The whole output, fix-ups included, as ClamAV's unpacker gives it (its rebuilt section, and an
  // independent Python decoder written from the stub, both hash to this).
  EXPECT_EQ(HexEncode(crypto::AsView(crypto::Sha256(image.substr(0x1000, 0x406f)))),
            "180469ae73a0b740bd1a0cc8621dca53a340d20bf293db6c3068d0f40bb4b747");
  EXPECT_NE(image.find("This is a ClamAV test file with the embedded clam.exe"), Bytes::npos);
  WalkResult w = WalkAll(packed, "clam-upack.exe");
  EXPECT_EQ(w.Data("clam-upack.exe!Upack!clam.exe"), clam);
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken"));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Unsupported"))
      << "no copy of the stub is left to be taken for one";
}

// clam-upack.exe (file offsets): the packed data at 0x2ae (766 bytes up to the decoder), the
// parameters P at 0x18c (fix-ups + 4, output start + 0xc, end + 0x34, K + 0x38), the tail's last
// dword (the packed data's address) at 0x188, the fix-ups' marker at 0x140, the decoder's shift at
// 0x641, the state's COUNT at 0xe3.
constexpr size_t kPacked = 0x2ae, kPackedRoom = 0x5ac - 0x2ae, kParams = 0x18c;

// `plain` packed by liblzma's own encoder (raw LZMA1, lc 3, lp 0, pb 0; its leading zero byte
// dropped, as Upack stores it).
Bytes LzmaPack(ByteView plain, ByteView dictionary = {}) {
  lzma_options_lzma o{};
  EXPECT_FALSE(lzma_lzma_preset(&o, 6));
  o.lc = 3, o.lp = 0, o.pb = 0;
  o.preset_dict = reinterpret_cast<const uint8_t*>(dictionary.data());
  o.preset_dict_size = static_cast<uint32_t>(dictionary.size());
  const lzma_filter filters[] = {{LZMA_FILTER_LZMA1, &o}, {LZMA_VLI_UNKNOWN, nullptr}};
  Bytes out(plain.size() + 1024, '\0');
  size_t pos = 0;
  EXPECT_EQ(lzma_raw_buffer_encode(filters, nullptr, reinterpret_cast<const uint8_t*>(plain.data()),
                                   plain.size(), reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  EXPECT_EQ(out[0], '\0');
  return out.substr(1);
}

struct Carrier {
  Bytes file = ReadTestFile("clam-upack.exe");
  // The output: `plain`'s size from 0x401000, its packed bytes in place of clam's.
  void Stream(ByteView plain, uint32_t fixups = 0, uint32_t start = 0x1000, ByteView dictionary = {}) {
    Bytes packed = LzmaPack(plain, dictionary);
    ASSERT_LE(packed.size(), kPackedRoom);
    file.replace(kPacked, packed.size(), packed);
    PutLe(file, kParams + 0xc, 0x400000 + start, 4);
    PutLe(file, kParams + 0x34, 0x400000 + start + plain.size(), 4);
    PutLe(file, kParams + 4, fixups, 4);
  }
  Result<Bytes> Image() const {
    Collected c;
    Status s = ReadUpack(file, {}, c.Sink());
    if (c.members.size() != 1) return Internal("no image: " + s.ToString());
    if (!s.ok()) return s;
    return std::move(c.members[0].data);
  }
};

// Streams of liblzma's encoder (an independent implementation of the format) unpack to what was
// packed; the fix-ups as the stub makes them: E8 or E9 followed by the marker, the top three
// bytes of the operand big-endian + K - the operand's address, the walk going on after each and
// from the byte after a near miss, F of them.
TEST(Upack, LzmaStreamsAndFixups) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Bytes plain("ab\xe8\x00\x00\x00\xef\xe8\x07\xe8\x00\x00\x00\x30\xe9\x00\x00\x00\x40\xe8\x00\x01\x02\x03",
              24);
  for (int i = 0; plain.size() < 3000; ++i) plain += "upack test line " + std::to_string(i % 37) + "\n";
  carrier.Stream(plain, 3);
  Result<Bytes> image = carrier.Image();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  Bytes fixed = plain;
  // At 2: 0xef + 0x400ffc - 0x401003 = 0xe8 (E8 00 again, which is not taken: the walk goes on
  // after the operand); at 9 (after E8 07): 0x30 + 0x400ffc - 0x40100a; E9 at 14: 0x40 + 0x400ffc
  // - 0x40100f; the fourth is past F.
  fixed.replace(3, 4, Bytes("\xe8\x00\x00\x00", 4));
  fixed.replace(10, 4, Bytes("\x22\x00\x00\x00", 4));
  fixed.replace(15, 4, Bytes("\x2d\x00\x00\x00", 4));
  EXPECT_EQ(image->substr(0x1000, plain.size()), fixed);
  // The marker set to 7: only the E8 07 at 7 (its operand 07 e8 00 00: 0xe80000 + K - 0x401008).
  Carrier marked = carrier;
  marked.file[0x140] = 7;
  PutLe(marked.file, kParams + 4, 1, 4);
  image = marked.Image();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  fixed = plain;
  fixed.replace(8, 4, Bytes("\xf4\xff\xe7\x00", 4));
  EXPECT_EQ(image->substr(0x1000, plain.size()), fixed);
}

// The image before the output is the stream's dictionary, as the stub reads it: the first
// literal's context is the byte before the output ('M' of the headers' copy at 0x1000), and
// matches may reach before the output.
TEST(Upack, TheImageBeforeTheOutputIsItsDictionary) {
  Carrier carrier;
  if (carrier.file.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // The image below 0x1000: the headers (the file's first 512 bytes), zeros; at 0x1000 the first
  // section maps the file's first byte.
  Result<Bytes> unpacked = carrier.Image();
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  ASSERT_EQ(unpacked->substr(0x200, 0xe00), Bytes(0xe00, '\0'));
  const Bytes dictionary = carrier.file.substr(0, 0x200) + Bytes(0xe00, '\0') + carrier.file[0];
  ASSERT_EQ(dictionary.back(), 'M');
  Bytes plain =
      "Z" + dictionary.substr(0x1000 - 0x100, 0x40) + "literal after 'M'" + dictionary.substr(0, 0x80);
  carrier.Stream(plain, 0, 0x1001, dictionary);
  Result<Bytes> image = carrier.Image();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->substr(0x1001, plain.size()), plain);
}

// Damage in the packed data ends in OK or DataLoss with the image yielded; a stub that differs in
// any piece is Unimplemented with nothing yielded; bad parameters are DataLoss naming them.
TEST(Upack, DamageEndsInAStatus) {
  Bytes packed = ReadTestFile("clam-upack.exe");
  if (packed.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  EXPECT_GT(FlipEach(packed, kPacked, 0x5a5, 3, ReadUpack), 50u);  // the whole stream
  for (auto [at, value] : {std::pair{size_t{0xa1}, 0x77},
                           {0xd8, 0x41},
                           {0x5ac + 0x10, 0x90},
                           {0xf0 + 0x10, 0x90},
                           {kParams, 0x00},
                           {kParams + 0x10, 0x12},
                           {0x641, 1},
                           {0xe3, 0x10},
                           {0xad, 0x28},
                           {0xf0 + 0x3b, 0}}) {
    Bytes other = packed;
    other[at] = static_cast<char>(value);
    Collected c;
    Status s = ReadUpack(other, {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kUnimplemented) << at << ": " << s.ToString();
    EXPECT_TRUE(c.members.empty()) << at;
  }
  Bytes wide = packed;  // lc 5: Upack's stub takes it, liblzma does not
  wide[0x641] = 3;
  Collected c;
  Status s = ReadUpack(wide, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kUnimplemented);
  EXPECT_NE(s.message().find("liblzma"), std::string::npos) << s.message();
  for (auto [at, value, message] :
       {std::tuple{kParams + 0xc, 0x500000u, "its output (0x500000 to 0x40506f) lies outside the image"},
        {kParams + 0x34, 0x406400u, "its output or coder's state lies over the stub"},
        {kParams + 4, 1000u, "its fix-ups run past its output"},
        {size_t{0x188}, 0x40effcu, "its packed data runs past the image"},
        {size_t{0x188}, 0x300000u, "its packed data lies outside the image"},
        {size_t{0x188}, 0x400f00u, "its packed data runs into its output or coder's state"},
        {size_t{0x188}, 0x401100u, "its packed data lies under its output or coder's state"}}) {
    Bytes bad = packed;
    PutLe(bad, at, value, 4);
    c.members.clear();
    s = ReadUpack(bad, {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kDataLoss) << message;
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
    EXPECT_EQ(c.members.size(), 1u) << message;
    EXPECT_EQ(ReadUpack(bad, {}, Declining()).code(), Code::kDataLoss) << message << ", member declined";
  }
  ReaderOptions small;
  small.max_total_bytes = 0xf000 + 0x1000;
  EXPECT_EQ(ReadUpack(packed, small, c.Sink()).code(), Code::kResourceExhausted);
  EXPECT_FALSE(LooksLikeUpack(ReadTestFile("clam-aspack.exe")));
  EXPECT_FALSE(LooksLikeUpack(ReadTestFile("clam-mew.exe")));
  EXPECT_EQ(ReadUpack("MZ", {}, c.Sink()).code(), Code::kDataLoss);
}

}  // namespace
}  // namespace accord::scan
