#include "scan/installshield.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "scan/inflate.h"
#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

using ::testing::HasSubstr;

Bytes Pe(ByteView overlay) {
  return MinimalPe(overlay);
}

Bytes Record(std::string_view name, std::string_view path, ByteView data) {
  return Bytes(name) + '\0' + Bytes(path) + '\0' + "1.0.0.0" + '\0' + std::to_string(data.size()) + '\0' +
         Bytes(data);
}

TEST(InstallShieldTest, ClamavTestFilesYieldClamExe) {
  Bytes clam = ReadTestFile("clam.exe");
  if (clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  // Setup layout with clam.exe as a record, and inside data2.cab (through data1.hdr's file table);
  // MSI layout with clam.exe as a block.
  for (auto [file, member] : {std::pair{"clam_IScab_ext.exe", "Disk1\\clam.exe"},
                              {"clam_IScab_int.exe", "clam.exe"},
                              {"clam_ISmsi_ext.exe", "clam.exe409.bmp"}}) {
    Bytes setup = ReadTestFile(file);
    ASSERT_TRUE(LooksLikeInstallShield(setup)) << file;
    Collected c;
    Status s = ReadInstallShield(setup, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << file << ": " << s.message();
    bool found = false;
    for (const ReaderMember& m : c.members) found |= m.name == member && m.data == clam;
    EXPECT_TRUE(found) << file << " lacks " << member;
  }
  // The cabinet files of clam_IScab_int.exe: what data1.hdr lists, each its stated size.
  Collected cab;
  ASSERT_TRUE(ReadInstallShield(ReadTestFile("clam_IScab_int.exe"), {}, cab.Sink()).ok());
  std::vector<std::string> names;
  for (const ReaderMember& m : cab.members) names.push_back(m.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"Disk1\\data1.hdr", "Disk1\\data2.cab", "Disk1\\engine32.cab",
                                              "isrt.dll", "_IsRes.dll", "license.rtf", "clam.exe"}));
  // MSI layout whose clam.exe is inside the .msi: the walker goes on into it (OLE2, then its cab).
  WalkResult w = WalkAll(ReadTestFile("clam_ISmsi_int.exe"), "setup.exe");
  EXPECT_EQ(w.Data("setup.exe!clam.msi").substr(0, 8), "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
  EXPECT_TRUE(w.Contains(clam));
}

TEST(InstallShieldTest, CutFilesYieldWhatCameBefore) {
  Bytes clam = ReadTestFile("clam.exe");
  if (clam.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  for (const char* file : {"clam_IScab_int.exe", "clam_ISmsi_int.exe"}) {
    Bytes whole = ReadTestFile(file);
    for (size_t cut : {whole.size() * 9 / 10, whole.size() - 1}) {
      Collected c;
      Status s = ReadInstallShield(ByteView(whole).substr(0, cut), {}, c.Sink());
      EXPECT_EQ(s.code(), Code::kDataLoss) << file << " cut at " << cut;
      EXPECT_FALSE(c.members.empty()) << file << " cut at " << cut;
    }
  }
}

TEST(InstallShieldTest, SignedSetupsAndAppendedArchives) {
  // Authenticode: the certificate table (data directory 4) after the records is not a record.
  Bytes records = Record("a.txt", "Disk1\\a.txt", "first");
  Bytes signed_setup = Pe(records) + Bytes(64, '\x01');
  PutLe(signed_setup, 0x98 + 96 - 4, 16, 4);                       // 16 data directories
  PutLe(signed_setup, 0x98 + 96 + 32, 0x400 + records.size(), 4);  // certificate table offset
  PutLe(signed_setup, 0x98 + 96 + 36, 64, 4);                      // and size
  Collected c;
  Status s = ReadInstallShield(signed_setup, {}, c.Sink());
  EXPECT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].data, "first");

  // A program with one record and a zip after it is a self-extractor, not InstallShield: the zip
  // is opened.
  Bytes zip = ReadTestFile("clam.zip");
  if (zip.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(Pe(Bytes("a") + '\0' + '\0' + '\0' + "0" + '\0') + zip, "sfx.exe");
  EXPECT_TRUE(w.Contains(ReadTestFile("clam.exe")));
  EXPECT_FALSE(w.HasEventPrefix("Heuristics.Broken.InstallShield"));
}

TEST(InstallShieldTest, CabinetItemsCannotReadTheSameDataAgainAndAgain) {
  // data1.hdr with 1,000 items that all point at the one chunk in data1.cab.
  Bytes content(1000, 'x');
  Bytes z = RawDeflate(content);
  Bytes cab;
  PutLe(cab, 0, z.size(), 2);
  cab += z;
  Bytes hdr;
  PutLe(hdr, 0, 0x28635349, 4);    // ISc(
  PutLe(hdr, 12, 0x20, 4);         // tables at 0x20
  PutLe(hdr, 0x20 + 12, 0x40, 4);  // directories at 0x20 + 0x40: names are counted from there
  PutLe(hdr, 0x20 + 40, 1000, 4);  // files
  PutLe(hdr, 0x20 + 44, 0x10, 4);  // directory table size: items at 0x70
  hdr.resize(0x70, '\0');
  hdr.replace(0x60, 6, std::string("x.bin\0", 6));  // name at 0x60 - 0x60 = 0 from the base
  for (size_t i = 0; i < 1000; ++i) {
    size_t o = 0x70 + 87 * i;
    PutLe(hdr, o, 4, 2);  // in a cabinet
    PutLe(hdr, o + 2, content.size(), 8);
    PutLe(hdr, o + 10, cab.size(), 8);  // compressed size
    PutLe(hdr, o + 18, 0, 8);           // offset in the cabinet
    PutLe(hdr, o + 58, 0, 4);           // name
    PutLe(hdr, o + 85, 1, 2);           // data1.cab
  }
  Bytes setup = Pe(Record("data1.hdr", "", hdr) + Record("data1.cab", "", cab));
  Collected c;
  Status s = ReadInstallShield(setup, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("more than the cabinets hold"));
  // The two records and the one item the cabinet's size allows.
  ASSERT_EQ(c.members.size(), 3u);
  EXPECT_EQ(c.members[2].name, "x.bin");
  EXPECT_EQ(c.members[2].data, content);
}

TEST(InstallShieldTest, ChunksAfterALeftOverAreReadFromTheirOwnStart) {
  // One deflate stream with bytes after its end, then another: the second is read from its start
  // (a reset zlib state keeps no pointer into the first).
  Bytes first = RawDeflate("first chunk") + Bytes(60000, 'J'), second = RawDeflate("second");
  RawInflater inflater;
  Bytes out;
  EXPECT_TRUE(inflater.Append(first, 1 << 20, out).ok());
  EXPECT_EQ(out, "first chunk");
  EXPECT_TRUE(inflater.Append(second, 1 << 20, out).ok());
  EXPECT_EQ(out, "first chunksecond");
}

TEST(InstallShieldTest, SetupRecords) {
  Bytes setup = Pe(Record("a.txt", "Disk1\\a.txt", "first") + Record("b.bin", "", "second file"));
  ASSERT_TRUE(LooksLikeInstallShield(setup));
  Collected c;
  EXPECT_TRUE(ReadInstallShield(setup, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 2u);
  EXPECT_EQ(c.members[0].name, "Disk1\\a.txt");
  EXPECT_EQ(c.members[0].data, "first");
  EXPECT_EQ(c.members[1].name, "b.bin");  // no path: the name
  EXPECT_EQ(c.members[1].data, "second file");

  // Junk after the records: the overlay is not all records, so this is no InstallShield setup
  // (nothing could hide after the records the reader reads).
  EXPECT_FALSE(LooksLikeInstallShield(setup + "junk"));
  Collected junk;
  EXPECT_EQ(ReadInstallShield(setup + "junk", {}, junk.Sink()).code(), Code::kDataLoss);
  EXPECT_TRUE(junk.members.empty());
  // A record cut by the end of the file: what is there, and DataLoss.
  Bytes cut =
      Pe(Record("a.txt", "", "first") + Bytes("b") + '\0' + "p" + '\0' + "v" + '\0' + "99" + '\0' + "short");
  ASSERT_TRUE(LooksLikeInstallShield(cut));
  Collected cut_members;
  Status cs = ReadInstallShield(cut, {}, cut_members.Sink());
  EXPECT_EQ(cs.code(), Code::kDataLoss);
  EXPECT_THAT(cs.message(), HasSubstr("cut"));
  ASSERT_EQ(cut_members.members.size(), 2u);
  EXPECT_EQ(cut_members.members[1].data, "short");
  // A size that is not a number: not InstallShield.
  EXPECT_FALSE(LooksLikeInstallShield(Pe(Bytes("a") + '\0' + "p" + '\0' + "v" + '\0' + "1x" + '\0' + "x")));
  // A PE without an overlay, and a file that is no PE.
  EXPECT_FALSE(LooksLikeInstallShield(Pe("")));
  EXPECT_FALSE(LooksLikeInstallShield("MZ not a program at all, just text"));
  // The cap cuts a record's data.
  ReaderOptions small;
  small.max_member_bytes = 3;
  Collected capped;
  EXPECT_TRUE(ReadInstallShield(setup, small, capped.Sink()).ok());
  EXPECT_EQ(capped.members[1].data, "sec");
}

// The MSI layout as the header describes it: nibbles swapped, XORed with the name XORed with
// EC CA 79 F8, over a zlib stream.
Bytes MsiBlock(std::string_view name, ByteView content) {
  uLongf n = compressBound(static_cast<uLong>(content.size()));
  Bytes z(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(content.data()),
                     static_cast<uLong>(content.size())),
            Z_OK);
  z.resize(n);
  static constexpr unsigned char kKey[4] = {0xec, 0xca, 0x79, 0xf8};
  for (size_t j = 0; j < z.size(); ++j) {
    size_t k = (j & 0x3ff) % name.size();
    unsigned char c = static_cast<unsigned char>(z[j]) ^ static_cast<unsigned char>(name[k]) ^ kKey[k & 3];
    z[j] = static_cast<char>((c >> 4) | (c << 4));
  }
  Bytes block(0x138, '\0');
  block.replace(0, name.size(), name);
  PutLe(block, 0x104, 6, 4);
  PutLe(block, 0x10c, z.size(), 8);
  return block + z;
}

TEST(InstallShieldTest, MsiLayout) {
  Bytes content1(3000, 'x'), content2 = "MZ a second program, longer than the name " + std::string(2000, 'y');
  Bytes header(0x20, '\0');
  PutLe(header, 0, 2, 4);
  Bytes overlay = Bytes("NB10 debug info\0", 16) + "InstallShield" + '\0' + header +
                  MsiBlock("setup.ini", content1) + MsiBlock("product.msi", content2);
  Bytes setup = Pe(overlay);
  ASSERT_TRUE(LooksLikeInstallShield(setup));
  Collected c;
  Status s = ReadInstallShield(setup, {}, c.Sink());
  EXPECT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(c.members.size(), 2u);
  EXPECT_EQ(c.members[0].name, "setup.ini");
  EXPECT_EQ(c.members[0].data, content1);
  EXPECT_EQ(c.members[1].name, "product.msi");
  EXPECT_EQ(c.members[1].data, content2);
  // A count larger than the blocks: DataLoss after the two.
  Bytes more = setup;
  PutLe(more, more.find("InstallShield") + 14, 3, 4);
  Collected m;
  EXPECT_EQ(ReadInstallShield(more, {}, m.Sink()).code(), Code::kDataLoss);
  EXPECT_EQ(m.members.size(), 2u);
}

}  // namespace
}  // namespace accord::scan
