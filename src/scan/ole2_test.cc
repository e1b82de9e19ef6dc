#include "scan/ole2.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "scan/ole1.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

constexpr uint32_t kNone = 0xFFFFFFFF;
constexpr uint32_t kEnd = 0xFFFFFFFE;

void Put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<char>(v & 0xff);
  b[off + 1] = static_cast<char>(v >> 8);
}
void Put32(Bytes& b, size_t off, uint32_t v) {
  Put16(b, off, static_cast<uint16_t>(v & 0xffff));
  Put16(b, off + 2, static_cast<uint16_t>(v >> 16));
}
Bytes Le32Bytes(uint32_t v) {
  Bytes b(4, '\0');
  Put32(b, 0, v);
  return b;
}

// One directory entry of a test compound file; entry 0 is the root.
struct CfbEntry {
  std::string name;  // ASCII; "\x01Ole10Native" works
  uint8_t type = 2;  // 1 storage, 2 stream, 5 root
  Bytes data;        // streams only
  uint32_t left = kNone, right = kNone, child = kNone;
};

// A version 3 compound file (512-byte sectors) with no mini stream (cutoff 0, so every stream is
// in the FAT): sector 0 is the FAT, then the directory, then each stream's sectors in order.
struct Cfb {
  Bytes bytes;
  std::vector<uint32_t> first_sector;  // per entry
  size_t FatEntryOffset(uint32_t sector) const { return 512 + 4 * size_t{sector}; }
  size_t DirEntryOffset(uint32_t id) const { return 1024 + 128 * size_t{id}; }
};

Cfb BuildCfb(const std::vector<CfbEntry>& entries) {
  Cfb c;
  const uint32_t dir_sectors = static_cast<uint32_t>((entries.size() + 3) / 4);
  std::vector<uint32_t> fat{0xFFFFFFFD};
  for (uint32_t i = 0; i < dir_sectors; ++i) fat.push_back(i + 1 < dir_sectors ? i + 2 : kEnd);
  Bytes body(512 * size_t{dir_sectors}, '\0');
  c.first_sector.assign(entries.size(), kEnd);
  Bytes data_area;
  for (size_t id = 0; id < entries.size(); ++id) {
    const CfbEntry& e = entries[id];
    size_t off = 128 * id;
    for (size_t i = 0; i < e.name.size(); ++i)
      Put16(body, off + 2 * i, static_cast<unsigned char>(e.name[i]));
    Put16(body, off + 0x40, static_cast<uint16_t>(2 * (e.name.size() + 1)));
    body[off + 0x42] = static_cast<char>(e.type);
    Put32(body, off + 0x44, e.left);
    Put32(body, off + 0x48, e.right);
    Put32(body, off + 0x4c, e.child);
    if (e.type == 2 && !e.data.empty()) {
      uint32_t first = static_cast<uint32_t>(fat.size());
      uint32_t n = static_cast<uint32_t>((e.data.size() + 511) / 512);
      for (uint32_t i = 0; i < n; ++i) fat.push_back(i + 1 < n ? first + i + 1 : kEnd);
      Bytes padded = e.data;
      padded.resize(512 * size_t{n}, '\0');
      data_area += padded;
      c.first_sector[id] = first;
      Put32(body, off + 0x74, first);
      Put32(body, off + 0x78, static_cast<uint32_t>(e.data.size()));
    } else {
      Put32(body, off + 0x74, kEnd);
    }
  }
  EXPECT_LE(fat.size(), 128u);
  Bytes header(512, '\0');
  header.replace(0, 8, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
  Put16(header, 0x18, 0x3e);
  Put16(header, 0x1a, 3);
  Put16(header, 0x1c, 0xfffe);
  Put16(header, 0x1e, 9);
  Put16(header, 0x20, 6);
  Put32(header, 0x2c, 1);     // FAT sectors
  Put32(header, 0x30, 1);     // first directory sector
  Put32(header, 0x38, 0);     // mini stream cutoff: none
  Put32(header, 0x3c, kEnd);  // no miniFAT
  Put32(header, 0x44, kEnd);  // no DIFAT sectors
  for (size_t i = 0; i < 109; ++i) Put32(header, 0x4c + 4 * i, i == 0 ? 0 : kNone);
  Bytes fat_sector(512, '\xff');
  for (size_t i = 0; i < fat.size(); ++i) Put32(fat_sector, 4 * i, fat[i]);
  c.bytes = header + fat_sector + body + data_area;
  return c;
}

// The Packager's native data (ole1.h), with its size prefix.
Bytes Ole10Native(ByteView content, std::string_view source = "C:\\docs\\clam.exe") {
  Bytes rest("\x02\x00", 2);
  rest += "clam.exe";
  rest.push_back('\0');
  rest += source;
  rest.push_back('\0');
  rest += Bytes("\x00\x00\x03\x00", 4);
  rest += Le32Bytes(static_cast<uint32_t>(source.size() + 1));
  rest += source;
  rest.push_back('\0');
  rest += Le32Bytes(static_cast<uint32_t>(content.size()));
  rest += content;
  return Le32Bytes(static_cast<uint32_t>(rest.size())) + rest;
}

const Bytes kExe = "MZ\x90 a stand-in for an executable that a document carries as an embedded package";

// Root -> {WordDocument, ObjectPool -> {\x01Ole10Native}}, siblings as a small tree.
std::vector<CfbEntry> DocEntries() {
  std::vector<CfbEntry> e(4);
  e[0] = {"Root Entry", 5, "", kNone, kNone, 1};
  e[1] = {"WordDocument", 2, Bytes(700, 'w'), kNone, 2, kNone};
  e[2] = {"ObjectPool", 1, "", kNone, kNone, 3};
  e[3] = {"\x01Ole10Native", 2, Ole10Native(kExe), kNone, kNone, kNone};
  return e;
}

TEST(Ole2Test, EveryStreamIsAMemberNamedByItsPath) {
  Cfb c = BuildCfb(DocEntries());
  ASSERT_TRUE(LooksLikeOle2(c.bytes));
  WalkResult w = WalkAll(c.bytes, "x.doc");
  EXPECT_EQ(w.Data("x.doc!WordDocument"), Bytes(700, 'w'));
  EXPECT_EQ(w.Data("x.doc!ObjectPool/_Ole10Native"), Ole10Native(kExe));
  EXPECT_EQ(w.Data("x.doc!ObjectPool/_Ole10Native!clam.exe"), kExe);
  EXPECT_TRUE(w.events.empty()) << w.events[0].message;
}

TEST(Ole2Test, ClamavDocAndPptYieldTheEmbeddedExe) {
  Bytes exe = ReadTestFile("clam.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult doc = WalkAll(ReadTestFile("clam.ole.doc"), "clam.ole.doc");
  EXPECT_EQ(doc.Data("clam.ole.doc!ObjectPool/_1279313719/_Ole10Native!clam.exe"), exe);
  EXPECT_TRUE(doc.events.empty());
  WalkResult ppt = WalkAll(ReadTestFile("clam.ppt"), "clam.ppt");
  EXPECT_EQ(ppt.Data("clam.ppt!PowerPoint Document!ExOleObjStg1!_Ole10Native!clam.exe"), exe);
  EXPECT_TRUE(ppt.events.empty());
}

TEST(Ole2Test, CyclicStreamChainEndsWithAnEvent) {
  std::vector<CfbEntry> e = DocEntries();
  e[1].data = Bytes(1500, 'w');  // three sectors
  Cfb c = BuildCfb(e);
  uint32_t s = c.first_sector[1];
  Put32(c.bytes, c.FatEntryOffset(s + 2), s);               // the last sector points back to the first
  Put32(c.bytes, c.DirEntryOffset(1) + 0x78, 0xFFFFFFF0u);  // and the size says 4 GiB
  auto start = std::chrono::steady_clock::now();
  WalkResult w = WalkAll(c.bytes, "x.doc");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.OLE2"));
  EXPECT_LE(w.Data("x.doc!WordDocument").size(), 128u * 512);
  EXPECT_EQ(w.Data("x.doc!ObjectPool/_Ole10Native!clam.exe"), kExe);  // the rest is still read
}

TEST(Ole2Test, CyclicDirectoryChainAndTreeEndWithAnEvent) {
  Cfb chain = BuildCfb(DocEntries());
  Put32(chain.bytes, chain.FatEntryOffset(1), 1);  // the directory's sector points to itself
  EXPECT_TRUE(WalkAll(chain.bytes, "x").HasEvent("Heuristics.Broken.OLE2"));

  std::vector<CfbEntry> e = DocEntries();
  e[3].left = 2;  // the stream's sibling is its own storage: a cycle in the tree
  WalkResult w = WalkAll(BuildCfb(e).bytes, "x");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.OLE2"));
  EXPECT_EQ(w.Data("x!ObjectPool/_Ole10Native!clam.exe"), kExe);

  e = DocEntries();
  e[1].right = 77;  // an entry that does not exist
  EXPECT_TRUE(WalkAll(BuildCfb(e).bytes, "x").HasEvent("Heuristics.Broken.OLE2"));
}

TEST(Ole2Test, DifatLoopAndHugeFatCountEndWithAnEvent) {
  Cfb c = BuildCfb(DocEntries());
  // The header lists no FAT sector; its DIFAT chain is one sector (the first stream's) that lists
  // none either and names itself as the next DIFAT sector, while the counts say 2^31.
  uint32_t s = c.first_sector[1];
  Put32(c.bytes, 0x4c, kNone);
  Put32(c.bytes, 0x44, s);
  Put32(c.bytes, 0x48, 0x7fffffff);
  Put32(c.bytes, 0x2c, 0xffffffff);
  c.bytes.replace(512 * (size_t{s} + 1), 512, Bytes(512, '\xff'));
  Put32(c.bytes, 512 * (size_t{s} + 1) + 508, s);
  WalkResult w = WalkAll(c.bytes, "x.doc");
  ASSERT_TRUE(w.HasEvent("Heuristics.Broken.OLE2"));
  EXPECT_NE(w.events[0].message.find("DIFAT chain has a cycle"), std::string::npos) << w.events[0].message;
}

TEST(Ole2Test, StreamPointingPastTheEndIsBroken) {
  Cfb c = BuildCfb(DocEntries());
  Put32(c.bytes, c.DirEntryOffset(1) + 0x74, 100000);  // a sector far past the end
  WalkResult w = WalkAll(c.bytes, "x.doc");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.OLE2"));
  EXPECT_EQ(w.Data("x.doc!ObjectPool/_Ole10Native!clam.exe"), kExe);
}

TEST(Ole2Test, BadSectorShiftIsBroken) {
  Cfb c = BuildCfb(DocEntries());
  Put16(c.bytes, 0x1e, 40);
  EXPECT_TRUE(WalkAll(c.bytes, "x").HasEvent("Heuristics.Broken.OLE2"));
}

TEST(Ole2Test, EveryTruncationEndsWithAnEvent) {
  Cfb c = BuildCfb(DocEntries());
  // Past the last stream's data only sector padding follows, which no reader can miss.
  const size_t data_end = 512 * (size_t{c.first_sector[3]} + 1) + DocEntries()[3].data.size();
  for (size_t cut = 8; cut < data_end; cut += 37) {
    WalkResult w = WalkAll(c.bytes.substr(0, cut), "t.doc");
    EXPECT_TRUE(w.HasEventPrefix("Heuristics.Broken.")) << "cut at " << cut;
  }
}

TEST(Ole2Test, DamagedClamavFilesNeverCrash) {
  for (const char* name : {"clam.ole.doc", "clam.ppt"}) {
    Bytes f = ReadTestFile(name);
    if (f.empty()) GTEST_SKIP() << "clamav-testfiles absent";
    for (size_t cut = 8; cut < f.size(); cut += 509) (void)WalkAll(f.substr(0, cut), name);
    for (size_t at = 0x2c; at < f.size(); at += 211) {
      Bytes bad = f;
      bad[at] = static_cast<char>(bad[at] ^ 0xa5);
      (void)WalkAll(bad, name);
    }
  }
}

TEST(Ole1Test, PackageYieldsTheFileNamedByItsSourcePath) {
  Bytes p = Ole10Native(kExe, "C:\\DOCUME~1\\x\\Desktop\\evil.exe");
  ASSERT_TRUE(LooksLikeOle10Native(p));
  Collected c;
  ASSERT_TRUE(ReadOle10Native(p, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "evil.exe");
  EXPECT_EQ(c.members[0].data, kExe);
}

TEST(Ole1Test, OnlyAWellFormedPackageLooksLikeOne) {
  Bytes p = Ole10Native(kExe);
  EXPECT_FALSE(LooksLikeOle10Native(p.substr(0, p.size() - 1)));  // size field says more
  EXPECT_FALSE(LooksLikeOle10Native(""));
  EXPECT_FALSE(LooksLikeOle10Native(Bytes(64, '\0')));
  EXPECT_FALSE(LooksLikeOle10Native("MZ\x90\x00 an ordinary executable"));
  Bytes bad = p;
  bad[4] = 3;  // not the Packager's version 2
  EXPECT_FALSE(LooksLikeOle10Native(bad));
}

TEST(Ole1Test, PackageWithAHugeDataSizeIsCutAndBroken) {
  Bytes p = Ole10Native(kExe);
  Put32(p, p.size() - kExe.size() - 4, 0x7fffffff);
  Collected c;
  Status s = ReadOle10Native(p, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].data, kExe);
}

TEST(Ole1Test, ObjectHeaderGivesClassAndNativeData) {
  Bytes native = Ole10Native(kExe);
  Bytes obj = Le32Bytes(0x0501) + Le32Bytes(2) + Le32Bytes(8) + Bytes("Package\0", 8) + Le32Bytes(0) +
              Le32Bytes(0) + native;
  Result<Ole1Object> o = ParseOle1Object(obj);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->class_name, "Package");
  EXPECT_EQ(o->sized_native, native);
  EXPECT_FALSE(o->truncated);
  EXPECT_FALSE(ParseOle1Object(obj.substr(0, 20)).ok());
  Bytes huge = obj;
  Put32(huge, 8, 0x7fffffff);  // class name length
  EXPECT_EQ(ParseOle1Object(huge).status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace accord::scan
