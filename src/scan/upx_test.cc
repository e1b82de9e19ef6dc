#include "scan/upx.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ucl/ucl.h>
#include <zlib.h>

#include <cstring>

#include "scan/pe.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

uint32_t Adler(ByteView d) {
  return static_cast<uint32_t>(
      adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
}

// A PE32 laid out as UPX lays out its output: headers with the pack header at 0x3e0, an empty
// UPX0, and UPX1 holding the packed data and then the stub (`pusha; mov esi, <packed data>`) at the
// entry point.
Bytes UpxLike(ByteView image, int method) {
  Bytes packed(image.size() + image.size() / 8 + 256, '\0');
  ucl_compress_config_t conf;
  std::memset(&conf, 0xff, sizeof conf);  // -1: UCL's defaults
  conf.bb_endian = 0;                     // UPX's i386 stubs: a 32-bit little-endian bit buffer
  conf.bb_size = 32;
  ucl_uint packed_len = static_cast<ucl_uint>(packed.size());
  auto in = reinterpret_cast<const ucl_bytep>(image.data());
  auto out = reinterpret_cast<ucl_bytep>(packed.data());
  int r = method == 2 ? ucl_nrv2b_99_compress(in, image.size(), out, &packed_len, nullptr, 10, &conf, nullptr)
          : method == 5
              ? ucl_nrv2d_99_compress(in, image.size(), out, &packed_len, nullptr, 10, &conf, nullptr)
              : ucl_nrv2e_99_compress(in, image.size(), out, &packed_len, nullptr, 10, &conf, nullptr);
  EXPECT_EQ(r, UCL_E_OK);
  packed.resize(packed_len);
  const uint32_t base = 0x400000, upx1 = 0x100000;
  Bytes b(0x400, '\0');
  b[0] = 'M';
  b[1] = 'Z';
  PutLe(b, 0x3c, 0x80, 4);
  b.replace(0x80, 4, std::string("PE\0\0", 4));
  PutLe(b, 0x86, 2, 2);     // sections
  PutLe(b, 0x94, 0xe0, 2);  // optional header size
  size_t opt = 0x98;
  PutLe(b, opt, 0x10b, 2);
  PutLe(b, opt + 16, upx1 + packed.size(), 4);  // entry point: the stub after the packed data
  PutLe(b, opt + 28, base, 4);
  size_t table = opt + 0xe0;
  b.replace(table, 4, "UPX0");
  PutLe(b, table + 8, 0x100000, 4);  // virtual size
  PutLe(b, table + 12, 0x1000, 4);   // rva; no raw data
  b.replace(table + 40, 4, "UPX1");
  PutLe(b, table + 40 + 8, 0x10000, 4);
  PutLe(b, table + 40 + 12, upx1, 4);
  PutLe(b, table + 40 + 16, packed.size() + 16, 4);
  PutLe(b, table + 40 + 20, 0x400, 4);
  // The pack header.
  size_t h = 0x3e0;
  b.replace(h, 4, "UPX!");
  b[h + 4] = 13;  // version
  b[h + 5] = 9;   // win32/pe
  b[h + 6] = static_cast<char>(method);
  b[h + 7] = 10;
  PutLe(b, h + 8, Adler(image), 4);
  PutLe(b, h + 12, Adler(packed), 4);
  PutLe(b, h + 16, image.size(), 4);
  PutLe(b, h + 20, packed.size(), 4);
  b += packed;
  Bytes stub = "\x60\xbe";
  PutLe(stub, 2, base + upx1, 4);
  stub += std::string("\x8d\xbe\x00\x00\xff\xff\x57\x83\xcd\xff", 10);
  return b + stub;
}

// A small program to carry: a PE header and one section.
Bytes Payload() {
  Bytes p(0x200, '\0');
  p[0] = 'M';
  p[1] = 'Z';
  PutLe(p, 0x3c, 0x40, 4);
  p.replace(0x40, 4, std::string("PE\0\0", 4));
  PutLe(p, 0x46, 1, 2);
  PutLe(p, 0x54, 0xe0, 2);
  PutLe(p, 0x58, 0x10b, 2);
  size_t table = 0x58 + 0xe0;
  PutLe(p, table + 16, 0x100, 4);  // raw size
  PutLe(p, table + 20, 0x200, 4);  // raw offset: the payload is 0x300 bytes
  p.resize(0x300, 'P');
  return p;
}

TEST(UpxTest, EveryNrvMethodUnpacksAndTheEmbeddedProgramIsCarved) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  Bytes image = Bytes(5000, '\x90') + Payload() + Bytes(3000, 'z');
  for (int method : {2, 5, 8}) {
    Bytes exe = UpxLike(image, method);
    ASSERT_TRUE(LooksLikeUpx(exe)) << method;
    Collected c;
    Status s = ReadUpx(exe, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << method << ": " << s.message();
    ASSERT_EQ(c.members.size(), 2u) << method;
    EXPECT_EQ(c.members[0].name, "UPX");
    EXPECT_TRUE(c.members[0].data == image) << method;
    EXPECT_EQ(c.members[1].name, "UPX@5000");
    EXPECT_EQ(c.members[1].data, Payload());
  }
}

TEST(UpxTest, AnArchiveAppendedToAPackedProgramIsStillOpened) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  Bytes clam = ReadTestFile("clam.exe"), zip = ReadTestFile("clam.zip");
  if (clam.empty() || zip.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Bytes image = Bytes(4000, 'a') + Payload();
  WalkResult w = WalkAll(UpxLike(image, 8) + zip, "sfx.exe");
  EXPECT_TRUE(w.Data("sfx.exe!UPX") == image);
  EXPECT_TRUE(w.Contains(clam));  // the zip after the packed sections
}

TEST(UpxTest, ClamavUpxTestFile) {
  Bytes clam = ReadTestFile("clam.exe"), upx = ReadTestFile("clam-upx.exe");
  if (clam.empty() || upx.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Collected c;
  EXPECT_TRUE(ReadUpx(upx, {}, c.Sink()).ok());
  ASSERT_GE(c.members.size(), 2u);
  EXPECT_EQ(c.members[0].data.size(), 16906u);  // the pack header's length, checksum verified
  EXPECT_EQ(c.members[1].name, "UPX@15840");
  EXPECT_EQ(c.members[1].data, clam);
}

TEST(UpxTest, DamageAndLies) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  Bytes image = Bytes(4000, 'a') + Payload();
  Bytes exe = UpxLike(image, 8);
  // A flipped byte in the packed data: its checksum no longer matches, nothing is unpacked.
  Bytes flipped = exe;
  flipped[0x400 + 20] ^= 0x01;
  Collected c;
  Status s = ReadUpx(flipped, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_TRUE(c.members.empty());
  // A header that claims an unpacked length 10,000 times the packed one: refused up front.
  Bytes liar = exe;
  PutLe(liar, 0x3e0 + 16, 0xfffffff0u, 4);
  EXPECT_EQ(ReadUpx(liar, {}, c.Sink()).code(), Code::kDataLoss);
  // A wrong unpacked checksum: the image is yielded, and DataLoss said.
  Bytes bad_sum = exe;
  PutLe(bad_sum, 0x3e0 + 8, 12345, 4);
  Collected d;
  EXPECT_EQ(ReadUpx(bad_sum, {}, d.Sink()).code(), Code::kDataLoss);
  EXPECT_FALSE(d.members.empty());
  // An image larger than the container may still produce: not unpacked at all.
  ReaderOptions tight;
  tight.max_total_bytes = 1000;
  EXPECT_EQ(ReadUpx(exe, tight, c.Sink()).code(), Code::kResourceExhausted);
  // LZMA: recognised, not unpacked.
  Bytes lzma = exe;
  lzma[0x3e0 + 6] = 14;
  EXPECT_EQ(ReadUpx(lzma, {}, c.Sink()).code(), Code::kUnimplemented);
  // The cap: exactly that many bytes of the image.
  ReaderOptions small;
  small.max_member_bytes = 1000;
  Collected capped;
  EXPECT_TRUE(ReadUpx(exe, small, capped.Sink()).ok());
  ASSERT_FALSE(capped.members.empty());
  EXPECT_EQ(capped.members[0].data, image.substr(0, 1000));
  // Not UPX: a "UPX!" string in a program that is no PE, or with an unknown format.
  EXPECT_FALSE(LooksLikeUpx("MZ UPX! but no PE header at all, and more text to fill the header"));
}

}  // namespace
}  // namespace accord::scan

namespace accord::scan {
namespace {

// A program holding others (a dropper's payload in a section or resource), as ClamAV scans a PE's
// embedded PEs: each carved to its sections' end, at most kMaxEmbeddedPrograms.
TEST(EmbeddedPeTest, ProgramsInsideAProgramAreCarved) {
  Bytes host = Payload();
  host.resize(0x200);  // its headers, then data of its own
  host += Bytes(0x40, 'x') + "MZ not a header" + Payload() + Bytes(0x80, 'y');
  EXPECT_FALSE(HasEmbeddedPe(Payload()));
  ASSERT_TRUE(HasEmbeddedPe(host));
  Collected c;
  ASSERT_TRUE(ReadEmbeddedPes(host, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "PE@" + std::to_string(0x200 + 0x40 + 15));
  EXPECT_EQ(c.members[0].data, Payload());

  // No cap of the reader's own: every program is handed over, and the walker's MaxFiles stops a
  // host that holds more than it admits, and says so (16 were taken before, the rest skipped
  // silently: a payload as the 17th was never opened).
  Bytes many = host.substr(0, 0x200);
  for (int i = 0; i < 20; ++i) many += Payload();
  Collected m;
  ASSERT_TRUE(ReadEmbeddedPes(many, {}, m.Sink()).ok());
  ASSERT_EQ(m.members.size(), 20u);
  EXPECT_EQ(m.members[19].name, "PE@" + std::to_string(0x200 + 19 * Payload().size()));
  ContainerLimits few;
  few.max_files = 5;
  WalkResult capped = WalkAll(many, "many.exe", few);
  EXPECT_TRUE(capped.HasEvent("Heuristics.Limits.Exceeded.MaxFiles"));
  EXPECT_EQ(capped.Data("many.exe!PE@" + std::to_string(0x200 + 4 * Payload().size())), Payload());
  EXPECT_FALSE(capped.items.count("many.exe!PE@" + std::to_string(0x200 + 5 * Payload().size())));

  Collected none;
  EXPECT_EQ(ReadEmbeddedPes("not a program MZ", {}, none.Sink()).code(), Code::kDataLoss);
  EXPECT_TRUE(none.members.empty());
  // Headers nested in headers, each claiming the rest of the file: carvings do not overlap, so
  // each level yields one program and the walk stays linear (it was exponential in their number).
  Bytes nested = host.substr(0, 0x200);
  for (int i = 0; i < 40; ++i) {
    Bytes h = Payload().substr(0, 0x140);
    PutLe(h, 0x58 + 0xe0 + 16, 0x100000, 4);  // raw size: past the end of the file
    nested += h;
  }
  WalkResult deep = WalkAll(nested, "nested.exe");
  EXPECT_LE(deep.items.size(), 20u);
  EXPECT_TRUE(deep.HasEvent("Heuristics.Limits.Exceeded.MaxRecursion"));
  // Walked: the embedded program is an item of its own.
  WalkResult w = WalkAll(host, "dropper.exe");
  EXPECT_EQ(w.Data("dropper.exe!PE@" + std::to_string(0x200 + 0x40 + 15)), Payload());
}

}  // namespace
}  // namespace accord::scan
