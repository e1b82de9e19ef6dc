#include "scan/pe.h"

#include <gtest/gtest.h>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// A PE32 of two sections: the first's raw data at `first_raw` (0x100 bytes), the second without
// raw data (its offset unaligned), the given file alignment; the file's bytes from 0x200 on are a
// counting pattern.
Bytes TwoSections(uint32_t first_raw, uint32_t file_alignment) {
  Bytes f(0x400, '\0');
  f.replace(0, 2, "MZ");
  PutLe(f, 0x3c, 0x40, 4);
  f.replace(0x40, 4, Bytes("PE\0\0", 4));
  PutLe(f, 0x44, 0x14c, 2);  // i386
  PutLe(f, 0x46, 2, 2);      // sections
  PutLe(f, 0x54, 0xe0, 2);   // optional header size
  const size_t opt = 0x58;
  PutLe(f, opt, 0x10b, 2);        // PE32
  PutLe(f, opt + 16, 0x1000, 4);  // entry
  PutLe(f, opt + 28, 0x400000, 4);
  PutLe(f, opt + 32, 0x1000, 4);  // section alignment
  PutLe(f, opt + 36, file_alignment, 4);
  PutLe(f, opt + 92, 16, 4);  // data directories
  const size_t table = opt + 0xe0;
  f.replace(table, 8, Bytes(".a\0\0\0\0\0\0", 8));
  PutLe(f, table + 8, 0x1000, 4);
  PutLe(f, table + 12, 0x1000, 4);
  PutLe(f, table + 16, 0x100, 4);
  PutLe(f, table + 20, first_raw, 4);
  f.replace(table + 40, 8, Bytes(".b\0\0\0\0\0\0", 8));
  PutLe(f, table + 48, 0x100, 4);
  PutLe(f, table + 52, 0x2000, 4);
  PutLe(f, table + 56, 0, 4);
  PutLe(f, table + 60, 0x333, 4);
  for (size_t i = 0x200; i < f.size(); ++i) f[i] = static_cast<char>(i & 0xff);
  return f;
}

// Windows' loader reads a section from PointerToRawData rounded down to 512 (file alignment 512
// or more), the bytes below it included; a section without raw data maps nothing.
TEST(Pe, SectionsAreMappedAsTheLoaderMapsThem) {
  const Bytes f = TwoSections(0x210, 0x200);
  std::optional<PeImage> pe = ParsePe(f);
  ASSERT_TRUE(pe.has_value());
  EXPECT_EQ(pe->file_alignment, 0x200u);
  EXPECT_EQ(pe->section_alignment, 0x1000u);
  ASSERT_EQ(pe->sections.size(), 2u);
  EXPECT_EQ(pe->sections[0].raw_offset, 0x210u);
  EXPECT_EQ(pe->sections[0].mapped_offset, 0x200u);
  EXPECT_EQ(pe->sections[0].mapped_size, 0x110u);
  EXPECT_EQ(pe->sections[1].mapped_size, 0u);
  Result<Bytes> image = PeMemoryImage(f, *pe, {}, "test");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->substr(0x1000, 0x110), f.substr(0x200, 0x110));
  EXPECT_EQ(image->substr(0x1110, 0x10), Bytes(0x10, '\0'));
  EXPECT_EQ(image->substr(0x2000, 0x100), Bytes(0x100, '\0')) << "no raw data, no file bytes";
  EXPECT_EQ(PeBytesAt(f, *pe, 0x1004, 4), f.substr(0x204, 4));
  EXPECT_EQ(PeOffsetOf(*pe, 0x1004, f.size()), 0x204u);
  EXPECT_FALSE(PeOffsetOf(*pe, 0x2004, f.size()).has_value());
  EXPECT_EQ(PeHeaderSize(f, *pe), 0x200u);
  // Under 512 bytes of file alignment the offset is taken as it is.
  const Bytes low = TwoSections(0x210, 0x10);
  pe = ParsePe(low);
  ASSERT_TRUE(pe.has_value());
  EXPECT_EQ(pe->sections[0].mapped_offset, 0x210u);
  EXPECT_EQ(PeBytesAt(low, *pe, 0x1000, 4), low.substr(0x210, 4));
}

}  // namespace
}  // namespace accord::scan
