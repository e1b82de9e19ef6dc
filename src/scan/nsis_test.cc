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
  for (const char* compressor : {"zlib", "/SOLID zlib", "lzma", "/SOLID lzma", "bzip2", "/SOLID bzip2"}) {
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

    // Cut in the payload's data: DataLoss, and the header still yielded (except from a solid
    // bzip2 stream this short: bzip2 decodes whole blocks of 900,000 bytes, and the header and
    // payload share the first; Bzip2OverSeveralBlocks cuts a longer one).
    Collected cut;
    EXPECT_EQ(ReadNsis(ByteView(exe).substr(0, exe.size() - 60000), {}, cut.Sink()).code(), Code::kDataLoss)
        << compressor;
    if (std::string_view(compressor) != "/SOLID bzip2") {
      EXPECT_FALSE(cut.members.empty()) << compressor;
    }
  }
}

// NSIS's bzip2 over several of its 900,000-byte blocks, with long runs of one byte (bzip2's
// first run-length stage writes a count after four equal bytes) and every byte value: the
// payload comes out exactly, solid and not, and in the walker as a member of the installer.
TEST_F(NsisTest, Bzip2OverSeveralBlocks) {
  std::mt19937 rng(11);
  Bytes big;
  while (big.size() < 2500000) {
    switch (rng() % 16) {
      case 0:
        big.append(rng() % 300, static_cast<char>(rng()));
        break;  // runs of up to 299
      case 1:
        big.append(4, 'q');
        break;  // runs of exactly 4
      case 2:
      case 3:
      case 4:
      case 5:
        for (int i = 0; i < 64; ++i) big.push_back(static_cast<char>(rng()));
        break;
      default:
        big += "text " + std::to_string(rng() % 100000) + " ";
        break;
    }
  }
  payload_ = big;
  WriteWholeFile(dir_ + "/payload.bin", payload_);
  for (const char* compressor : {"bzip2", "/SOLID bzip2"}) {
    Bytes exe = Make(compressor);
    Collected c;
    Status s = ReadNsis(exe, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << compressor << ": " << s.message();
    ASSERT_EQ(c.members.size(), 3u) << compressor;
    EXPECT_EQ(c.members[1].data.size(), payload_.size()) << compressor;
    EXPECT_TRUE(c.members[1].data == payload_) << compressor;
    EXPECT_EQ(c.members[2].data, small_) << compressor;

    // Cut in the last bzip2 block: DataLoss, and what the blocks before it held is yielded (a
    // non-solid installer's cut file is not decoded: its length runs past the data).
    Collected cut;
    EXPECT_EQ(ReadNsis(ByteView(exe).substr(0, exe.size() - 1000), {}, cut.Sink()).code(), Code::kDataLoss)
        << compressor;
    ASSERT_FALSE(cut.members.empty()) << compressor;
    EXPECT_EQ(cut.members[0].name, "header");
    if (std::string_view(compressor) == "bzip2") {
      // The payload's stream with its end mark damaged (its last byte flipped): DataLoss, and
      // every byte decoded before the mark is still handed over, the last block's included.
      size_t first = exe.find("NullsoftInst") - 8, area = first + 28;
      size_t file1 = area + 4 + (Le32(exe, area) & 0x7fffffffu);
      size_t last = file1 + 4 + (Le32(exe, file1) & 0x7fffffffu) - 1;
      Bytes bad = exe;
      bad[last] = static_cast<char>(bad[last] ^ 0xff);
      Collected marked;
      EXPECT_EQ(ReadNsis(bad, {}, marked.Sink()).code(), Code::kDataLoss);
      ASSERT_GE(marked.members.size(), 2u);
      EXPECT_TRUE(marked.members[1].data == payload_) << marked.members[1].data.size();
      continue;
    }
    ASSERT_GE(cut.members.size(), 2u) << compressor;
    EXPECT_GE(cut.members[1].data.size(), 900000u) << compressor;
    EXPECT_TRUE(payload_.starts_with(cut.members[1].data)) << compressor;
  }
  WalkResult w = WalkAll(Make("bzip2"), "setup.exe");
  EXPECT_FALSE(w.HasEvent("Heuristics.Unsupported.NSIS"));
  ASSERT_EQ(w.items.count("setup.exe!file1"), 1u);
  EXPECT_TRUE(w.items.at("setup.exe!file1") == payload_);
}

// A non-solid zlib installer whose first block's length begins with the bytes of NSIS's bzip2
// block mark ('1', then a byte below 14: about one installer in 256) is read as what it is, not
// as a broken solid bzip2 stream. The header's compressed length grows with the length of one
// message of random hex digits: for each length ending in 0x31 the header may have, a binary
// search finds the message length that gives it (the search, not luck, finds one; `SetDateSave
// off` keeps the files' times out of the header, so the installers do not change from run to run).
TEST_F(NsisTest, AHeaderLengthThatLooksLikeBzip2IsStillNonSolidZlib) {
  std::mt19937 rng(9);
  std::string noise;
  for (int i = 0; i < 4000; ++i) noise.push_back("0123456789abcdef"[rng() % 16]);
  // The installer with `chars` digits of noise in its message, and its header's length field.
  auto make = [&](size_t chars, Bytes* out) -> uint32_t {
    std::string script =
        "SetCompressor zlib\nSetDateSave off\nOutFile \"out.exe\"\nInstallDir \"$TEMP\\x\"\nSection\n"
        "DetailPrint \"" +
        noise.substr(0, chars) +
        "\"\nSetOutPath \"$INSTDIR\"\n"
        "File \"payload.bin\"\nFile \"small.txt\"\nSectionEnd\n";
    WriteWholeFile(dir_ + "/s.nsi", script);
    std::filesystem::remove(dir_ + "/out.exe");
    if (std::system(("cd " + dir_ + " && makensis -V1 s.nsi > /dev/null 2>&1").c_str()) != 0) return 0;
    Bytes made = ReadWholeFile(dir_ + "/out.exe");
    size_t sig = made.find("NullsoftInst");
    if (sig == Bytes::npos || sig < 8 || sig - 8 + 32 > made.size()) return 0;
    uint32_t length = 0;
    for (int k = 3; k >= 0; --k)
      length = length << 8 | static_cast<unsigned char>(made[sig - 8 + 28 + size_t(k)]);
    if (out) *out = std::move(made);
    return length & 0x7fffffffu;
  };
  const uint32_t base = make(0, nullptr);
  ASSERT_GT(base, 0u) << "makensis failed";
  Bytes exe;
  for (uint32_t target = (base & ~0xffu) | 0x31; exe.empty() && target < (14u << 8); target += 0x100) {
    if (target < base) continue;
    size_t lo = 0, hi = noise.size();  // the first message length whose header reaches `target`
    if (make(hi, nullptr) < target) break;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (make(mid, nullptr) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    // Compressed lengths grow by a byte or two per digit, not always evenly: look around it.
    for (size_t chars = lo > 3 ? lo - 3 : 0; chars <= lo + 3 && exe.empty(); ++chars) {
      Bytes made;
      if (make(chars, &made) == target) exe = std::move(made);
    }
  }
  ASSERT_FALSE(exe.empty()) << "no header length ending in 0x31 found";
  const size_t sig = exe.find("NullsoftInst");
  ASSERT_EQ(static_cast<unsigned char>(exe[sig - 8 + 28]), 0x31);
  ASSERT_LT(static_cast<unsigned char>(exe[sig - 8 + 29]), 14);
  Collected c;
  Status s = ReadNsis(exe, {}, c.Sink());
  EXPECT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(c.members.size(), 3u);
  EXPECT_TRUE(c.members[1].data == payload_);
  EXPECT_EQ(c.members[2].data, small_);
}

// Bits of a bzip2 installer's data flipped (150 at random places) and lengths cut (every 97th):
// the reader ends with a status, never a crash or a hang (the sanitizer builds run this too).
TEST_F(NsisTest, Bzip2DamageIsDataLossNotACrash) {
  for (const char* compressor : {"bzip2", "/SOLID bzip2"}) {
    Bytes exe = Make(compressor);
    std::mt19937 rng(3);
    for (int i = 0; i < 150; ++i) {
      Bytes bad = exe;
      size_t at = exe.size() / 2 + rng() % (exe.size() / 2);
      bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
      Collected c;
      (void)ReadNsis(bad, {}, c.Sink());
    }
    for (size_t cut = exe.size() - 2000; cut < exe.size(); cut += 97) {
      Collected c;
      Status s = ReadNsis(ByteView(exe).substr(0, cut), {}, c.Sink());
      EXPECT_FALSE(s.ok()) << compressor << " cut at " << cut;
    }
  }
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
