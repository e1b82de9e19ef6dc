#include "scan/rtf.h"

#include <gtest/gtest.h>

#include "scan/reader_test_util.h"

namespace accord::scan {
namespace {

Bytes Le32Bytes(uint32_t v) {
  Bytes b;
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return b;
}

const Bytes kExe = "MZ\x90 an executable packaged into a document";

Bytes PackageObject(ByteView content) {
  Bytes rest("\x02\x00", 2);
  rest += Bytes("clam.exe") + '\0' + "C:\\clam.exe" + '\0';
  rest += Bytes("\0\0\x03\0", 4);
  rest += Le32Bytes(12) + Bytes("C:\\clam.exe\0", 12);
  rest += Le32Bytes(static_cast<uint32_t>(content.size())) + Bytes(content);
  Bytes native = Le32Bytes(static_cast<uint32_t>(rest.size())) + rest;
  return Le32Bytes(0x0501) + Le32Bytes(2) + Le32Bytes(8) + Bytes("Package\0", 8) + Le32Bytes(0) +
         Le32Bytes(0) + native;
}

Bytes Rtf(ByteView object, size_t line = 64) {
  Bytes hex = HexEncode(object);
  Bytes wrapped;
  for (size_t i = 0; i < hex.size(); i += line) wrapped += hex.substr(i, line) + "\r\n";
  return "{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata " + wrapped + "}}}";
}

TEST(RtfTest, PackagedObjectYieldsTheFile) {
  Bytes rtf = Rtf(PackageObject(kExe));
  ASSERT_TRUE(LooksLikeRtf(rtf));
  WalkResult w = WalkAll(rtf, "x.rtf");
  EXPECT_EQ(w.Data("x.rtf!object1!clam.exe"), kExe);
  EXPECT_TRUE(w.events.empty());
}

TEST(RtfTest, ClamavRtfYieldsClamExe) {
  Bytes exe = ReadTestFile("clam.exe");
  if (exe.empty()) GTEST_SKIP() << "clamav-testfiles absent";
  WalkResult w = WalkAll(ReadTestFile("clam.exe.rtf"), "clam.exe.rtf");
  EXPECT_EQ(w.Data("clam.exe.rtf!object1!clam.exe"), exe);
  EXPECT_TRUE(w.events.empty());
}

TEST(RtfTest, HexIsDecodedThroughWhitespaceControlWordsAndGroups) {
  ByteView t = "4d 5a\r\n9\\par 0{\\*\\x 41}4Z2}rest";
  size_t pos = 0;
  EXPECT_EQ(DecodeRtfObjdata(t, pos), Bytes("MZ\x90\x41\x42", 5));
  EXPECT_EQ(t.substr(pos), "rest");
  ByteView odd = "414";  // no closing brace, a dangling digit
  pos = 0;
  EXPECT_EQ(DecodeRtfObjdata(odd, pos), "A");
  EXPECT_EQ(pos, odd.size());
}

TEST(RtfTest, DataThatIsNoOle1ObjectIsYieldedAsDecoded) {
  WalkResult w = WalkAll(Rtf("just some bytes"), "x.rtf");
  EXPECT_EQ(w.Data("x.rtf!object1"), "just some bytes");
}

TEST(RtfTest, TruncatedObjectIsBrokenAndKeepsWhatCameBefore) {
  Bytes obj = PackageObject(kExe);
  Bytes rtf = Rtf(obj.substr(0, obj.size() - 10));
  WalkResult w = WalkAll(rtf, "x.rtf");
  EXPECT_TRUE(w.HasEvent("Heuristics.Broken.RTF"));
  EXPECT_TRUE(w.items.count("x.rtf!object1"));
  // Every cut of the text ends in bounded time.
  Bytes full = Rtf(obj);
  for (size_t cut = 0; cut < full.size(); cut += 7) (void)WalkAll(full.substr(0, cut), "t.rtf");
}

TEST(RtfTest, HugeDeclaredSizesAreBoundedByTheText) {
  Bytes obj = PackageObject(kExe);
  for (size_t at : {size_t{8}, size_t{28}, size_t{32}}) {  // class name, native size, package size
    Bytes bad = obj;
    bad.replace(at, 4, "\xff\xff\xff\x7f");
    WalkResult w = WalkAll(Rtf(bad), "x.rtf");
    for (const auto& [path, data] : w.items) {
      if (path != "x.rtf") {
        EXPECT_LE(data.size(), bad.size()) << path;
      }
    }
  }
}

TEST(RtfTest, ManyObjectsStopAtMaxFiles) {
  Bytes rtf = "{\\rtf1";
  for (int i = 0; i < 50; ++i) rtf += "{\\*\\objdata 41}";
  rtf += "}";
  ContainerLimits limits;
  limits.max_files = 10;
  WalkResult w = WalkAll(rtf, "m.rtf", limits);
  EXPECT_TRUE(w.HasEvent(kMaxFiles));
  EXPECT_EQ(w.items.size(), 11u);
}

}  // namespace
}  // namespace accord::scan
