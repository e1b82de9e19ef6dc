#include "scan/sis.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

Bytes Deflate(ByteView in) {
  uLongf n = compressBound(static_cast<uLong>(in.size()));
  Bytes out(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
                     static_cast<uLong>(in.size())),
            Z_OK);
  out.resize(n);
  return out;
}

const Bytes kExe = "MZ\x90 an executable that a Symbian installer puts on the phone";

// A release 6 SIS file with one simple-file record: header, the record at 100, the UTF-16 name
// at 200, the file at 300.
struct Sis {
  Bytes bytes;
  static constexpr size_t kRecord = 100, kName = 200, kData = 300;
};
Sis BuildSis(ByteView content, bool compress = true, std::string_view dest = "!:\\system\\apps\\clam.exe") {
  Sis s;
  Bytes stored = compress ? Deflate(content) : Bytes(content);
  Bytes& b = s.bytes;
  PutLe(b, 0, 0x10000001, 4);
  PutLe(b, 4, 0x10003A12, 4);
  PutLe(b, 8, 0x10000419, 4);
  PutLe(b, 18, 1, 2);                     // languages
  PutLe(b, 20, 1, 2);                     // records
  PutLe(b, 36, compress ? 0x1 : 0x9, 2);  // UTF-16 names, maybe stored
  PutLe(b, 52, Sis::kRecord, 4);          // file records
  size_t r = Sis::kRecord;
  for (uint64_t v : {uint64_t{0}, uint64_t{0}, uint64_t{0}, uint64_t{0}, uint64_t{0}, 2 * dest.size(),
                     uint64_t{Sis::kName}, stored.size(), uint64_t{Sis::kData}, content.size(), uint64_t{0},
                     uint64_t{0}}) {
    PutLe(b, r, v, 4);
    r += 4;
  }
  for (size_t i = 0; i < dest.size(); ++i)
    PutLe(b, Sis::kName + 2 * i, static_cast<unsigned char>(dest[i]), 2);
  b.resize(Sis::kData, '\0');
  b += stored;
  return s;
}

TEST(SisTest, FilesAreMembersNamedByTheirDestination) {
  Sis s = BuildSis(kExe);
  ASSERT_TRUE(LooksLikeSis(s.bytes));
  WalkResult w = WalkAll(s.bytes, "x.sis");
  EXPECT_EQ(w.Data("x.sis!clam.exe"), kExe);
  EXPECT_TRUE(w.events.empty());
  WalkResult stored = WalkAll(BuildSis(kExe, false, "!:\\a.txt").bytes, "y.sis");
  EXPECT_EQ(stored.Data("y.sis!a.txt"), kExe);
}

TEST(SisTest, ClamavSisYieldsClamExe) {
  Bytes exe = ReadTestFile("clam.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(ReadTestFile("clam.sis"), "clam.sis");
  EXPECT_EQ(w.Data("clam.sis!clam.exe"), exe);
  EXPECT_TRUE(w.events.empty());
}

TEST(SisTest, PointersOutsideTheFileAndUnknownRecordsAreBroken) {
  for (size_t field : {size_t{52}, Sis::kRecord + 32, Sis::kRecord + 28}) {  // records, data, its length
    Sis s = BuildSis(kExe);
    PutLe(s.bytes, field, 0xfffffff0u, 4);
    EXPECT_TRUE(WalkAll(s.bytes, "x.sis").HasEvent("Heuristics.Broken.SIS")) << field;
  }
  Sis s = BuildSis(kExe);
  PutLe(s.bytes, Sis::kRecord, 9, 4);
  EXPECT_TRUE(WalkAll(s.bytes, "x.sis").HasEvent("Heuristics.Broken.SIS"));
  PutLe(s.bytes, 18, 0, 2);  // no languages
  EXPECT_TRUE(WalkAll(s.bytes, "x.sis").HasEvent("Heuristics.Broken.SIS"));
}

TEST(SisTest, ManyRecordsAndEveryCutEndWithAnEvent) {
  Sis s = BuildSis(kExe);
  PutLe(s.bytes, 20, 0xffff, 2);  // 65535 records declared, one there: the rest run off the end
  WalkResult w = WalkAll(s.bytes, "x.sis");
  EXPECT_EQ(w.Data("x.sis!clam.exe"), kExe);
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.SIS"));
  Sis ok = BuildSis(kExe);
  for (size_t cut = 12; cut < ok.bytes.size(); ++cut) {
    EXPECT_TRUE(WalkAll(ok.bytes.substr(0, cut), "t.sis").HasEvent("Heuristics.Broken.SIS")) << cut;
  }
}

}  // namespace
}  // namespace accord::scan
