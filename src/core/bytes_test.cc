// Byte encodings, decimal parsing and UTF-8 checks, against RFC 4648's test vectors and the
// Unicode definitions they implement. Strictness matters: signed text must have one spelling.
#include "core/bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace accord {
namespace {

// RFC 4648 section 10, "Test Vectors".
struct Rfc4648Vector {
  std::string data;
  std::string base64;
  std::string base16;
};
const std::vector<Rfc4648Vector>& Rfc4648Vectors() {
  static const std::vector<Rfc4648Vector> v = {
      {"", "", ""},
      {"f", "Zg==", "66"},
      {"fo", "Zm8=", "666F"},
      {"foo", "Zm9v", "666F6F"},
      {"foob", "Zm9vYg==", "666F6F62"},
      {"fooba", "Zm9vYmE=", "666F6F6261"},
      {"foobar", "Zm9vYmFy", "666F6F626172"},
  };
  return v;
}

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

TEST(Base64Test, EncodesRfc4648Vectors) {
  for (const auto& v : Rfc4648Vectors()) EXPECT_EQ(Base64Encode(v.data), v.base64) << v.data;
}

TEST(Base64Test, DecodesRfc4648Vectors) {
  for (const auto& v : Rfc4648Vectors()) {
    auto got = Base64Decode(v.base64);
    ASSERT_TRUE(got.has_value()) << v.base64;
    EXPECT_EQ(*got, v.data) << v.base64;
  }
}

TEST(Base64Test, RoundTripsEveryByteValueAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string data = all.substr(all.size() - len);  // ends in 0xff: high bits set in every tail
    std::string text = Base64Encode(data);
    EXPECT_EQ(text.size(), (len + 2) / 3 * 4);
    auto back = Base64Decode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, data);
  }
}

TEST(Base64Test, UsesTheStandardAlphabetNotUrlSafe) {
  EXPECT_EQ(Base64Encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(Base64Decode("+/+/"), std::optional<Bytes>("\xfb\xff\xbf"));
  EXPECT_FALSE(Base64Decode("-_-_").has_value());
}

TEST(Base64Test, RejectsMissingPadding) {
  for (const char* s : {"Zg", "Zg=", "Zm8", "Zm9vYg", "Zm9vYg=", "Zm9vYmE", "Z"})
    EXPECT_FALSE(Base64Decode(s).has_value()) << s;
}

TEST(Base64Test, RejectsExtraOrMisplacedPadding) {
  for (const char* s : {"Zg===", "Zm8==", "Zm9v=", "Zm9v====", "====", "=",
                        "Zg==Zg==", "Zm8=Zm8=", "Z===", "Zm=v", "=m9v", "Zg=A"})
    EXPECT_FALSE(Base64Decode(s).has_value()) << s;
}

TEST(Base64Test, RejectsWhitespace) {
  for (const char* s : {"Zm9v\n", " Zm9v", "Zm9v ", "Zm 9", "Zm9v\r\nYmFy", "Zm9\tv", "Zm9vYmFy\n"})
    EXPECT_FALSE(Base64Decode(s).has_value()) << s;
}

TEST(Base64Test, RejectsNonCanonicalTrailingBits) {
  // "f" is "Zg=="; "Zh==" decodes to "f" in lenient decoders but sets bits that must be zero.
  for (const char* s : {"Zh==", "Zv==", "Zm9=", "Zm+=", "Zm9vYh==", "Zm9vYmF="})
    EXPECT_FALSE(Base64Decode(s).has_value()) << s;
}

TEST(Base64Test, RejectsCharactersOutsideTheAlphabet) {
  for (const char* s : {"Zm9-", "Zm9_", "Zm9*", "Zm.v", "Zm9\x80", "\xc3\xa9Zm"})
    EXPECT_FALSE(Base64Decode(s).has_value()) << Printable(s);
  EXPECT_FALSE(Base64Decode(std::string("Zm9\0", 4)).has_value());
}

TEST(HexTest, EncodesRfc4648Base16VectorsInLowerCase) {
  for (const auto& v : Rfc4648Vectors()) EXPECT_EQ(HexEncode(v.data), Lower(v.base16)) << v.data;
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
}

TEST(HexTest, DecodesUpperAndLowerCase) {
  for (const auto& v : Rfc4648Vectors()) {
    EXPECT_EQ(HexDecode(v.base16), std::optional<Bytes>(v.data)) << v.base16;
    EXPECT_EQ(HexDecode(Lower(v.base16)), std::optional<Bytes>(v.data)) << v.base16;
  }
  EXPECT_EQ(HexDecode("aBcD"), std::optional<Bytes>("\xab\xcd"));
}

TEST(HexTest, RejectsOddLengthAndNonHexDigits) {
  for (const char* s : {"6", "666", "6g", "g6", " 66", "66 ", "0x66", "6-", "+6"})
    EXPECT_FALSE(HexDecode(s).has_value()) << s;
}

TEST(ParseDecimalTest, AcceptsCanonicalDecimals) {
  EXPECT_EQ(ParseDecimal("0"), std::optional<uint64_t>(0));
  EXPECT_EQ(ParseDecimal("7"), std::optional<uint64_t>(7));
  EXPECT_EQ(ParseDecimal("20852163"), std::optional<uint64_t>(20852163));
  EXPECT_EQ(ParseDecimal("10000000000000000000"), std::optional<uint64_t>(10000000000000000000u));
  EXPECT_EQ(ParseDecimal("18446744073709551615"), std::optional<uint64_t>(UINT64_MAX));
}

TEST(ParseDecimalTest, RejectsLeadingZeroes) {
  for (const char* s : {"00", "01", "007", "018446744073709551615"})
    EXPECT_FALSE(ParseDecimal(s).has_value()) << s;
}

TEST(ParseDecimalTest, RejectsOverflow) {
  for (const char* s : {"18446744073709551616", "18446744073709551620", "19000000000000000000",
                        "99999999999999999999", "100000000000000000000", "184467440737095516150"})
    EXPECT_FALSE(ParseDecimal(s).has_value()) << s;
}

TEST(ParseDecimalTest, RejectsSignsSpacesAndOtherSyntax) {
  for (const char* s : {"", "-1", "+1", " 1", "1 ", "1\n", "1e3", "0x10", "1.0", "1_000", "\xd9\xa1"})
    EXPECT_FALSE(ParseDecimal(s).has_value()) << Printable(s);
}

TEST(Utf8Test, AcceptsWellFormedText) {
  for (const char* s : {"", "abc", "\xc3\xa9",               // U+00E9
                        "\xe2\x82\xac",                      // U+20AC
                        "\xf0\x90\x8d\x88",                  // U+10348
                        "\xc2\x80",                          // U+0080, smallest 2-byte
                        "\xe0\xa0\x80",                      // U+0800, smallest 3-byte
                        "\xf0\x90\x80\x80",                  // U+10000, smallest 4-byte
                        "\xed\x9f\xbf", "\xee\x80\x80",      // U+D7FF and U+E000 around surrogates
                        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",  // U+FFFF and U+10FFFF
                        "\xe2\x80\x94 example.com/foo"})     // an em dash signature prefix
    EXPECT_TRUE(IsValidUtf8(s)) << Printable(s);
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
}

TEST(Utf8Test, RejectsOverlongEncodings) {
  for (const char* s : {"\xc0\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
                        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf"})
    EXPECT_FALSE(IsValidUtf8(s)) << Printable(s);
}

TEST(Utf8Test, RejectsSurrogates) {
  for (const char* s : {"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xb0\x80", "\xed\xbf\xbf",
                        "\xed\xa0\xbd\xed\xb8\x80"})  // CESU-8 style surrogate pair
    EXPECT_FALSE(IsValidUtf8(s)) << Printable(s);
}

TEST(Utf8Test, RejectsCodePointsAboveU10FFFF) {
  for (const char* s : {"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80",
                        "\xfc\x84\x80\x80\x80\x80", "\xfe", "\xff"})
    EXPECT_FALSE(IsValidUtf8(s)) << Printable(s);
}

TEST(Utf8Test, RejectsTruncatedAndBrokenSequences) {
  for (const char* s : {"\xc3", "a\xc3", "\xe2\x82", "\xf0\x90\x8d", "\x80", "\xbf",
                        "a\x80"
                        "b",
                        "\xc3\x41", "\xe2\x41\xac", "\xe2\x82\x41", "\xf0\x90\x41\x88", "\xc3\xa9\xa9"})
    EXPECT_FALSE(IsValidUtf8(s)) << Printable(s);
}

TEST(UnicodeSpaceTest, FindsEveryWhiteSpaceCodePoint) {
  // Unicode's White_Space property (PropList.txt): what Go's unicode.IsSpace reports too.
  for (const char* s : {" ", "\t", "\n", "\v", "\f", "\r", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80",
                        "\xe2\x80\x80", "\xe2\x80\x85", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
                        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"}) {
    EXPECT_TRUE(ContainsUnicodeSpace(s)) << Printable(s);
    EXPECT_TRUE(ContainsUnicodeSpace(std::string("name") + s + "x")) << Printable(s);
  }
}

TEST(UnicodeSpaceTest, IgnoresLookalikesThatAreNotWhiteSpace) {
  for (const char* s : {"", "example.com/foo", "\xe2\x80\x8b",  // U+200B ZERO WIDTH SPACE
                        "\xe1\xa0\x8e",                         // U+180E, not White_Space since 6.3
                        "\xef\xbb\xbf",                         // U+FEFF
                        "\xe2\x80\x94",                         // em dash
                        "\x1c\x1d\x1e\x1f", "_", "\xc2\xad"})   // U+00AD soft hyphen
    EXPECT_FALSE(ContainsUnicodeSpace(s)) << Printable(s);
}

TEST(PrintableTest, KeepsPrintableAsciiAndEscapesTheRest) {
  EXPECT_EQ(Printable("example.com/log 42"), "example.com/log 42");
  EXPECT_EQ(Printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(Printable(std::string("\0\x7f\xff", 3)), "\\x00\\x7f\\xff");
  EXPECT_EQ(Printable("\\x41"), "\\x5cx41");  // a backslash cannot fake an escape
  EXPECT_EQ(Printable("\xe2\x80\x94"), "\\xe2\\x80\\x94");
}

TEST(PrintableTest, CutsLongInputs) {
  EXPECT_EQ(Printable(std::string(10, 'a'), 10), std::string(10, 'a'));
  std::string cut = Printable(std::string(1000, 'a'), 10);
  EXPECT_EQ(cut, std::string(10, 'a') + "...");
  std::string escaped = Printable(std::string(1000, '\n'), 20);
  EXPECT_LT(escaped.size(), 30u);
  EXPECT_EQ(escaped.substr(escaped.size() - 3), "...");
  EXPECT_LE(Printable(std::string(100000, 'x')).size(), 83u);  // default cap of 80
}

// RFC 3986 section 2.1: %XX in either case; '+' is a space only in queries (HTML's form encoding).
TEST(PercentDecodeTest, DecodesEscapesAndRefusesBrokenOnes) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc%2fd", false), "a b/c/d");
  EXPECT_EQ(PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("%00%ff", false), std::string("\0\xff", 2));
  EXPECT_EQ(PercentDecode("", true), "");
  for (std::string_view bad : {"%", "%2", "a%g0", "%0g", "x%"}) EXPECT_FALSE(PercentDecode(bad, true)) << bad;
}

}  // namespace
}  // namespace accord
