#include "core/canonical_json.h"

#include <gtest/gtest.h>

#include "core/limits.h"

namespace accord::json {
namespace {

std::string Canon(std::string_view in) {
  Result<Json> v = Parse(in);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  if (!v.ok()) return "";
  Result<std::string> s = Serialize(*v);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : "";
}

// cyberphone/json-canonicalization testdata/input/weird.json -> testdata/output/weird.json.
TEST(CanonicalJson, Rfc8785TestdataWeird) {
  std::string in =
      "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"1\": \"One\",\n  \"\\u0080\": \"Control\\u007f\",\n"
      "  \"\\ud83d\\ude02\": \"Smiley\",\n  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\",\n"
      "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"</script>\": \"Browser Challenge\"\n}\n";
  std::string want =
      "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\xC2\x80\":\"Control\x7F\",\"\xC3\xB6\":\"Latin "
      "Small "
      "Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro "
      "Sign\",\"\xF0\x9F\x98\x82\":\"Smiley\",\"\xEF\xAC\xB3\":"
      "\"Hebrew Letter Dalet With Dagesh\"}";
  EXPECT_EQ(Canon(in), want);
}

// testdata/input/french.json: sorting ignores locale.
TEST(CanonicalJson, Rfc8785TestdataFrench) {
  std::string in =
      "{\n  \"peach\": \"This sorting order\",\n  \"p\xC3\xA9\x63h\xC3\xA9\": \"is wrong according to "
      "French\",\n"
      "  \"p\xC3\xAA\x63he\": \"but canonicalization MUST\",\n  \"sin\":   \"ingnore locale\"\n}\n";
  std::string want =
      "{\"peach\":\"This sorting order\",\"p\xC3\xA9\x63h\xC3\xA9\":\"is wrong according to "
      "French\",\"p\xC3\xAA\x63he\":"
      "\"but canonicalization MUST\",\"sin\":\"ingnore locale\"}";
  EXPECT_EQ(Canon(in), want);
}

// RFC 8785 section 3.2.3: the sorting example.
TEST(CanonicalJson, Rfc8785SortingExample) {
  std::string in =
      "{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\", \"\\ufb33\": \"Hebrew Letter Dalet With "
      "Dagesh\","
      " \"1\": \"One\", \"\\ud83d\\ude00\": \"Emoji: Grinning Face\", \"\\u0080\": \"Control\","
      " \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"}";
  Result<Json> v = Parse(in);
  ASSERT_TRUE(v.ok());
  std::string out = Canon(in);
  std::vector<std::string> order = {"Carriage Return",
                                    "One",
                                    "Control",
                                    "Latin Small Letter O With Diaeresis",
                                    "Euro Sign",
                                    "Emoji: Grinning Face",
                                    "Hebrew Letter Dalet With Dagesh"};
  size_t pos = 0;
  for (const auto& o : order) {
    size_t at = out.find(o);
    ASSERT_NE(at, std::string::npos) << o;
    EXPECT_GT(at, pos) << o;
    pos = at;
  }
  EXPECT_EQ(out.substr(0, 7), "{\"\\r\":\"");
}

// RFC 8785 section 3.2.2.2: string escaping.
TEST(CanonicalJson, Rfc8785StringExample) {
  EXPECT_EQ(Canon(R"({"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"})"),
            "{\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
  EXPECT_EQ(Canon("[\"\\b\\f\\t\\u0001\\u001f \"]"), "[\"\\b\\f\\t\\u0001\\u001f \"]");
}

TEST(CanonicalJson, LiteralsNestingAndIntegers) {
  EXPECT_EQ(
      Canon(" [ null , true,false, {\"b\":[] ,\"a\" : {}}, 0, -1, 9007199254740991, -9007199254740991 ] "),
      "[null,true,false,{\"a\":{},\"b\":[]},0,-1,9007199254740991,-9007199254740991]");
}

TEST(CanonicalJson, RefusesWhatHasNoSingleSpelling) {
  for (std::string_view bad : {
           "{\"a\":1,\"a\":2}",  // duplicate member (I-JSON)
           "[1.5]",
           "[1e3]",
           "[1.0]",               // not integers
           "[9007199254740992]",  // beyond 2^53-1
           "[-9007199254740992]",
           "[-0]",
           "[01]",
           "[\"\\ud800\"]",  // lone surrogate
           "[\"\\udc00\"]",
           "[\"\xC3\"]",          // invalid UTF-8
           "[\"\xED\xA0\x80\"]",  // encoded surrogate
           "[\"a\nb\"]",          // raw control character
           "[\"\\x\"]",
           "[1,]",
           "{\"a\"}",
           "",
           "[] []",
           "nul",
           "[NaN]",
           "{'a':1}",
       }) {
    EXPECT_FALSE(Parse(bad).ok()) << bad;
  }
}

TEST(CanonicalJson, Limits) {
  std::string deep(limits::kMaxJsonDepth + 1, '[');
  deep += std::string(limits::kMaxJsonDepth + 1, ']');
  Result<Json> r = Parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  std::string ok_deep(limits::kMaxJsonDepth, '[');
  ok_deep += std::string(limits::kMaxJsonDepth, ']');
  EXPECT_TRUE(Parse(ok_deep).ok());
  std::string big = "[\"" + std::string(limits::kMaxJsonSize, 'a') + "\"]";
  r = Parse(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
}

TEST(CanonicalJson, ParseCanonicalRefusesOtherSpellings) {
  EXPECT_TRUE(ParseCanonical("{\"a\":1,\"b\":\"\\n\"}").ok());
  EXPECT_FALSE(ParseCanonical("{\"b\":1,\"a\":1}").ok());
  EXPECT_FALSE(ParseCanonical("{\"a\": 1}").ok());
  EXPECT_FALSE(ParseCanonical("[\"\\u0041\"]").ok());
  EXPECT_FALSE(ParseCanonical("[\"\\/\"]").ok());
  EXPECT_FALSE(ParseCanonical("[1]\n").ok());
}

TEST(CanonicalJson, SerializeRefusesFloats) {
  EXPECT_FALSE(Serialize(Json::parse("[1.5]")).ok());
  EXPECT_FALSE(Serialize(Json(uint64_t{1} << 60)).ok());
}

}  // namespace
}  // namespace accord::json
