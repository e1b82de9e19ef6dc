#include "scan/nsis.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

// Installers made by Debian's makensis (NSIS 3), one per compressor, solid and not.
class NsisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram("makensis")) GTEST_SKIP() << "makensis absent (apt-get install nsis)";
    dir_ = MakeTempDir("accord-nsis");
    ASSERT_FALSE(dir_.empty());
    std::mt19937 rng(5);
    while (payload_.size() < 150000) {
      if (rng() % 10 < 7) {
        payload_ += "line " + std::to_string(rng() % 1000) + " of text ";
      } else {
        for (int i = 0; i < 40; ++i) payload_.push_back(static_cast<char>(rng()));
      }
    }
    WriteWholeFile(dir_ + "/payload.bin", payload_);
    WriteWholeFile(dir_ + "/small.txt", small_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Bytes Make(const std::string& compressor) {
    std::string script = "SetCompressor " + compressor +
                         "\nOutFile \"out.exe\"\nInstallDir \"$TEMP\\x\"\nSection\nSetOutPath \"$INSTDIR\"\n"
                         "File \"payload.bin\"\nFile \"small.txt\"\nSectionEnd\n";
    WriteWholeFile(dir_ + "/s.nsi", script);
    std::filesystem::remove(dir_ + "/out.exe");
    EXPECT_EQ(std::system(("cd " + dir_ + " && makensis -V1 s.nsi > /dev/null 2>&1").c_str()), 0)
        << compressor;
    return ReadWholeFile(dir_ + "/out.exe");
  }
  std::string dir_;
  Bytes payload_, small_ = "hello nsis\n";
};

TEST_F(NsisTest, EveryCompressorSolidOrNot) {
  for (const char* compressor : {"zlib", "/SOLID zlib", "lzma", "/SOLID lzma"}) {
    Bytes exe = Make(compressor);
    ASSERT_TRUE(LooksLikeNsis(exe)) << compressor;
    Collected c;
    Status s = ReadNsis(exe, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << compressor << ": " << s.message();
    ASSERT_EQ(c.members.size(), 3u) << compressor;
    EXPECT_EQ(c.members[0].name, "header");
    EXPECT_EQ(c.members[1].name, "file1");
    EXPECT_TRUE(c.members[1].data == payload_) << compressor;
    EXPECT_EQ(c.members[2].name, "file2");
    EXPECT_EQ(c.members[2].data, small_) << compressor;

    // The cap: each member at most that long, exactly its first bytes.
    ReaderOptions small;
    small.max_member_bytes = 1000;
    Collected capped;
    EXPECT_TRUE(ReadNsis(exe, small, capped.Sink()).ok()) << compressor;
    ASSERT_EQ(capped.members.size(), 3u) << compressor;
    EXPECT_EQ(capped.members[1].data, payload_.substr(0, 1000)) << compressor;

    // Cut in the payload's data: DataLoss, and the header still yielded.
    Collected cut;
    EXPECT_EQ(ReadNsis(ByteView(exe).substr(0, exe.size() - 60000), {}, cut.Sink()).code(), Code::kDataLoss)
        << compressor;
    EXPECT_FALSE(cut.members.empty()) << compressor;
  }
}

TEST_F(NsisTest, Bzip2IsReportedUnsupported) {
  for (const char* compressor : {"bzip2", "/SOLID bzip2"}) {
    Collected c;
    Status s = ReadNsis(Make(compressor), {}, c.Sink());
    EXPECT_EQ(s.code(), Code::kUnimplemented) << compressor << ": " << s.message();
  }
  WalkResult w = WalkAll(Make("bzip2"), "setup.exe");
  EXPECT_TRUE(w.HasEvent("Heuristics.Unsupported.NSIS"));
}

TEST(NsisClamavTest, EveryProgramReaderAndTheArchiveSearchRun) {
  // An NSIS installer with a zip appended: the installer's files and the zip's are both read.
  Bytes clam = ReadTestFile("clam.exe"), exe = ReadTestFile("clam-nsis.exe"), zip = ReadTestFile("clam.zip");
  if (clam.empty() || exe.empty() || zip.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(exe + zip, "setup.exe");
  EXPECT_EQ(w.Data("setup.exe!file1"), clam);
  EXPECT_EQ(w.Data("setup.exe!clam.exe"), clam);
  // A plausible UPX pack header written into the DOS stub (its packed data nowhere): the UPX
  // reader reports it broken, and the installer is read all the same.
  Bytes decoy = exe;
  Bytes header = std::string("UPX!\x0d\x09\x02\x08", 8);
  PutLe(header, 8, 1, 4);     // Adler-32 of the image
  PutLe(header, 12, 1, 4);    // and of the packed data: no match anywhere
  PutLe(header, 16, 200, 4);  // unpacked length
  PutLe(header, 20, 100, 4);  // packed length
  PutLe(header, 24, 0, 4);
  decoy.replace(0x40, header.size(), header);
  WalkResult d = WalkAll(decoy, "setup.exe");
  EXPECT_TRUE(d.HasEvent("Heuristics.Broken.UPX"));
  EXPECT_EQ(d.Data("setup.exe!file1"), clam);
}

TEST(NsisClamavTest, ABlockTooShortForItsPropertiesIsDamageNotACrash) {
  // A PE, then at 512 a first header (no CRC, 33 bytes) and 5 bytes: 00 00 00 01 00.
  Bytes exe = ReadTestFile("clam-nsis.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  size_t first = exe.find("\xEF\xBE\xAD\xDENullsoftInst") - 4;
  Bytes b = exe.substr(0, first + 28);
  PutLe(b, first, 4, 4);        // flags: no CRC
  PutLe(b, first + 24, 33, 4);  // all that follows: the header and 5 bytes
  b += std::string("\0\0\0\x01\0", 5);
  Collected c;
  Status s = ReadNsis(b, {}, c.Sink());
  EXPECT_FALSE(s.ok());
}

TEST(NsisClamavTest, ClamNsisYieldsClamExe) {
  Bytes clam = ReadTestFile("clam.exe"), exe = ReadTestFile("clam-nsis.exe");
  if (clam.empty() || exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Collected c;
  EXPECT_TRUE(ReadNsis(exe, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 2u);
  EXPECT_EQ(c.members[1].data, clam);
  // A PE without a first header is not NSIS.
  EXPECT_FALSE(LooksLikeNsis(ReadTestFile("clam.exe")));
}

}  // namespace
}  // namespace accord::scan
