// YARA through libyara: externals set per file, errors that name file and line, rules that
// survive a save/load through a database, and the same verdicts as Debian's yara program.
#include "scan/yara_rules.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace accord::scan {
namespace {

class YaraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-yara-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }
  static std::vector<std::string> Rules(const YaraScanner::Outcome& o) {
    std::vector<std::string> r;
    for (const auto& m : o.matches) r.push_back(m.rule);
    std::sort(r.begin(), r.end());
    return r;
  }
  std::string dir_;
};

TEST_F(YaraTest, ExternalsAreSetForEveryFile) {
  std::string f = Write("ext.yar", R"(
rule ByName { condition: filename == "invoice.exe" }
rule ByExtension { condition: extension == ".exe" }
rule ByType { condition: filetype == "EXE" }
rule ByOwner { condition: owner == "alice" }
rule ByPath { condition: filepath contains "/mail/" }
)");
  auto rules = YaraRules::Compile({f});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  YaraScanner scanner(*rules);
  YaraExternals ext{"invoice.exe", "/home/alice/mail/invoice.exe", ".exe", FileTypeOf("MZ\x90"), "alice"};
  auto hit = scanner.Scan("MZ\x90\x00", ext, 0);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(Rules(*hit), (std::vector<std::string>{"ByExtension", "ByName", "ByOwner", "ByPath", "ByType"}));
  auto miss = scanner.Scan("plain", YaraExternals{"a.txt", "/tmp/a.txt", ".txt", "", "bob"}, 0);
  ASSERT_TRUE(miss.ok());
  EXPECT_TRUE(miss->matches.empty());
  EXPECT_EQ(hit->matches[0].source, f);  // each file is its own namespace, named after it
}

TEST_F(YaraTest, CompileErrorsNameEveryBadFileAndLine) {
  Write("rules/good.yar", "rule Good { condition: true }\n");
  Write("rules/bad1.yar", "rule A {\n strings: $a = \"x\"\n condition: $b\n}\n");
  Write("rules/bad2.yara", "rule B { condition: nosuchthing }\n");
  auto rules = YaraRules::Compile({dir_ + "/rules"});
  ASSERT_FALSE(rules.ok());
  std::string m = rules.status().message();
  // libyara reports the line where the rule's condition ends.
  EXPECT_NE(m.find("bad1.yar:4: undefined string \"$b\""), std::string::npos) << m;
  EXPECT_NE(m.find("bad2.yara:1:"), std::string::npos) << m;
  EXPECT_EQ(m.find("good.yar"), std::string::npos) << m;
}

TEST_F(YaraTest, SameRuleNamesInTwoFilesDoNotClash) {
  std::string a = Write("a.yar", "rule Same { strings: $x = \"AAA\" condition: $x }\n");
  std::string b = Write("b.yar", "rule Same { strings: $x = \"BBB\" condition: $x }\n");
  auto rules = YaraRules::Compile({a, b});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  YaraScanner scanner(*rules);
  auto o = scanner.Scan("xxBBBxx", {}, 0);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->matches.size(), 1u);
  EXPECT_EQ(o->matches[0].source, b);
}

TEST_F(YaraTest, SavedRulesLoadAndMatchTheSame) {
  std::string f = Write("m.yar",
                        "import \"math\"\nrule Hi { condition: math.entropy(0, filesize) > 7 }\n"
                        "rule Lit { strings: $a = { 4D 5A } condition: $a at 0 }\n");
  auto rules = YaraRules::Compile({f});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  auto saved = (*rules)->Save();
  ASSERT_TRUE(saved.ok());
  auto loaded = YaraRules::Load(*saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->rule_count(), 2u);
  std::string random;
  for (int i = 0; i < 4096; ++i) random.push_back(char((i * 2654435761u) >> 13));
  for (const std::string& data : {std::string("MZ rest"), random}) {
    YaraScanner a(*rules), b(*loaded);
    EXPECT_EQ(Rules(*a.Scan(data, {}, 0)), Rules(*b.Scan(data, {}, 0)));
  }
  EXPECT_FALSE(YaraRules::Load("not compiled rules").ok());
}

TEST_F(YaraTest, AgreesWithTheYaraProgram) {
  if (std::system("command -v yara >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "yara (Debian package) not installed";
  std::string rules_path = Write("cmp.yar", R"(
import "elf"
rule IsElf { condition: uint32(0) == 0x464c457f }
rule ElfShared { condition: elf.type == elf.ET_DYN }
rule HasGnu { strings: $a = "GNU" condition: $a }
rule ManyNul { strings: $z = { 00 00 00 00 00 00 00 00 } condition: #z > 100 }
)");
  auto rules = YaraRules::Compile({rules_path});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  YaraScanner scanner(*rules);
  int compared = 0;
  for (const char* file : {"/bin/true", "/bin/ls", "/etc/hostname", "/usr/share/doc/bash/copyright"}) {
    std::ifstream in(file, std::ios::binary);
    if (!in) continue;
    std::string data((std::istreambuf_iterator<char>(in)), {});
    auto ours = scanner.Scan(data, {}, 0);
    ASSERT_TRUE(ours.ok());
    std::string out = dir_ + "/yara.out";
    std::string cmd = "yara " + rules_path + " " + file + " > " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream o(out);
    std::vector<std::string> theirs;
    std::string rule, path;
    while (o >> rule >> path) theirs.push_back(rule);
    std::sort(theirs.begin(), theirs.end());
    EXPECT_EQ(Rules(*ours), theirs) << file;
    ++compared;
  }
  EXPECT_GE(compared, 3);
}

}  // namespace
}  // namespace accord::scan
