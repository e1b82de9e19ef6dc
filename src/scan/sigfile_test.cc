// Hash signature files (.hdb, .hsb, .fp, .sfp): the lines ClamAV's documentation shows, every kind of
// bad line reported with its file and line, and the limits.
#include "scan/sigfile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace accord::scan {
namespace {

using ::testing::HasSubstr;

const std::string kMd5 = "44d88612fea8a8f36de82e1278abb02f";  // the EICAR test file
const std::string kSha1 = "3395856ce81f2b7382dee72602f798b642f14140";
const std::string kSha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

HashSignature ParseOne(const std::string& line) {
  Result<std::vector<HashSignature>> r = ParseHashSignatures(line, "t.hsb");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || r->size() != 1) return {};
  return (*r)[0];
}

Status ParseError(const std::string& text, const std::string& file = "main.hsb") {
  Result<std::vector<HashSignature>> r = ParseHashSignatures(text, file);
  EXPECT_FALSE(r.ok()) << "accepted: " << Printable(text);
  return r.status();
}

TEST(SigFile, ParsesEachDigestKindByLength) {
  HashSignature md5 = ParseOne(kMd5 + ":68:Eicar-Test-Signature");
  EXPECT_EQ(md5.kind, HashKind::kMd5);
  EXPECT_EQ(HexEncode(md5.digest), kMd5);
  EXPECT_EQ(md5.size, 68u);
  EXPECT_EQ(md5.name, "Eicar-Test-Signature");
  EXPECT_FALSE(md5.min_flevel.has_value());

  HashSignature sha1 = ParseOne(kSha1 + ":68:Eicar-Test-Signature");
  EXPECT_EQ(sha1.kind, HashKind::kSha1);
  EXPECT_EQ(sha1.digest.size(), 20u);

  HashSignature sha256 = ParseOne(kSha256 + ":68:Eicar-Test-Signature");
  EXPECT_EQ(sha256.kind, HashKind::kSha256);
  EXPECT_EQ(HexEncode(sha256.digest), kSha256);
}

TEST(SigFile, HexIsCaseInsensitive) {
  std::string upper = kSha256;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(ParseOne(upper + ":68:X").digest, ParseOne(kSha256 + ":68:X").digest);
}

TEST(SigFile, StarSizeMeansAnySizeAndFunctionalityLevelsAreKept) {
  HashSignature any = ParseOne(kSha256 + ":*:Win.Trojan.Agent-1:73");
  EXPECT_FALSE(any.size.has_value());
  EXPECT_EQ(any.min_flevel, 73u);
  EXPECT_FALSE(any.max_flevel.has_value());
  HashSignature both = ParseOne(kMd5 + ":0:Empty.File:20:255");
  EXPECT_EQ(both.size, 0u);
  EXPECT_EQ(both.min_flevel, 20u);
  EXPECT_EQ(both.max_flevel, 255u);
  EXPECT_EQ(ParseOne(kMd5 + ":4294967294:Big").size, 4294967294u);
}

TEST(SigFile, CommentsEmptyLinesCrlfAndMissingFinalNewline) {
  std::string text =
      "# a comment: with colons\r\n\n" + kMd5 + ":68:A\r\n\r\n" + kSha1 + ":*:B\n#x\n" + kSha256 + ":1:C";
  Result<std::vector<HashSignature>> r = ParseHashSignatures(text, "t.hdb");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "A");
  EXPECT_EQ((*r)[1].name, "B");
  EXPECT_EQ((*r)[2].name, "C");
  EXPECT_TRUE(ParseHashSignatures("", "empty.hsb").ok());
}

TEST(SigFile, NamesMayHoldSpacesDotsAndUtf8) {
  EXPECT_EQ(ParseOne(kMd5 + ":1:Test One.Two-3_x").name, "Test One.Two-3_x");
  EXPECT_EQ(ParseOne(kMd5 + ":1:Tr\xc3\xa9sor").name, "Tr\xc3\xa9sor");
}

TEST(SigFile, BadLinesNameFileAndLine) {
  std::string good = kMd5 + ":68:Good\n";
  struct Case {
    std::string line;
    std::string says;
  } cases[] = {
      {"zz" + kMd5.substr(2) + ":68:X", "is not hex"},
      {kMd5.substr(1) + ":68:X", "31 hex digits"},
      {kMd5 + "00:68:X", "34 hex digits"},
      {":68:X", "0 hex digits"},
      {kMd5 + ":-1:X", "bad SIZE '-1'"},
      {kMd5 + ":12x:X", "bad SIZE '12x'"},
      {kMd5 + ":012:X", "leading zeroes"},
      {kMd5 + "::X", "bad SIZE ''"},
      {kMd5 + ":4294967295:X", "above kMaxSignedFileSize"},
      {kMd5 + ":99999999999999999999:X", "bad SIZE"},
      {kMd5 + ":68:", "empty NAME"},
      {kMd5 + ":68:Bad\tName", "control character"},
      {kMd5 + ":68:Bad\rName", "control character"},
      {kMd5 + ":68:Bad" + std::string(1, '\0') + "Name", "control character"},
      {kMd5 + ":68:Del\x7f", "control character"},
      {kMd5 + ":68:Bad\xff", "UTF-8"},
      {kMd5 + ":68: Padded", "space"},
      {kMd5 + ":68:X:abc", "bad FLEVEL 'abc'"},
      {kMd5 + ":68:X:", "bad FLEVEL ''"},
      {kMd5 + ":68:X:10:x", "bad MAXFLEVEL 'x'"},
      {kMd5 + ":68:X:10:9", "MAXFLEVEL 9 below FLEVEL 10"},
      {kMd5 + ":68:X:1:2:3", "more than 5 fields"},
      {kMd5 + ":68", "2 fields"},
      {kMd5, "1 field,"},
      {" " + kMd5 + ":68:X", "hex digits"},
  };
  for (const Case& c : cases) {
    Status s = ParseError(good + good + c.line + "\n" + good, "main.hsb");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.line;
    EXPECT_THAT(s.message(), HasSubstr("main.hsb:3: ")) << c.line;
    EXPECT_THAT(s.message(), HasSubstr(c.says)) << c.line;
  }
}

TEST(SigFile, LineNumbersCountCommentsEmptyLinesAndCrlf) {
  Status s = ParseError("# c\r\n\r\n\n" + kMd5 + ":1:A\r\n" + kMd5 + ":1:\r\n", "daily.hdb");
  EXPECT_THAT(s.message(), HasSubstr("daily.hdb:5: empty NAME"));
}

TEST(SigFile, LimitsAreReportedByName) {
  std::string long_name(limits::kMaxSignatureNameLength + 1, 'n');
  Status s = ParseError(kMd5 + ":1:" + long_name);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("main.hsb:1: NAME of 1025 bytes, limit kMaxSignatureNameLength"));
  EXPECT_EQ(ParseOne(kMd5 + ":1:" + std::string(limits::kMaxSignatureNameLength, 'n')).name.size(),
            limits::kMaxSignatureNameLength);

  std::string long_comment = "#" + std::string(limits::kMaxSignatureLineLength, 'c');
  s = ParseError(kMd5 + ":1:A\n" + long_comment + "\n");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("main.hsb:2: line of 4097 bytes, limit kMaxSignatureLineLength"));
  // The limit is on the line without its CRLF.
  EXPECT_TRUE(ParseHashSignatures(std::string(limits::kMaxSignatureLineLength, '#') + "\r\n", "t").ok());

  // The file-size cap is checked before anything is read (a view over no real memory is enough).
  ByteView huge(long_comment.data(), limits::kMaxSignatureFileSize + 1);
  s = ParseHashSignatures(huge, "huge.hsb").status();
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("huge.hsb: 2147483649 bytes, limit kMaxSignatureFileSize"));
}

TEST(SigFile, StreamingStopsAtTheSinksErrorWithTheLine) {
  std::string text = kMd5 + ":1:A\n" + kMd5 + ":2:B\n" + kMd5 + ":3:C\n";
  int seen = 0;
  Status s = ForEachHashSignature(text, "x.hdb", [&](HashSignature&& sig) {
    ++seen;
    return sig.name == "B" ? ResourceExhausted("full") : Status::Ok();
  });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.message(), "x.hdb:2: full");
}

TEST(SigFile, RoleFromExtension) {
  EXPECT_EQ(HashFileRoleFor("main.hdb"), HashFileRole::kDetect);
  EXPECT_EQ(HashFileRoleFor("/var/lib/clamav/daily.hsb"), HashFileRole::kDetect);
  EXPECT_EQ(HashFileRoleFor("local.fp"), HashFileRole::kAllow);
  EXPECT_EQ(HashFileRoleFor("local.sfp"), HashFileRole::kAllow);
  EXPECT_EQ(HashFileRoleFor("rules.yar"), std::nullopt);
  EXPECT_EQ(HashFileRoleFor(".hdb"), std::nullopt);
  EXPECT_EQ(HashFileRoleFor("main.hdb.bak"), std::nullopt);
}

}  // namespace
}  // namespace accord::scan
