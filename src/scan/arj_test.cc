#include "scan/arj.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

namespace fs = std::filesystem;

// Text with repeats, and random runs that no match covers.
Bytes Sample(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out;
  while (out.size() < size) {
    if (rng() % 10 < 7) {
      out += "line " + std::to_string(rng() % 1000) + " of text ";
    } else {
      for (int i = 0; i < 40; ++i) out.push_back(static_cast<char>(rng()));
    }
  }
  out.resize(size);
  return out;
}

// Archives made by Debian's arj (ARJ 3.10, the open-source ARJ), one per method.
class ArjTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram("arj")) GTEST_SKIP() << "arj absent (apt-get install arj)";
    dir_ = MakeTempDir("accord-arj");
    ASSERT_FALSE(dir_.empty());
    WriteWholeFile(dir_ + "/small.txt", small_);
    WriteWholeFile(dir_ + "/data.bin", big_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  Bytes Make(const std::string& options) {
    std::string arc = dir_ + "/a.arj";
    fs::remove(arc);
    EXPECT_EQ(
        std::system(("cd " + dir_ + " && arj a -y " + options + " a.arj small.txt data.bin > /dev/null 2>&1")
                        .c_str()),
        0);
    return ReadWholeFile(arc);
  }
  std::string dir_;
  Bytes small_ = "hello hello hello world\n", big_ = Sample(300000, 1);
};

TEST_F(ArjTest, EveryMethodDecodesToTheFiles) {
  for (int method = 0; method <= 4; ++method) {
    Bytes arj = Make("-m" + std::to_string(method));
    ASSERT_TRUE(LooksLikeArj(arj)) << method;
    Collected c;
    Status s = ReadArj(arj, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << method << ": " << s.message();
    ASSERT_EQ(c.members.size(), 2u) << method;
    EXPECT_EQ(c.members[0].name, "small.txt");
    EXPECT_EQ(c.members[0].data, small_) << method;
    EXPECT_EQ(c.members[1].name, "data.bin");
    EXPECT_TRUE(c.members[1].data == big_) << "method " << method;
  }
  // Through the walker: named members, nothing reported.
  WalkResult w = WalkAll(Make("-m1"), "a.arj");
  EXPECT_TRUE(w.Data("a.arj!data.bin") == big_);
  EXPECT_TRUE(w.events.empty()) << w.events.front().name << ": " << w.events.front().message;
}

TEST_F(ArjTest, CapsCutsAndDamage) {
  Bytes arj = Make("-m1");
  // The cap: a member of exactly max_member_bytes, no error.
  ReaderOptions options;
  options.max_member_bytes = 1000;
  Collected capped;
  EXPECT_TRUE(ReadArj(arj, options, capped.Sink()).ok());
  ASSERT_EQ(capped.members.size(), 2u);
  EXPECT_EQ(capped.members[1].data, big_.substr(0, 1000));

  // Cut in the middle of data.bin: small.txt whole, a prefix of data.bin, DataLoss.
  Collected cut;
  Status s = ReadArj(ByteView(arj).substr(0, arj.size() / 2), {}, cut.Sink());
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.message();
  ASSERT_GE(cut.members.size(), 1u);
  EXPECT_EQ(cut.members[0].data, small_);
  if (cut.members.size() > 1) {
    EXPECT_TRUE(ByteView(big_).starts_with(cut.members[1].data));
  }

  // A flipped bit in the compressed data: DataLoss (damage or CRC), never a crash.
  for (size_t at : {arj.size() / 3, arj.size() / 2, arj.size() - 100}) {
    Bytes bad = arj;
    bad[at] ^= 0x04;
    Collected c;
    EXPECT_EQ(ReadArj(bad, {}, c.Sink()).code(), Code::kDataLoss) << at;
  }
  // A damaged header: its CRC fails.
  Bytes bad_header = arj;
  size_t second = bad_header.find("\x60\xEA", 4);
  ASSERT_NE(second, Bytes::npos);
  bad_header[second + 10] ^= 0x01;
  Collected c;
  Status hs = ReadArj(bad_header, {}, c.Sink());
  EXPECT_EQ(hs.code(), Code::kDataLoss);
  EXPECT_THAT(hs.message(), ::testing::HasSubstr("CRC"));
  // A main header that fails its CRC is not taken for ARJ at all.
  Bytes not_arj = arj;
  not_arj[10] ^= 0x01;
  EXPECT_FALSE(LooksLikeArj(not_arj));
}

TEST_F(ArjTest, GarbledFilesAreReportedEncrypted) {
  Bytes arj = Make("-m1 -gsecret");
  Collected c;
  Status s = ReadArj(arj, {}, c.Sink());
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.message();
  EXPECT_TRUE(c.members.empty());
  WalkResult w = WalkAll(arj, "g.arj");
  EXPECT_TRUE(w.HasEvent("Heuristics.Encrypted.ARJ"));
}

TEST(ArjClamavTest, ClamArjYieldsClamExe) {
  Bytes clam = ReadTestFile("clam.exe"), arj = ReadTestFile("clam.arj");
  if (clam.empty() || arj.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  Collected c;
  EXPECT_TRUE(ReadArj(arj, {}, c.Sink()).ok());
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].name, "clam.exe");
  EXPECT_EQ(c.members[0].data, clam);
}

TEST(ArjDecodeTest, HostileTablesEndInDataLoss) {
  // All ones: code counts past their tables, lengths past 16 bits.
  Bytes out;
  EXPECT_EQ(DecodeArj(Bytes(64, '\xff'), 1, 1000, 1 << 20, out).code(), Code::kDataLoss);
  // Nothing at all: cut.
  EXPECT_EQ(DecodeArj("", 1, 1000, 1 << 20, out).code(), Code::kDataLoss);
  EXPECT_EQ(DecodeArj("", 4, 1000, 1 << 20, out).code(), Code::kDataLoss);
  EXPECT_EQ(DecodeArj("x", 7, 1, 1 << 20, out).code(), Code::kUnimplemented);
}

}  // namespace
}  // namespace accord::scan
