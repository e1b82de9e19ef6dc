#include "scan/tnef.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

Bytes Le(uint64_t v, int bytes) {
  Bytes b;
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return b;
}

Bytes Attribute(uint8_t level, uint32_t id, ByteView data) {
  uint16_t sum = 0;
  for (char c : data) sum = static_cast<uint16_t>(sum + static_cast<unsigned char>(c));
  return Bytes(1, static_cast<char>(level)) + Le(id, 4) + Le(data.size(), 4) + Bytes(data) + Le(sum, 2);
}

constexpr uint32_t kRendData = 0x00069002, kTitle = 0x00018010, kData = 0x0006800f, kSubject = 0x00018004;

Bytes Tnef(const std::vector<Bytes>& attributes) {
  Bytes out = Le(0x223e9f78, 4) + Le(0x0001, 2);
  for (const Bytes& a : attributes) out += a;
  return out;
}

TEST(TnefTest, AttachmentsAreMembersNamedByTheirTitle) {
  Bytes t = Tnef({Attribute(1, kSubject, Bytes("hello\0", 6)), Attribute(2, kRendData, Bytes(14, '\0')),
                  Attribute(2, kTitle, Bytes("a.exe\0", 6)), Attribute(2, kData, "first"),
                  Attribute(2, kRendData, Bytes(14, '\0')), Attribute(2, kData, "second"),
                  Attribute(2, kTitle, Bytes("b.txt\0", 6)), Attribute(2, kRendData, Bytes(14, '\0')),
                  Attribute(2, kData, "third")});
  ASSERT_TRUE(LooksLikeTnef(t));
  WalkResult w = WalkAll(t, "winmail.dat");
  EXPECT_EQ(w.Data("winmail.dat!a.exe"), "first");
  EXPECT_EQ(w.Data("winmail.dat!b.txt"), "second");  // the title may come after the data
  EXPECT_EQ(w.Data("winmail.dat!attachment3"), "third");
  EXPECT_TRUE(w.events.empty());
}

TEST(TnefTest, ClamavTnefYieldsClamExe) {
  Bytes exe = ReadTestFile("clam.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(ReadTestFile("clam.tnef"), "clam.tnef");
  EXPECT_EQ(w.Data("clam.tnef!clam.exe"), exe);
  EXPECT_TRUE(w.events.empty());  // its final "\n" is padding, not damage
}

TEST(TnefTest, AttachmentCutByTheEndIsYieldedCutAndBroken) {
  Bytes t = Tnef({Attribute(2, kRendData, Bytes(14, '\0')), Attribute(2, kTitle, Bytes("x.exe\0", 6)),
                  Attribute(2, kData, Bytes(1000, 'x'))});
  WalkResult w = WalkAll(t.substr(0, t.size() - 500), "w.dat");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.TNEF"));
  EXPECT_EQ(w.Data("w.dat!x.exe").size(), 1000u - 500 + 2);
  // TNEF has no end marker: a cut between attributes cannot be told from the end; any other is.
  const size_t boundaries[] = {6, 6 + 9 + 14 + 2, 6 + 9 + 14 + 2 + 9 + 6 + 2};
  for (size_t cut = 6; cut < t.size(); ++cut) {
    WalkResult c = WalkAll(t.substr(0, cut), "w.dat");
    bool boundary = std::find(std::begin(boundaries), std::end(boundaries), cut) != std::end(boundaries);
    EXPECT_EQ(c.HasEvent("Heuristics.Broken.TNEF"), !boundary) << cut;
  }
}

TEST(TnefTest, HugeLengthAndBadLevelAreBroken) {
  Bytes huge = Tnef({Attribute(2, kRendData, Bytes(14, '\0'))}) + Bytes(1, '\x02') + Le(kData, 4) +
               Le(0xffffffff, 4) + "short";
  WalkResult w = WalkAll(huge, "w.dat");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.TNEF"));
  EXPECT_EQ(w.Data("w.dat!attachment1"), "short");

  Bytes level = Tnef({Attribute(7, kData, "x")});
  EXPECT_TRUE(WalkAll(level, "w.dat").HasEvent("Heuristics.Broken.TNEF"));
}

}  // namespace
}  // namespace accord::scan
