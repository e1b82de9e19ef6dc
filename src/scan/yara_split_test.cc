// The rule splitter: which forms give a gate (and which must not), where rules begin and end, and
// that anything it cannot follow keeps the file whole.
#include "scan/yara_split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace accord::scan {
namespace {

const YaraMagic kMz{16, false, 0x5a4d}, kElf{32, false, 0x464c457f};

YaraGate Gate(uint64_t max_size, std::optional<std::vector<YaraMagic>> magics = std::nullopt) {
  YaraGate g;
  g.max_size = max_size;
  g.magics = std::move(magics);
  return g;
}
constexpr uint64_t kNone = YaraGate::kNoSizeLimit;

// The literals one rule needs ("" names a rule with no known needs), given its strings section
// and condition.
std::optional<std::vector<YaraLiteral>> Needs(std::string_view strings, std::string_view condition) {
  std::string text =
      "rule r {\n strings:\n" + std::string(strings) + "\n condition:\n  " + std::string(condition) + "\n}\n";
  YaraSplit split = SplitYaraRules(text);
  EXPECT_EQ(split.rules.size(), 1u) << text;
  if (split.rules.size() != 1) return std::nullopt;
  return split.rules[0].needs;
}

std::vector<std::string> Bytes(const std::optional<std::vector<YaraLiteral>>& needs) {
  std::vector<std::string> out;
  if (needs)
    for (const YaraLiteral& l : *needs) out.push_back(l.bytes + (l.caseless ? " (nocase)" : ""));
  return out;
}

using Strs = std::vector<std::string>;

TEST(YaraLiterals, HexStringsGiveTheirLongestRunOfFixedBytes) {
  EXPECT_EQ(HexStringLiteral(" 41 42 43 44 ?? 45 46 "), "ABCD");
  EXPECT_EQ(HexStringLiteral("41 42 [2-4] 43 44 45 46 47"), "CDEFG");
  EXPECT_EQ(HexStringLiteral("41 4? 43 44 45 46 47 48"), "CDEFGH");     // a masked nibble cuts
  EXPECT_EQ(HexStringLiteral("41 42 43 ( 44 45 | 46 ) 47 48"), "ABC");  // alternatives cut
  EXPECT_EQ(HexStringLiteral("41 42 // a comment\n 43 /* and */ 44"), "ABCD");
  // A bracket in a comment is not one: here every byte of the second line is in an alternative.
  EXPECT_EQ(HexStringLiteral("99 ( 00 // )\n 41 42 43 44 45 46 47 48 ( 02 | 03 // (\n ) | 01 ) 98"), "\x99");
  EXPECT_EQ(HexStringLiteral("41 42 ~43 44"), "AB");
  EXPECT_EQ(HexStringLiteral("?? ?? [-]"), "");
  EXPECT_EQ(HexStringLiteral("41 42 43 4"), "");  // not a hex string
  EXPECT_EQ(HexStringLiteral("41 42 ( 43"), "");  // unbalanced
}

TEST(YaraLiterals, RegexesGiveCharactersEveryMatchHas) {
  EXPECT_EQ(RegexLiteral("abc"), "abc");
  EXPECT_EQ(RegexLiteral("ab?cdef"), "cdef");  // b is optional
  EXPECT_EQ(RegexLiteral("abcd*ef"), "abc");   // d* may be none
  EXPECT_EQ(RegexLiteral("abc+def"), "abc");   // c at least once, then a cut
  EXPECT_EQ(RegexLiteral("ab{0,3}cdefg"), "cdefg");
  EXPECT_EQ(RegexLiteral("abc{2}de"), "abc");
  EXPECT_EQ(RegexLiteral("xy.*?abcde"), "abcde");  // lazy: one quantifier, not two
  EXPECT_EQ(RegexLiteral("a[bc]defg"), "defg");
  EXPECT_EQ(RegexLiteral("[]x]abcd"), "abcd");
  EXPECT_EQ(RegexLiteral("ab\\.cd\\x41\\/e"), "ab.cdA/e");
  EXPECT_EQ(RegexLiteral("ab\\dcdef"), "cdef");
  EXPECT_EQ(RegexLiteral("(abcdef)?xy"), "xy");  // an optional group gives nothing
  EXPECT_EQ(RegexLiteral("(abc|def)ghij"), "ghij");
  EXPECT_EQ(RegexLiteral("x(abcdef)+y"), "abcdef");
  EXPECT_EQ(RegexLiteral("abcdef|ghijkl"), "");  // either may match
  EXPECT_EQ(RegexLiteral("abc\\q"), "");         // an escape we do not know
  EXPECT_EQ(RegexLiteral("abc)"), "");
  EXPECT_EQ(RegexLiteral("(?:abc)"), "");
  EXPECT_EQ(RegexLiteral("ab{x}"), "");
}

TEST(YaraNeeds, StringsGiveLiteralsWithTheirModifiers) {
  EXPECT_EQ(Bytes(Needs("  $a = \"powershell\"", "$a")), Strs{"powershell"});
  EXPECT_EQ(Bytes(Needs("  $a = \"powershell\" nocase", "$a")), Strs{"powershell (nocase)"});
  EXPECT_EQ(Bytes(Needs("  $a = \"power\\x00\\\"shell\" wide", "$a")),
            Strs{std::string("p\0o\0w\0e\0r\0\0\0\"\0s\0h\0e\0l\0l\0", 24)});
  EXPECT_EQ(Bytes(Needs("  $a = \"powershell\" ascii wide fullword private", "$a")).size(), 2u);
  EXPECT_EQ(Bytes(Needs("  $a = \"tab\\t back\\\\ nl\\n cr\\r\"", "$a")), Strs{"tab\t back\\ nl\n cr\r"});
  EXPECT_EQ(Bytes(Needs("  $a = /Invoke-[A-Z]+Mimikatz/i", "$a")), Strs{"Mimikatz (nocase)"});
  EXPECT_EQ(Bytes(Needs("  $a = { 4D 5A 90 00 03 00 00 00 04 00 00 00 FF FF 00 00 B8 ?? 40 }", "$a")),
            Strs{std::string("MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8", 17)});
  // Too few bytes other than zeros, or modifiers whose bytes differ from the text: none.
  EXPECT_FALSE(Needs("  $a = \"cmd.exe\"", "$a"));
  EXPECT_FALSE(Needs("  $a = { 00 00 00 00 01 02 03 00 00 00 }", "$a"));
  EXPECT_FALSE(Needs("  $a = \"powershell\\q\"", "$a"));
  EXPECT_FALSE(Needs("  $a = \"powershell\" xor(1-256)", "$a"));  // libyara refuses these
  EXPECT_FALSE(Needs("  $a = \"powershell\" xor(9-8)", "$a"));
  EXPECT_FALSE(Needs("  $a = \"powershell\" xor nocase", "$a"));
  EXPECT_FALSE(Needs("  $a = \"powershell\" base64(\"short\")", "$a"));
  // xor: the text XORed with every key (`wide`: the wide text); the key that zeros a letter
  // weakens the literal: "aaaaaaaab" XORed with 'a' has one byte other than zero.
  auto x = Bytes(Needs("  $a = \"powershell\" xor", "$a"));
  ASSERT_EQ(x.size(), 256u);
  EXPECT_TRUE(std::count(x.begin(), x.end(), "powershell"));
  EXPECT_TRUE(std::count(x.begin(), x.end(), "POWERSHELL"));  // key 0x20
  EXPECT_EQ(Bytes(Needs("  $a = \"powershell\" xor(0x20)", "$a")), Strs{"POWERSHELL"});
  auto xw = Bytes(Needs("  $a = \"powershell\" xor(1-2) ascii wide", "$a"));
  ASSERT_EQ(xw.size(), 4u);
  EXPECT_TRUE(std::count(xw.begin(), xw.end(), std::string("q\1n\1v\1d\1s\1r\1i\1d\1m\1m\1", 20)));
  EXPECT_TRUE(std::count(xw.begin(), xw.end(), "rmugpqjgnn"));  // key 2
  EXPECT_FALSE(Needs("  $a = \"aaaaaaaaaaaaab\" xor", "$a"));
  // base64: the three texts YARA's documentation gives for "This program cannot"
  // (https://yara.readthedocs.io/en/stable/writingrules.html#base64-strings).
  EXPECT_EQ(Bytes(Needs("  $a = \"This program cannot\" base64", "$a")),
            (Strs{"RoaXMgcHJvZ3JhbSBjYW5ub3", "UaGlzIHByb2dyYW0gY2Fubm90", "VGhpcyBwcm9ncmFtIGNhbm5vd"}));
  auto b64w = Bytes(Needs("  $a = \"This program cannot\" base64wide", "$a"));
  ASSERT_EQ(b64w.size(), 3u);  // widened, and cut to kMaxYaraEncodedLiteral (32) bytes
  EXPECT_EQ(b64w[2], std::string("V\0G\0h\0p\0c\0y\0B\0w\0c\0m\0009\0n\0c\0m\0F\0t\0", 32));
  // Each XORed form is cut too; the key 'q' zeros the whole text: no needs for it.
  auto long_xor = Needs("  $a = \"" + std::string(100, 'q') + "\" xor(1-2)", "$a");
  ASSERT_TRUE(long_xor && long_xor->size() == 2u);
  EXPECT_EQ((*long_xor)[0].bytes, std::string(kMaxYaraEncodedLiteral, 'q' ^ 1));
  EXPECT_FALSE(Needs("  $a = \"" + std::string(100, 'q') + "\" xor", "$a"));
  EXPECT_EQ(Bytes(Needs("  $a = \"This program cannot\" base64 base64wide ascii wide", "$a")).size(), 12u);
  // A custom alphabet: the standard one rotated by one letter.
  EXPECT_EQ(Bytes(Needs("  $a = \"This program cannot\" "
                        "base64(\"BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/A\")",
                        "$a"))[2],
            "WHiqdzCxdn+odnGuJHOicn6we");
  EXPECT_FALSE(Needs("", "filesize < 10"));
  // A literal longer than kMaxYaraLiteral is cut to its first bytes.
  std::string hex;
  for (int i = 0; i < 3000; ++i) hex += "4" + std::string(1, "123456789"[i % 9]) + " ";
  auto cut = Needs("  $a = { " + hex + "}", "$a");
  ASSERT_TRUE(cut && cut->size() == 1);
  EXPECT_EQ((*cut)[0].bytes.size(), kMaxYaraLiteral);
  EXPECT_EQ((*cut)[0].bytes.substr(0, 3), "ABC");
}

TEST(YaraNeeds, ConditionsNeedWhatEveryWayToBeTrueNeeds) {
  const char* strs =
      "  $a = \"aaaaaaaaaa\"\n  $b = \"bbbbbbbbbbbb\"\n  $c = \"cccccccccccccc\"\n  $d = \"dddd\"\n"
      "  $x1 = \"x1x1x1x1x1\"\n  $x2 = \"x2x2x2x2x2x2\"";
  auto n = [&](std::string_view cond) { return Bytes(Needs(strs, cond)); };
  EXPECT_EQ(n("$a"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("$a at 0"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("$a at pe.entry_point + 4"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("$a in (0..filesize)"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("#a > 0"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("#a >= 2"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("#a == 1"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("0 < #a"), Strs{"aaaaaaaaaa"});
  // `and`: either side's needs, the stronger (longer literals); `or`: both sides'.
  EXPECT_EQ(n("$a and $b"), Strs{"bbbbbbbbbbbb"});
  EXPECT_EQ(n("uint16(0) == 0x5a4d and filesize < 100KB and $a"), Strs{"aaaaaaaaaa"});
  EXPECT_EQ(n("$a or $b"), (Strs{"aaaaaaaaaa", "bbbbbbbbbbbb"}));
  EXPECT_EQ(n("$a and $b or $c"), (Strs{"bbbbbbbbbbbb", "cccccccccccccc"}));    // (a and b) or c
  EXPECT_EQ(n("$a and ($b or $c)"), (Strs{"bbbbbbbbbbbb", "cccccccccccccc"}));  // all 12 bytes or more
  EXPECT_EQ(n("($a or $b) and $c"), Strs{"cccccccccccccc"});
  EXPECT_EQ(n("((($a)))"), Strs{"aaaaaaaaaa"});
  // Q of S: one of any |S| - Q + 1 of its strings matches; the strongest are taken.
  EXPECT_EQ(n("any of ($x*)"), (Strs{"x1x1x1x1x1", "x2x2x2x2x2x2"}));
  EXPECT_EQ(n("all of ($x*)"), Strs{"x2x2x2x2x2x2"});
  EXPECT_EQ(n("2 of ($a, $b, $c)"), (Strs{"bbbbbbbbbbbb", "cccccccccccccc"}));
  EXPECT_EQ(n("all of them"), Strs{"cccccccccccccc"});
  EXPECT_EQ(n("5 of them"), (Strs{"bbbbbbbbbbbb", "cccccccccccccc"}));  // $d has no literal
  EXPECT_EQ(n("6 of them"), Strs{"cccccccccccccc"});
  // libyara counts a string named twice twice: two of ($a, $a*, $b) are $a alone.
  EXPECT_EQ(n("2 of ($a, $a*, $b)"), (Strs{"aaaaaaaaaa", "bbbbbbbbbbbb"}));
  EXPECT_EQ(n("2 of ($a, $a, $b)"), (Strs{"aaaaaaaaaa", "bbbbbbbbbbbb"}));
  EXPECT_EQ(n("3 of ($a, $a, $b)"), Strs{"bbbbbbbbbbbb"});
  // Ways to be true without a string: no needs.
  for (const char* cond : {"$a or filesize < 10",
                           "not $a",
                           "$d",
                           "any of them",
                           "1 of ($a, $d)",
                           "7 of them",
                           "0 of them",
                           "none of them",
                           "#a == 0",
                           "#a >= 0",
                           "#a < 3",
                           "$a == 0",
                           "$a at 0 == false",
                           "for any of ($a, $b) : ($ at 0)",
                           "for all i in (1..#a) : (@a[i] < 10)",
                           "$a or other_rule",
                           "pe.imphash() == \"x\" or $a",
                           "@a[1] == 0",
                           "!a[1] == 10",
                           "50% of them",
                           "$e",
                           "$a*",
                           "any of ($e*)",
                           "2 of ($a, $b"}) {
    EXPECT_TRUE(n(cond).empty()) << cond;
  }
}

TEST(YaraNeeds, FilesKeptWholeHaveNone) {
  YaraSplit split = SplitYaraRules(
      "rule r { strings: $a = \"aaaaaaaaaa\" condition: $a }\n"
      "rule r { strings: $a = \"aaaaaaaaaa\" condition: $a }\n");
  ASSERT_EQ(split.rules.size(), 2u);
  EXPECT_FALSE(split.keep_whole.empty());
  EXPECT_FALSE(split.rules[0].needs);
  EXPECT_TRUE(SplitYaraRules("rule r { strings: $a = \"aaaaaaaaaa\" condition: $a }").rules.at(0).needs);
}

TEST(YaraConditionGate, TopLevelConjunctsGiveTheGate) {
  EXPECT_EQ(YaraConditionGate("uint16(0) == 0x5a4d and filesize < 200KB and 3 of them"),
            Gate(200 * 1024, std::vector{kMz}));
  EXPECT_EQ(YaraConditionGate("filesize <= 100"), Gate(101));
  EXPECT_EQ(YaraConditionGate("100KB > filesize and $a"), Gate(100 * 1024));
  EXPECT_EQ(YaraConditionGate("1MB >= filesize"), Gate((1 << 20) + 1));
  EXPECT_EQ(YaraConditionGate("0x5a4d == uint16(0)"), Gate(kNone, std::vector{kMz}));
  EXPECT_EQ(YaraConditionGate("uint16be(0) == 0x4d5a"),
            Gate(kNone, std::vector{YaraMagic{16, true, 0x4d5a}}));
  EXPECT_EQ(YaraConditionGate("( uint16(0) == 0x5a4d ) and ( filesize < 0x100 )"),
            Gate(256, std::vector{kMz}));
  EXPECT_EQ(YaraConditionGate("uint16(0) == 0x5a4d and uint32(uint32(0x3c)) == 0x4550 and $a"),
            Gate(kNone, std::vector{kMz}));
  EXPECT_EQ(YaraConditionGate("$a and (filesize < 10 or filesize < 20)"), Gate(20));
}

TEST(YaraConditionGate, OrJoinsBranches) {
  EXPECT_EQ(YaraConditionGate("(uint16(0) == 0x5a4d and filesize < 1MB) or "
                              "(uint32(0) == 0x464c457f and filesize < 2MB)"),
            Gate(2 << 20, std::vector{kMz, kElf}));
  EXPECT_EQ(YaraConditionGate("filesize < 2MB or uint16(0) == 0x5a4d"), Gate(kNone));
  EXPECT_EQ(YaraConditionGate("uint16(0) == 0x5a4d or $a"), Gate(kNone));
  EXPECT_EQ(YaraConditionGate("filesize < 10 or filesize < 30 or filesize < 20"), Gate(30));
}

TEST(YaraConditionGate, AnythingElseGivesNoGate) {
  for (const char* c : {"not filesize < 10",
                        "filesize < 1 * 1024",
                        "filesize < 10 == true",
                        "for any i in (0..10) : ( uint16(i) == 0 and filesize < 10 )",
                        "uint16(1) == 0x5a4d",
                        "uint16(0) != 0x5a4d",
                        "uint16(0) == 0x5a4d + 1",
                        "filesize < 0xFFFFFFFFFFFFFFFFFFFF",
                        "filesize < 99999999999999999999KB",
                        "filesize > 10",
                        "filesize < x",
                        "uint16(0x0) == 0x5a4d",
                        "$a",
                        "any of them",
                        "",
                        "(",
                        ")",
                        "( filesize < 10",
                        "filesize < 10 )",
                        "not (filesize < 10 and $a)"}) {
    EXPECT_EQ(YaraConditionGate(c), Gate(kNone)) << c;
  }
}

// libyara's pe module leaves every field but its constants and is_pe undefined on data that does
// not start with "MZ", so a conjunct that needs a pe value needs an "MZ" file (the scanner test
// YaraTest.PeGatesAgreeWithLibyara checks these against libyara itself).
TEST(YaraConditionGate, PeExpressionsNeedAnMzFile) {
  for (const char* c :
       {"pe.exports(\"x\")", "pe.imphash() == \"abc\" and $a", "pe.number_of_sections > 3", "pe.is_pe",
        "pe.characteristics & pe.DLL", "pe.machine == pe.MACHINE_AMD64",
        "pe.version_info[\"CompanyName\"] contains \"x\"",
        "pe.sections[0].name == \".text\" and filesize < 1MB", "(pe.exports(\"a\") or uint16(0) == 0x5a4d)",
        "$a and pe.imports(\"kernel32.dll\", \"Sleep\")"}) {
    YaraGate g = YaraConditionGate(c);
    EXPECT_EQ(g.magics, std::optional(std::vector{kMz})) << c;
  }
  for (const char* c : {"not pe.exports(\"x\")",
                        "pe.number_of_sections >= 2or 1 == 1",  // YARA reads `2 or`
                        "pe.number_of_sections >= 0x2or 1 == 1",
                        "pe.imphash() matches /x/or 1 == 1",  // and `/x/ or`
                        "pe.imphash() matches /x/ior 1 == 1", "pe.is_pe == 0", "pe.MACHINE_AMD64 == 0x8664",
                        "defined pe.number_of_sections", "pe.exports(\"x\") or $a",
                        "for any i in (0..pe.number_of_sections) : (true)", "$a at pe.entry_point",
                        "pe.number_of_sections + filesize > 3", "math.entropy(0, filesize) > 7",
                        "pe.exports(\"x\") == not_a_pe_thing", "pe.", "pe.exports(\"x\""}) {
    EXPECT_EQ(YaraConditionGate(c), Gate(kNone)) << c;
  }
}

TEST(YaraMagic, MatchesTheLeadingBytesAndNeedsThemAll) {
  EXPECT_TRUE(kMz.Matches("MZ\x90"));
  EXPECT_FALSE(kMz.Matches("M"));  // shorter than the width: libyara's uint16(0) is undefined
  EXPECT_FALSE(kMz.Matches("ZM"));
  EXPECT_TRUE(
      kElf.Matches("\x7f"
                   "ELF\x02"));
  EXPECT_TRUE((YaraMagic{16, true, 0x4d5a}).Matches("MZ"));
  EXPECT_TRUE((YaraMagic{8, false, 0x7b}).Matches("{\\rtf"));
  YaraGate g = Gate(100, std::vector{kMz});
  g.min_size = 10;
  EXPECT_TRUE(g.Admits(10, "MZ"));
  EXPECT_FALSE(g.Admits(9, "MZ"));
  EXPECT_FALSE(g.Admits(100, "MZ"));
  EXPECT_FALSE(g.Admits(50, "ZM"));
}

TEST(SplitYaraRules, FindsRulesWhereverBracesAndKeywordsHide) {
  std::string text = R"(import "pe"
// rule Fake { condition: true }
/* rule Fake2 {
   condition: true } */
private rule A : tag1 tag2 {
  meta:
    condition = "not a section"
    note = "braces { } and condition: in a string"
  strings:
    $h = { 4D 5A [2-4] ( 90 | 91 ) ?? }
    $r = /a{2,3}\/}"/ nocase
    $t = "}"
  condition:
    uint16(0) == 0x5a4d and filesize < 64KB and any of them
}
rule B { condition: filesize < 10 or $x matches /}{/ }
)";
  YaraSplit s = SplitYaraRules(text);
  ASSERT_EQ(s.keep_whole, "");
  ASSERT_EQ(s.rules.size(), 2u);
  EXPECT_EQ(s.rules[0].name, "A");
  EXPECT_EQ(text.substr(s.rules[0].begin, 12), "private rule");
  EXPECT_EQ(text[s.rules[0].end - 1], '}');
  EXPECT_EQ(s.rules[0].gate, Gate(64 * 1024, std::vector{kMz}));
  EXPECT_EQ(s.rules[1].name, "B");
  EXPECT_EQ(s.rules[1].gate, Gate(kNone));
  EXPECT_EQ(text.substr(s.rules[1].end), "\n");
}

TEST(SplitYaraRules, RulesThatNameOthersAreCompiledWithThem) {
  YaraSplit s = SplitYaraRules(
      "rule A { condition: true }\nrule B { condition: A and filesize < 10 }\n"
      "rule C { condition: B or A }\nrule D { condition: true }");
  ASSERT_EQ(s.keep_whole, "");
  ASSERT_EQ(s.rules.size(), 4u);
  EXPECT_EQ(s.rules[1].uses, std::vector<size_t>{0});
  EXPECT_EQ(s.rules[1].gate, Gate(10));
  EXPECT_EQ(s.rules[2].uses, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(WithDependencies(s, {2}), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(WithDependencies(s, {3}), std::vector<size_t>{3});
  // A rule set by wildcard names every rule whose name starts so.
  YaraSplit w = SplitYaraRules(
      "rule ab { condition: false }\nrule abc { condition: uint16(0) == 0x5a4d }\n"
      "rule x { condition: any of (ab*) }\nrule y { condition: any of (ab *) }");
  ASSERT_EQ(w.rules.size(), 4u);
  EXPECT_EQ(w.rules[2].uses, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(w.rules[3].uses, (std::vector<size_t>{0, 1}));
}

TEST(SplitYaraRules, KeepsTheFileWholeWhenItCannotBeSplit) {
  EXPECT_NE(
      SplitYaraRules("global rule G { condition: filesize < 10 }\nrule B { condition: true }").keep_whole,
      "");
  EXPECT_NE(SplitYaraRules("include \"other.yar\"\nrule B { condition: true }").keep_whole, "");
  EXPECT_NE(SplitYaraRules("rule A { condition: true }\nrule A { condition: false }").keep_whole, "");
  EXPECT_NE(SplitYaraRules("rule A { condition: true } /* unterminated").keep_whole, "");
  EXPECT_NE(SplitYaraRules("rule A { strings: $a = \"unterminated\n condition: $a }").keep_whole, "");
  EXPECT_NE(SplitYaraRules("rule A { condition: true").keep_whole, "");
  EXPECT_NE(SplitYaraRules("rule A { strings: $a = \"x\" }").keep_whole, "");
  EXPECT_NE(SplitYaraRules("garbage rule A { condition: true }").keep_whole, "");
  // A kept-whole file has no gates: every rule runs on every file.
  YaraSplit s = SplitYaraRules("rule A { condition: filesize < 10 }\nrule A { condition: true }");
  for (const auto& r : s.rules) EXPECT_EQ(r.gate, Gate(kNone));
}

TEST(SplitYaraRules, KeepOnlyRulesBlanksOthersAndKeepsLines) {
  std::string text = "import \"pe\"\nrule A {\n condition:\n true\n}\nrule B { condition: false }\n";
  YaraSplit s = SplitYaraRules(text);
  ASSERT_EQ(s.rules.size(), 2u);
  std::string only_b = KeepOnlyRules(text, s, {1});
  EXPECT_EQ(only_b.size(), text.size());
  EXPECT_EQ(std::count(only_b.begin(), only_b.end(), '\n'), std::count(text.begin(), text.end(), '\n'));
  EXPECT_EQ(only_b.find("rule A"), std::string::npos);
  EXPECT_NE(only_b.find("rule B { condition: false }"), std::string::npos);
  EXPECT_EQ(only_b.find("import \"pe\""), std::string::npos);  // no rule names pe
  EXPECT_EQ(std::string(KeepOnlyRules(text, s, {0, 1})).substr(11), text.substr(11));
}

TEST(SplitYaraRules, KeepOnlyRulesKeepsTheImportsOfTheRulesKept) {
  std::string text =
      "import \"pe\"\nimport \"math\"\n"
      "rule A { condition: pe.is_dll() }\n"
      "rule B { meta: m = \"pe.x\" condition: math.entropy(0, filesize) > 7 }\n"
      "rule C { strings: $pe = \"pe.\" condition: $pe }\n";
  YaraSplit s = SplitYaraRules(text);
  ASSERT_EQ(s.rules.size(), 3u);
  EXPECT_EQ(s.rules[0].modules, std::vector<std::string>{"pe"});
  EXPECT_EQ(s.rules[1].modules, std::vector<std::string>{"math"});
  EXPECT_TRUE(s.rules[2].modules.empty());
  std::string a = KeepOnlyRules(text, s, {0});
  EXPECT_NE(a.find("import \"pe\""), std::string::npos);
  EXPECT_EQ(a.find("import \"math\""), std::string::npos);
  std::string c = KeepOnlyRules(text, s, {2});
  EXPECT_EQ(c.find("import"), std::string::npos);
  EXPECT_EQ(c.size(), text.size());
}

// Bit of each external in YaraExternalUses::opaque.
constexpr uint8_t kFilename = 1, kFilepath = 2, kExtension = 4, kOwner = 16;

TEST(ExternalUses, ComparisonsWithLiteralsArePredicates) {
  YaraExternalUses u = ExternalUses(R"(
rule a { meta: filename = "x" strings: $a = "filename" condition: filename == "svchost.exe" and $a }
rule b { condition: not filepath contains "/etc" or (extension matches /\.(php|jsp)$/i) }
rule c { condition: uint16(0) == 0x5a4d and not filename iequals "a.exe" and
         filename == "svchost.exe" }
rule d { condition: pe.filename == 3 and owner startswith "ro" }
)");
  EXPECT_EQ(u.opaque, 0);  // the meta key, the text string and the field pe.filename are not the variable
  EXPECT_EQ(u.predicates,
            (std::vector<std::string>{R"(extension matches /\.(php|jsp)$/i)", R"(filename == "svchost.exe")",
                                      R"(filename iequals "a.exe")", R"(filepath contains "/etc")",
                                      R"(owner startswith "ro")"}));
  for (const std::string& p : u.predicates) EXPECT_TRUE(IsExternalPredicate(p)) << p;
}

TEST(ExternalUses, AnyOtherUseMakesTheVariableOpaque) {
  struct Case {
    const char* condition;
    uint8_t opaque;
  } cases[] = {
      {R"("a.exe" == filename)", kFilename},      // the other order
      {R"(filename == "a" == true)", kFilename},  // binds to something tighter
      {R"(filename == "a" + 1)", kFilename},
      {R"(filepath matches "x")", kFilepath},                                // matches takes a regex
      {R"(extension contains /x/)", kExtension},                             // and only matches does
      {R"(for any filename in ("a", "b") : (filename == "a"))", kFilename},  // a variable of that name
      {R"(filename)", kFilename},
      {R"(1 == 1 and hash.md5(filename) == "x")", kFilename},
      {R"(filepath == filename)", kFilepath | kFilename},
      {R"(filename == "a" and owner == extension)", kOwner | kExtension},
  };
  for (const Case& c : cases) {
    YaraExternalUses u = ExternalUses(std::string("rule r { condition: ") + c.condition + " }");
    EXPECT_EQ(u.opaque, c.opaque) << c.condition;
  }
  // A file SplitYaraRules keeps whole: every variable.
  EXPECT_EQ(ExternalUses("include \"other.yar\"\nrule r { condition: true }").opaque, kAllExternalsOpaque);
  EXPECT_EQ(ExternalUses("global rule g { condition: true }\nrule r { condition: true }").opaque,
            kAllExternalsOpaque);
  EXPECT_EQ(ExternalUses("rule r { condition: \"unterminated }").opaque, kAllExternalsOpaque);
  EXPECT_EQ(ExternalUses("rule r { condition: true }").opaque, 0);
}

TEST(ExternalUses, APredicateFromADatabaseIsOneComparisonAndNothingElse) {
  EXPECT_TRUE(IsExternalPredicate(R"(filename == "a")"));
  EXPECT_TRUE(IsExternalPredicate(R"(filepath matches /x/is)"));
  for (const char* bad : {R"(filename == "a" or true)", R"(true or filename == "a")",
                          R"(filename == "a")"
                          " ",
                          R"(pe.x == "a")", R"(filename == 1)", R"(filename)", "", R"(filename == "a)"})
    EXPECT_FALSE(IsExternalPredicate(bad)) << bad;
}

}  // namespace
}  // namespace accord::scan
