#include "scan/mime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace accord::scan::mime {
namespace {

using ::testing::HasSubstr;

struct Decoded {
  std::vector<Part> parts;
  Status status;
  Bytes Named(std::string_view name) const {
    for (const Part& p : parts) {
      if (p.name == name) return p.data;
    }
    return "<absent>";
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const Part& p : parts) out.push_back(p.name);
    return out;
  }
};

template <typename Fn>
Decoded Decode(Fn decode, ByteView text, DecodeOptions options = {}) {
  Decoded d;
  d.status = decode(text, options, [&](Part&& p) {
    d.parts.push_back(std::move(p));
    return true;
  });
  return d;
}

TEST(MimeTest, Base64IsLenientAboutLayoutButDropsAnIncompleteQuantum) {
  EXPECT_EQ(DecodeBase64Lenient("aGVs\r\nbG8g\n d29y bGQ="), "hello world");
  EXPECT_EQ(DecodeBase64Lenient("aGVsbG8=trailing"), "hello");
  EXPECT_EQ(DecodeBase64Lenient("aGVsbG8"), "hello");
  EXPECT_EQ(DecodeBase64Lenient("aGVsbG8gA"), "hello ");  // one stray character carries no byte
  EXPECT_EQ(DecodeBase64Lenient(""), "");
}

TEST(MimeTest, QuotedPrintableHexAndSoftBreaks) {
  EXPECT_EQ(DecodeQuotedPrintable("a=3Db=\r\nc=  \nd=4"), "a=bcd=4");
  EXPECT_EQ(DecodeQuotedPrintable("caf=C3=A9"), "caf\xC3\xA9");
  EXPECT_EQ(DecodeQuotedPrintable("end="), "end");
  EXPECT_EQ(DecodeQuotedPrintable("=ZZ"), "=ZZ");
}

TEST(MimeTest, LooksLikeMail) {
  EXPECT_TRUE(LooksLikeMail("From: a\nTo: b\nSubject: c\n\nbody"));
  EXPECT_TRUE(LooksLikeMail("From x@y Thu Jul 31 2008\nMIME-Version: 1.0\n\nbody"));
  EXPECT_TRUE(LooksLikeMail("Content-Type: text/plain;\n charset=us-ascii\n\nbody"));
  EXPECT_FALSE(LooksLikeMail("Subject: only a subject\n\nbody"));
  EXPECT_FALSE(LooksLikeMail("hello world\nFrom: a\nTo: b\n\n"));
  EXPECT_FALSE(LooksLikeMail(" From: folded first line\n"));
  EXPECT_FALSE(LooksLikeMail(std::string("MZ\x90\0", 4)));
  EXPECT_FALSE(LooksLikeMail(""));
}

constexpr std::string_view kNested =
    "From: a@example.com\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: multipart/alternative;\n"
    "\tboundary=\"inner b\"\n"
    "\n"
    "--inner b\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "soft =\n"
    "break =3D\n"
    "--inner b\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>hi</p>\n"
    "--inner b--\n"
    "--outer\n"
    "Content-Type: application/octet-stream; name=\"by-type.bin\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAEC\n"
    "--outer\n"
    "Content-Type: application/octet-stream\n"
    "Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.exe\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "TVo=\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: forwarded\n"
    "Content-Type: text/plain; name=fwd.txt\n"
    "\n"
    "inside\n"
    "--outer--\n"
    "epilogue\n";

TEST(MimeTest, NestedMultipartsAndNames) {
  Decoded d = Decode(DecodeMail, kNested);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.Names(),
            (std::vector<std::string>{"part1", "part2", "by-type.bin", "na\xC3\xAFve.exe", "fwd.txt"}));
  EXPECT_EQ(d.Named("part1"), "soft break =");
  EXPECT_EQ(d.Named("part2"), "<p>hi</p>");
  EXPECT_EQ(d.Named("by-type.bin"), std::string("\0\1\2", 3));
  EXPECT_EQ(d.Named("na\xC3\xAFve.exe"), "MZ");
  EXPECT_EQ(d.Named("fwd.txt"), "inside");  // the line break before a boundary is the boundary's
}

TEST(MimeTest, CrlfMailDecodesTheSame) {
  std::string crlf;
  for (char c : kNested) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  Decoded d = Decode(DecodeMail, crlf);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.Named("by-type.bin"), std::string("\0\1\2", 3));
  EXPECT_EQ(d.Named("part1"), "soft break =");
}

TEST(MimeTest, MissingClosingBoundaryKeepsThePartsAndSaysSo) {
  std::string_view text =
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Disposition: attachment; filename=a.txt\n\nfirst\n--b\n"
      "Content-Disposition: attachment; filename=b.txt\nContent-Transfer-Encoding: base64\n\naGVsbG8g";
  Decoded d = Decode(DecodeMail, text);
  EXPECT_EQ(d.Named("a.txt"), "first");
  EXPECT_EQ(d.Named("b.txt"), "hello ");
  EXPECT_EQ(d.status.code(), Code::kDataLoss);
  EXPECT_THAT(d.status.message(), HasSubstr("no closing boundary"));
}

TEST(MimeTest, NestingIsCapped) {
  std::string text = "MIME-Version: 1.0\n";
  for (int i = 0; i < 50; ++i) {
    text += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) +
            "\n";
  }
  text += "Content-Type: text/plain\n\nbottom\n";
  DecodeOptions options;
  options.max_nesting = 10;
  Decoded d = Decode(DecodeMail, text, options);
  EXPECT_TRUE(d.parts.empty());
  EXPECT_EQ(d.status.code(), Code::kResourceExhausted);
  EXPECT_THAT(d.status.message(), HasSubstr("nested deeper than 10"));
}

TEST(MimeTest, MboxOfSeveralMessagesSplits) {
  Decoded d = Decode(DecodeMail,
                     "From a Mon Jan 1 2024\nFrom: a\nTo: b\n\none\nFrom the body, not a separator\n\n"
                     "From b Tue Jan 2 2024\nFrom: b\nTo: c\n\ntwo\n");
  ASSERT_EQ(d.Names(), (std::vector<std::string>{"message1.eml", "message2.eml"}));
  EXPECT_THAT(d.Named("message1.eml"), HasSubstr("From the body"));
  EXPECT_THAT(d.Named("message2.eml"), HasSubstr("two"));
}

TEST(MimeTest, SinkCanStopDecoding) {
  int calls = 0;
  Status s = DecodeMail(kNested, {}, [&](Part&&) { return ++calls < 2; });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 2);
}

TEST(MimeTest, UuencodeBlocksAnywhereInText) {
  // "hello world\n" uuencoded, twice, between ordinary lines; then a begin-base64 block.
  std::string_view text =
      "some text\n"
      "begin 644 one.txt\n"
      ",:&5L;&\\@=V]R;&0*\n"
      "`\n"
      "end\n"
      "more text; begin 644 not-at-line-start\n"
      "begin 0755 two.txt\n"
      ",:&5L;&\\@=V]R;&0*\n"
      "`\n"
      "end\n"
      "begin-base64 644 three.txt\n"
      "aGVsbG8gd29ybGQK\n"
      "====\n";
  EXPECT_TRUE(HasUuencode(text));
  Decoded d = Decode(DecodeUuencode, text);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.Names(), (std::vector<std::string>{"one.txt", "two.txt", "three.txt"}));
  for (const Part& p : d.parts) EXPECT_EQ(p.data, "hello world\n") << p.name;
}

TEST(MimeTest, TruncatedUuencodeYieldsWhatItHasAndSaysSo) {
  Decoded d = Decode(DecodeUuencode, "begin 644 x\n,:&5L;&\\@=V]R;&0*\n");
  EXPECT_EQ(d.Named("x"), "hello world\n");
  EXPECT_EQ(d.status.code(), Code::kDataLoss);
  EXPECT_FALSE(HasUuencode("begin with a word\nbegin 64x name\n"));
}

TEST(MimeTest, DataUris) {
  std::string_view html = "<img src=\"data:image/png;base64,aGVs\nbG8=\"><a href=\"data:text/plain,notb64\">";
  EXPECT_TRUE(HasDataUri(html));
  Decoded d = Decode(DecodeDataUris, html);
  EXPECT_EQ(d.Names(), std::vector<std::string>{"data-uri1"});
  EXPECT_EQ(d.Named("data-uri1"), "hello");
  EXPECT_FALSE(HasDataUri("data: plain words, no uri"));
}

Bytes ReadFileOrEmpty(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(MimeTest, BinhexOfClamExe) {
  const std::string dir = "/usr/share/clamav-testfiles";
  if (!std::filesystem::exists(dir + "/clam.exe.binhex")) GTEST_SKIP() << dir << " absent";
  Bytes text = ReadFileOrEmpty(dir + "/clam.exe.binhex");
  ASSERT_TRUE(HasBinhex(text));
  Decoded d = Decode(DecodeBinhex, text);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.Named("clam.exe"), ReadFileOrEmpty(dir + "/clam.exe"));

  // A flipped character fails the data fork's CRC, and a cut stream is truncated: both reported.
  Bytes flipped = text;
  size_t at = flipped.find('\n', flipped.find("\n:") + 2) + 5;
  flipped[at] = flipped[at] == '!' ? '"' : '!';
  EXPECT_EQ(Decode(DecodeBinhex, flipped).status.code(), Code::kDataLoss);
  for (size_t n = text.find("\n:") + 2; n < text.size(); n += 7) {
    Decoded cut = Decode(DecodeBinhex, ByteView(text).substr(0, n));
    if (n < text.size() - 3) {
      EXPECT_FALSE(cut.status.ok()) << n;
    }
  }
  // Run-length expansion is capped.
  DecodeOptions tiny;
  tiny.max_output = 100;
  EXPECT_EQ(Decode(DecodeBinhex, text, tiny).status.code(), Code::kResourceExhausted);
}

// libclamav.so holds the marker text as a C string: a program is not a BinHex file, and scanning
// it must not report a broken one (that note also kept it out of the clean-file cache).
TEST(MimeTest, BinhexMarkerWithoutDataIsNotBinhex) {
  Bytes program = Bytes(
                      "\x7f"
                      "ELF....(This file must be converted with BinHex 4.0)") +
                  Bytes(3, '\0') + "Content-Transfer-Encoding\n:abc";
  EXPECT_FALSE(HasBinhex(program));
  EXPECT_TRUE(Decode(DecodeBinhex, program).status.ok());
  EXPECT_FALSE(HasBinhex("(This file must be converted with BinHex 4.0):no line break"));
  EXPECT_FALSE(HasBinhex("(This file must be converted with BinHex 4.0\n)\n:x"));
  EXPECT_TRUE(
      HasBinhex("junk (This file must be converted with BinHex\n(This file must be converted with "
                "BinHex 4.0)\r\n\r\n:!!!:"));
}

}  // namespace
}  // namespace accord::scan::mime
