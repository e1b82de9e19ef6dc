// YARA through libyara: externals set per file, errors that name file and line, rules that
// survive a save/load through a database, and the same verdicts as Debian's yara program.
#include "scan/yara_rules.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <yara.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/limits.h"

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
  static uint64_t Le(const Bytes& b, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | uint8_t(b[at + i]);
    return v;
  }
  // Where the fields of a version 5 (or 4) save are (docs/scan-database.md): per group, the offset
  // of its gate, of its when-none-of and of its image's length; and the prefilter's length's.
  struct Layout {
    size_t groups_at = 0;  // the first group's gate
    std::vector<size_t> gate_at, when_none_at, image_at;
    size_t prefilter_at = 0;
  };
  static Layout Walk(const Bytes& v5) {
    Layout l;
    EXPECT_EQ(v5.substr(0, 4), "ACYG");
    size_t at = 21;  // magic, version, groups, rules, opaque
    const uint64_t predicates = Le(v5, at, 4);
    at += 4;
    for (uint64_t i = 0; i < predicates; ++i) at += 4 + Le(v5, at, 4);
    l.groups_at = at;
    for (uint64_t g = 0, n = Le(v5, 8, 4); g < n; ++g) {
      l.gate_at.push_back(at);
      const uint64_t magics = Le(v5, at + 16, 4);
      at += 20 + (magics == 0xFFFFFFFF ? 0 : 10 * magics);
      l.when_none_at.push_back(at);
      at += 8;
      const uint64_t literals = Le(v5, at, 4);
      at += 4;
      for (uint64_t i = 0; i < literals; ++i) at += 5 + Le(v5, at + 1, 4);
      l.image_at.push_back(at);
      at += 8 + Le(v5, at, 8);
    }
    l.prefilter_at = at;
    EXPECT_EQ(at + 8 + Le(v5, at, 8), v5.size());  // the prefilter, last
    return l;
  }
  // The same rules as databases of format version 2 held them (docs/scan-database.md): version 5
  // without the externals' opaque mask and predicates, the groups' needs and the prefilter.
  static Bytes OldFormat(const YaraRules& rules) {
    Bytes v5 = *rules.Save();
    EXPECT_EQ(Le(v5, 4, 4), 5u);
    const Layout l = Walk(v5);
    Bytes v2 = v5.substr(0, 20);
    v2[4] = 2;
    for (size_t g = 0; g < l.gate_at.size(); ++g) {
      v2 += v5.substr(l.gate_at[g], l.when_none_at[g] - l.gate_at[g]);
      v2 += v5.substr(l.image_at[g], 8 + Le(v5, l.image_at[g], 8));
    }
    return v2;
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

// A fault inside libyara (here: the data is a mapping of a file cut short after it was mapped)
// ends that scan with an error; the scanner then goes on scanning (scan/fault_guard.h). Once
// limits::kMaxYaraFaultedScanners scanners have faulted in a process, its YARA scans are refused
// (in a child process: the count is the process's).
class YaraFaultTest : public YaraTest {
 protected:
  void SetUp() override {
    YaraTest::SetUp();
    std::string f = Write("f.yar", "rule Needle { strings: $a = \"needle\" condition: $a }");
    auto rules = YaraRules::Compile({f}, false);  // one group, no prefilter: libyara reads first
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    rules_ = *rules;
    const std::string path = Write("data", std::string(1 << 16, 'x'));
    fd_ = open(path.c_str(), O_RDWR);
    ASSERT_GE(fd_, 0);
    map_ = mmap(nullptr, 1 << 16, PROT_READ, MAP_SHARED, fd_, 0);
    ASSERT_NE(map_, MAP_FAILED);
    ASSERT_EQ(ftruncate(fd_, 0), 0);
  }
  void TearDown() override {
    if (map_ != MAP_FAILED) munmap(map_, 1 << 16);
    if (fd_ >= 0) close(fd_);
    YaraTest::TearDown();
  }
  ByteView Cut() const { return ByteView(static_cast<const char*>(map_), 1 << 16); }
  // Scans the cut data (an error naming `why`), then good data (found) and other data (nothing).
  static void FaultThenScan(YaraScanner& s, ByteView cut, const std::string& why) {
    auto faulted = s.Scan(cut, {}, 0);
    ASSERT_FALSE(faulted.ok());
    EXPECT_NE(faulted.status().ToString().find(why), std::string::npos) << faulted.status().ToString();
    auto after = s.Scan("a needle here", {}, 0);
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(Rules(*after), std::vector<std::string>{"Needle"});
    EXPECT_EQ(Rules(*s.Scan("nothing", {}, 0)), std::vector<std::string>{});
  }
  std::shared_ptr<const YaraRules> rules_;
  int fd_ = -1;
  void* map_ = MAP_FAILED;
};

TEST_F(YaraFaultTest, AFaultInALibyaraScanIsAnErrorAndTheScannerGoesOn) {
  YaraScanner s(rules_);
  const std::string ours = "libyara faulted (signal " + std::to_string(SIGBUS) + ") scanning this item";
  FaultThenScan(s, Cut(), ours);
  FaultThenScan(s, Cut(), ours);
}

TEST_F(YaraFaultTest, PastTheCapYaraScansAreRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        YaraScanner s(rules_);
        const std::string ours = "libyara faulted (signal " + std::to_string(SIGBUS) + ")";
        for (size_t i = 0; i + 1 < accord::limits::kMaxYaraFaultedScanners; ++i)
          FaultThenScan(s, Cut(), ours);
        auto last = s.Scan(Cut(), {}, 0);
        if (last.ok() || last.status().ToString().find(ours) == std::string::npos) std::_Exit(6);
        for (const ByteView data : {Cut(), ByteView("a needle here")}) {
          auto refused = s.Scan(data, {}, 0);
          if (refused.ok() || refused.status().ToString().find("YARA scans are refused") == std::string::npos)
            std::_Exit(3);
        }
        YaraScanner fresh(rules_);  // the count is the process's
        if (fresh.Scan("a needle here", {}, 0).ok()) std::_Exit(4);
        std::_Exit(::testing::Test::HasFailure() ? 5 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

// The externals key: two items with the same bytes and the same key get the same matches. It
// tells apart exactly what the rules can, checked against libyara's matches over many names, and
// survives a save and load; rules saved without it (a plain libyara image) tell every name apart.
TEST_F(YaraTest, TheExternalsKeyTellsApartWhatTheRulesCan) {
  std::string f = Write("ext.yar", R"(
rule ByName { strings: $a = "evil" condition: $a and filename matches /^inv.*\.exe$/ }
rule NotEtc { strings: $a = "evil" condition: $a and not filepath contains "/etc/" }
rule ByExtension { condition: extension == ".php" or owner == "mallory" }
rule Plain { strings: $a = "evil" condition: $a }
)");
  auto rules = YaraRules::Compile({f});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)->external_uses().opaque, 0);
  EXPECT_EQ((*rules)->external_uses().predicates.size(), 4u);
  auto saved = (*rules)->Save();
  ASSERT_TRUE(saved.ok());
  auto loaded = YaraRules::Load(*saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->external_uses().predicates, (*rules)->external_uses().predicates);
  std::vector<YaraExternals> names;
  for (const char* path : {"/a/invoice.exe", "/b/invoice.exe", "/etc/invoice.exe", "/a/x.php", "/b/y.php",
                           "/a/inv.exe", "/a/invoice.exe.txt", "/etc/x.txt", "/a/x.txt"})
    for (const char* owner : {"alice", "mallory", "bob"}) {
      std::string p = path;
      std::string name = p.substr(p.rfind('/') + 1);
      size_t dot = name.rfind('.');
      names.push_back({name, p, name.substr(dot), "", owner});
    }
  for (const auto& set : {*rules, *loaded}) {
    YaraScanner scanner(set);
    std::map<std::string, std::vector<std::string>> by_key;  // key -> the matches of its first item
    std::set<std::string> keys;
    for (const YaraExternals& ext : names) {
      std::string key = scanner.ExternalsKey(ext);
      keys.insert(key);
      auto o = scanner.Scan("some evil bytes", ext, 0);
      ASSERT_TRUE(o.ok());
      auto [it, first] = by_key.emplace(key, Rules(*o));
      EXPECT_EQ(it->second, Rules(*o)) << ext.filepath << " " << ext.owner;  // same key, same matches
    }
    // The names fall into far fewer classes than there are names, and more than one.
    EXPECT_GT(keys.size(), 3u);
    EXPECT_LT(keys.size(), names.size() / 2);
  }
  // A database's predicate must be one (here "... or true" where `extension == ".php"` was).
  Bytes bad = *saved;
  size_t at = bad.find(R"(extension == ".php")");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 19, "extension  or  true");
  EXPECT_EQ(YaraRules::Load(bad).status().code(), Code::kDataLoss);
  // Cut anywhere in the predicates: refused.
  for (size_t cut = 20; cut < 25 + 4 * 4 + 80; cut += 3)
    EXPECT_EQ(YaraRules::Load(ByteView(*saved).substr(0, cut)).status().code(), Code::kDataLoss) << cut;
  // Rules saved before databases held the predicates (format version 2): every name is its own.
  auto old = YaraRules::Load(OldFormat(**rules));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ((*old)->external_uses().opaque, kAllExternalsOpaque);
  YaraScanner scanner(*old);
  EXPECT_NE(scanner.ExternalsKey(names[0]), scanner.ExternalsKey(names[3]));
  EXPECT_EQ(scanner.ExternalsKey(names[0]), scanner.ExternalsKey(names[0]));
  // And a plain libyara image (what a database held for one ungated group before version 3).
  auto whole = YaraRules::Compile({f}, false);
  ASSERT_TRUE(whole.ok());
  Bytes plain = OldFormat(**whole).substr(20 + 8 + 8 + 4 + 8);  // header, one ungated group's
  ASSERT_EQ(plain.substr(0, 4), "YARA");
  auto raw = YaraRules::Load(plain);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ((*raw)->external_uses().opaque, kAllExternalsOpaque);
  EXPECT_EQ((*raw)->rule_count(), 4u);
}

// A predicate longer than a database may hold makes its variable opaque, so what is saved loads.
TEST_F(YaraTest, RulesWithAPredicateTooLongForADatabaseStillLoad) {
  std::string f =
      Write("long.yar", "rule Long { strings: $a = \"evil\" condition: $a and not filename == \"" +
                            std::string(5000, 'x') + "\" and extension == \".exe\" }\n");
  auto rules = YaraRules::Compile({f});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)->external_uses().opaque, 1);  // filename
  EXPECT_EQ((*rules)->external_uses().predicates, std::vector<std::string>{"extension == \".exe\""});
  auto loaded = YaraRules::Load(*(*rules)->Save());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->external_uses().opaque, 1);
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

TEST_F(YaraTest, LargeFileGroupsGiveTheSameMatchesAsOneSet) {
  std::string a = Write("a.yar", R"(import "pe"
rule SmallOnly { strings: $a = "EVIL" condition: filesize < 100KB and $a }
rule MzOnly { strings: $a = "EVIL" condition: uint16(0) == 0x5a4d and $a }
rule MzSmall { strings: $a = "EVIL" condition: uint16(0) == 0x5a4d and filesize < 2MB and $a }
rule Any { strings: $a = "EVIL" condition: $a }
rule ElfOrMz { strings: $a = "EVIL" condition: (uint16(0) == 0x5a4d or uint32(0) == 0x464c457f) and $a }
rule NotPe { condition: not pe.is_pe and filesize > 3MB }
rule Mid { strings: $a = "EVIL" condition: filesize < 200KB and $a }
rule UpTo64K { strings: $a = "EVIL" condition: filesize <= 65536 and $a }
rule Under256K { strings: $a = "EVIL" condition: $a and filesize < 256KB }
rule Under64K { strings: $a = "EVIL" condition: $a and filesize < 64KB }
)");
  std::string b = Write("b.yar", R"(
rule Base { strings: $a = "EVIL" condition: filesize < 10KB and $a }
rule Uses { condition: Base or filesize > 3MB }
)");
  auto grouped = YaraRules::Compile({a, b});
  auto whole = YaraRules::Compile({a, b}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok());
  EXPECT_GT((*grouped)->groups().size(), 1u);
  EXPECT_EQ((*whole)->groups().size(), 1u);
  EXPECT_EQ((*grouped)->rule_count(), (*whole)->rule_count());
  auto saved = (*grouped)->Save();
  ASSERT_TRUE(saved.ok());
  auto loaded = YaraRules::Load(*saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->groups().size(), (*grouped)->groups().size());
  EXPECT_EQ((*loaded)->rule_count(), (*whole)->rule_count());
  YaraScanner g(*grouped), w(*whole), l(*loaded);
  std::map<std::string, std::vector<std::string>> expected = {
      {"xx/5120", {"Any", "Base", "Mid", "SmallOnly", "Under256K", "Under64K", "UpTo64K", "Uses"}},
      // Rules bounded near the size classes' edges (256 KiB and 1 MiB, yara_rules.cc), and at
      // an edge: a rule bounded there is in the class below it only, or in both for `<=`.
      {"xx/65535", {"Any", "Mid", "SmallOnly", "Under256K", "Under64K", "UpTo64K"}},
      {"xx/65536", {"Any", "Mid", "SmallOnly", "Under256K", "UpTo64K"}},
      {"xx/65537", {"Any", "Mid", "SmallOnly", "Under256K"}},
      {"xx/204799", {"Any", "Mid", "Under256K"}},
      {"xx/262143", {"Any", "Under256K"}},
      {"xx/262144", {"Any"}},
      {"MZ/262144", {"Any", "ElfOrMz", "MzOnly", "MzSmall"}},
      {"MZ/4194304", {"Any", "ElfOrMz", "MzOnly", "NotPe", "Uses"}},
      {"MZ/1572864", {"Any", "ElfOrMz", "MzOnly", "MzSmall"}},
      {"\x7f"
       "ELF/4194304",
       {"Any", "ElfOrMz", "NotPe", "Uses"}},
  };
  int checked = 0;
  for (std::string head : {"xx", "MZ",
                           "\x7f"
                           "ELF"}) {
    for (size_t size : {5120, 51200, 65535, 65536, 65537, 102399, 102400, 204799, 204800, 262143, 262144,
                        1048575, 1048576, 1572864, 2097152, 4194304}) {
      for (bool evil : {true, false}) {
        std::string data = head + std::string(size - head.size(), 'x');
        if (evil) data.replace(size / 2, 4, "EVIL");
        auto rg = g.Scan(data, {}, 0), rw = w.Scan(data, {}, 0), rl = l.Scan(data, {}, 0);
        ASSERT_TRUE(rg.ok() && rw.ok() && rl.ok());
        EXPECT_EQ(Rules(*rg), Rules(*rw)) << head << " " << size << " " << evil;
        EXPECT_EQ(Rules(*rl), Rules(*rw)) << head << " " << size << " " << evil;
        auto it = expected.find(head + "/" + std::to_string(size));
        if (evil && it != expected.end()) {
          EXPECT_EQ(Rules(*rw), it->second) << head << " " << size;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 11);
  // What the classes are for: an item is not scanned with rules bounded below its class.
  auto scanned_with = [&](const YaraRules& rules, size_t size) {
    std::set<std::string> names;
    for (const auto& group : rules.groups()) {
      if (!group.gate.Admits(size, "xx")) continue;
      YR_RULE* rule;
      yr_rules_foreach(group.rules, rule) {
        names.insert(rule->identifier);
      }
    }
    return names;
  };
  for (const YaraRules* rules : {grouped->get(), loaded->get()}) {
    EXPECT_TRUE(scanned_with(*rules, 5120).contains("Under64K"));
    EXPECT_TRUE(scanned_with(*rules, 100 << 10).contains("Mid"));
    EXPECT_TRUE(scanned_with(*rules, 100 << 10).contains("Under256K"));
    EXPECT_FALSE(scanned_with(*rules, 300 << 10).contains("Mid"));
    EXPECT_FALSE(scanned_with(*rules, 300 << 10).contains("Under64K"));
    EXPECT_FALSE(scanned_with(*rules, 300 << 10).contains("Under256K"));
    EXPECT_TRUE(scanned_with(*rules, 300 << 10).contains("Any"));
    EXPECT_FALSE(scanned_with(*rules, 300 << 10).contains("SmallOnly"));
    EXPECT_FALSE(scanned_with(*rules, 2 << 20).contains("Mid"));
  }
}

TEST_F(YaraTest, DamagedGroupedRulesAreRefused) {
  std::string a = Write("a.yar",
                        "rule A { strings: $a = \"EVIL\" condition: filesize < 10 and $a }\n"
                        "rule B { condition: uint16(0) == 0x5a4d and filesize > 2MB }\n");
  auto rules = YaraRules::Compile({a});
  ASSERT_TRUE(rules.ok());
  auto saved = (*rules)->Save();
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(saved->substr(0, 4), "ACYG");
  for (size_t cut :
       {size_t{4}, size_t{8}, size_t{12}, size_t{20}, size_t{28}, size_t{40}, saved->size() - 1}) {
    EXPECT_FALSE(YaraRules::Load(ByteView(*saved).substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(YaraRules::Load(*saved + "x").ok());
  Bytes bad = *saved;
  bad[8] = 100;  // 100 groups
  EXPECT_FALSE(YaraRules::Load(bad).ok());
}

// The whole signature-base set, grouped and not, on ClamAV's test files and on large files (this
// test program itself, and an "MZ" file of 2 MiB holding those files): the same rules match.
// The gates read from pe expressions, the rules compiled with the rules they name and the rules
// rewritten without pe for items that are not "MZ" (AssumeNoPe), checked against libyara itself:
// the grouped set reports what the whole set reports, once, on data that is not "MZ" (down to no
// byte at all), starts with "MZ" without being a program, and is a real program (clam.exe).
TEST_F(YaraTest, PeGatesAndRuleDependenciesAgreeWithLibyara) {
  Write("pe_forms.yar", R"(import "pe"
import "math"
rule exports { strings: $a = "hello" condition: $a and pe.exports("x") }
rule sections { strings: $a = "hello" condition: $a and pe.number_of_sections > 0 }
rule imphash { strings: $a = "hello" condition: $a and pe.imphash() != "0" }
rule is_pe { strings: $a = "hello" condition: $a and pe.is_pe }
rule machine { strings: $a = "hello" condition: $a and pe.machine == pe.MACHINE_I386 }
rule branch { strings: $a = "hello" condition: (pe.number_of_sections > 0 and $a) or filesize < 3 }
rule not_exports { strings: $a = "hello" condition: $a and not pe.exports("x") }
rule is_pe_zero { strings: $a = "hello" condition: $a and pe.is_pe == 0 }
rule undefined_or { strings: $a = "hello" condition: pe.number_of_sections > 100 or $a }
rule entropy { condition: math.entropy(0, filesize) >= 0 and filesize < 10MB }
rule range_any { strings: $a = "hello" condition: $a and for any i in (0..pe.number_of_sections - 1) : (pe.sections[i].name == ".text") }
rule range_all { strings: $a = "hello" condition: $a and for all i in (0..pe.number_of_sections - 1) : (pe.sections[i].name == ".zzz") }
rule at_entry { strings: $a = "hello" condition: $a at pe.entry_point or #a > 0 }
rule via_rule { strings: $a = "hello" condition: $a and not exports }
rule via_rule2 { condition: not_exports or is_pe_zero }
rule tiny { condition: filesize < 2 and not pe.is_pe }
rule glued_or { condition: pe.number_of_sections >= 2or 1 == 1 }
rule glued_regex { condition: pe.imphash() matches /x/or 1 == 1 }
rule glued_and { strings: $a = "hello" condition: $a and not (1 == 1and pe.number_of_sections > 0) }
rule binary_minus { strings: $a = "hello" condition: ($a and uint8(0) - pe.number_of_sections < 1000) or $a }
rule typed { strings: $a = "hello" condition: $a and (math.to_number(pe.is_dll() == 1) == 0 or $a) }
rule never { condition: filesize < 0KB }
rule set_a { condition: false }
rule set_ab { condition: uint16(0) == 0x5a4d }
rule by_set { condition: any of (set_a*) }
private rule base { strings: $a = "hello" condition: $a }
rule on_mz { condition: base and uint16(0) == 0x5a4d }
rule anywhere { condition: base and filesize < 10MB }
rule both { condition: on_mz or anywhere }
)");
  auto grouped = YaraRules::Compile({dir_});
  auto whole = YaraRules::Compile({dir_}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok()) << grouped.status().ToString();
  EXPECT_GT((*grouped)->groups().size(), 1u);
  EXPECT_EQ((*grouped)->rule_count(), (*whole)->rule_count());
  auto saved = (*grouped)->Save();
  ASSERT_TRUE(saved.ok());
  auto loaded = YaraRules::Load(*saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->rule_count(), (*whole)->rule_count());
  std::ifstream exe("/usr/share/clamav-testfiles/clam.exe", std::ios::binary);
  std::string program((std::istreambuf_iterator<char>(exe)), std::istreambuf_iterator<char>());
  std::vector<std::string> blobs = {
      "hello world", "MZhello world", "Mhello", "h", "", std::string(2 << 20, 'x') + "hello"};
  if (!program.empty()) blobs.push_back(program + "hello");
  YaraScanner g(*loaded), w(*whole);
  std::set<std::string> seen;
  for (const auto& data : blobs) {
    YaraExternals ext{"x", "/tmp/x", "", FileTypeOf(data.substr(0, 64)), ""};
    auto rg = g.Scan(data, ext, 0), rw = w.Scan(data, ext, 0);
    ASSERT_TRUE(rg.ok() && rw.ok());
    EXPECT_EQ(Rules(*rg), Rules(*rw)) << data.substr(0, 16);
    for (const auto& m : rw->matches) seen.insert(m.rule);
  }
  // The data exercise both sides: rules true on plain data and rules true only on the program.
  EXPECT_TRUE(seen.count("is_pe_zero") && seen.count("undefined_or") && seen.count("anywhere") &&
              seen.count("on_mz") && seen.count("both") && seen.count("entropy") && seen.count("at_entry") &&
              seen.count("via_rule2") && seen.count("glued_or") && seen.count("glued_regex") &&
              seen.count("glued_and") && seen.count("binary_minus") && seen.count("typed") &&
              seen.count("by_set"));
  if (!program.empty()) {
    EXPECT_TRUE(seen.count("sections") && seen.count("is_pe") && seen.count("machine"));
  }
}

// A file libyara reads with an include is kept whole, in the group every item gets.
TEST_F(YaraTest, IncludedRulesAreInTheGroups) {
  Write("a.inc", "rule included { condition: true }\n");
  Write("index.yar", "include \"a.inc\"\nrule mz { condition: uint16(0) == 0x5a4d }\n");
  Write("other.yar", "rule small { condition: filesize < 10 and uint16(0) == 0x5a4d }\n");
  auto grouped = YaraRules::Compile({dir_});
  auto whole = YaraRules::Compile({dir_}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok()) << grouped.status().ToString();
  EXPECT_EQ((*grouped)->rule_count(), 3u);
  YaraScanner g(*grouped), w(*whole);
  for (const std::string& data : std::vector<std::string>{"hello", "MZ", std::string(2 << 20, 'x')}) {
    YaraExternals ext{"x", "/tmp/x", "", "", ""};
    auto rg = g.Scan(data, ext, 0), rw = w.Scan(data, ext, 0);
    ASSERT_TRUE(rg.ok() && rw.ok());
    EXPECT_EQ(Rules(*rg), Rules(*rw)) << data.substr(0, 8);
    EXPECT_FALSE(Rules(*rg).empty());
  }
}

// Rules that need literals run only on items in which one occurs (Hyperscan finds them); the
// others run on every item. Checked against libyara over the whole set, on items with and
// without each literal, in each form the modifiers give it, and through a database.
TEST_F(YaraTest, RulesRunOnlyWhereTheLiteralsTheyNeedOccur) {
  std::string f = Write("n.yar", R"(
rule Text { strings: $a = "needle-literal-one" condition: $a }
rule Wide { strings: $a = "widewidewide" wide condition: $a }
rule NoCase { strings: $a = "CaseLessNeedle" nocase condition: $a }
rule Both { strings: $a = "alpha-literal" $b = "beta-literal" condition: $a and $b }
rule Hex { strings: $a = { 6E 65 65 64 6C 65 [1-3] 74 77 6F 2D 68 65 78 2D 74 61 69 6C } condition: $a }
rule Regex { strings: $a = /regex-(x|y)+-needle-[0-9]{2}/ condition: $a }
rule Large { strings: $a = "needle-literal-one" condition: $a and filesize > 70000 }
rule Small { condition: filesize < 100 }
rule Short { strings: $a = "abc" condition: $a }
rule Either { strings: $a = "needle-literal-one" condition: $a or filesize == 7 }
rule Named { condition: Text and filesize > 20 }
rule Xor { strings: $a = "xor-needle-text" xor(1-255) condition: $a }
rule Base64 { strings: $a = "base64 needle text" base64 condition: $a }
rule XorWide { strings: $a = "wide-xor-needle" xor(0x30-0x40) wide condition: $a }
rule Base64Wide { strings: $a = "wide base64 needle" base64wide wide condition: $a }
)");
  auto grouped = YaraRules::Compile({f});
  auto whole = YaraRules::Compile({f}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok()) << grouped.status().ToString();
  size_t with_needs = 0, when_none = 0;
  for (const auto& g : (*grouped)->groups()) {
    with_needs += !g.needs.empty();
    when_none += g.when_none_of != 0;
  }
  EXPECT_GT(with_needs, 0u);
  EXPECT_GT(when_none, 0u);
  auto saved = (*grouped)->Save();
  ASSERT_TRUE(saved.ok());
  auto loaded = YaraRules::Load(*saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ((*loaded)->groups().size(), (*grouped)->groups().size());
  for (size_t i = 0; i < (*loaded)->groups().size(); ++i) {
    EXPECT_EQ((*loaded)->groups()[i].needs, (*grouped)->groups()[i].needs);
    EXPECT_EQ((*loaded)->groups()[i].when_none_of, (*grouped)->groups()[i].when_none_of);
  }
  const std::string pad(80000, 'p'), big(300000, 'b');  // under 256 KiB, and over
  auto wide = [](std::string_view t) {
    std::string w;
    for (char c : t) w += std::string{c, '\0'};
    return w;
  };
  auto xored = [](std::string t, int key) {
    for (char& c : t) c = char(c ^ key);
    return t;
  };
  const std::map<std::string, std::vector<std::string>> items = {
      {"", {"Small"}},
      {"abc", {"Short", "Small"}},
      {"1234567", {"Either", "Small"}},
      {"xx needle-literal-one xx", {"Either", "Small", "Named", "Text"}},
      {std::string("w\0i\0d\0e\0w\0i\0d\0e\0w\0i\0d\0e\0", 24), {"Small", "Wide"}},
      {"widewidewide", {"Small"}},
      {"..cASElessNEEDLE..", {"NoCase", "Small"}},
      {"alpha-literal beta-literal", {"Both", "Small"}},
      {"alpha-literal only", {"Small"}},
      {"needle--two-hex-tail", {"Hex", "Small"}},
      {"needle--two-hex-tai", {"Small"}},
      {"regex-xyyx-needle-42", {"Regex", "Small"}},
      {"regex-xyyx-needle-4", {"Small"}},
      {"\x39\x2e\x33\x6c\x2f\x24\x24\x25\x2d\x24\x6c\x35\x24\x39\x35", {"Small", "Xor"}},  // key 0x41
      {"xor-needle-text", {"Small"}},                                                      // key 0: not asked
      {"eHggYmFzZTY0IG5lZWRsZSB0ZXh0IHl5", {"Base64", "Small"}},  // base64 of "xx base64 needle text yy"
      {"base64 needle text", {"Small"}},
      {xored(wide("wide-xor-needle"), 0x35), {"Small", "XorWide"}},
      {xored("wide-xor-needle", 0x35), {"Small"}},
      // base64 of "xx wide base64 needle yy" in UTF-16LE, widened
      {wide("eAB4ACAAdwBpAGQAZQAgAGIAYQBzAGUANgA0ACAAbgBlAGUAZABsAGUAIAB5AHkA"), {"Base64Wide"}},
      {"eAB4ACAAdwBpAGQAZQAgAGIAYQBzAGUANgA0ACAAbgBlAGUAZABsAGUAIAB5AHkA", {"Small"}},
      {big + "needle-literal-one", {"Either", "Large", "Named", "Text"}},
      {big + "abc", {"Short"}},
      {pad + "needle-literal-one", {"Either", "Large", "Named", "Text"}},
      {pad + "abc", {"Short"}},
      {pad, {}},
      {"MZ" + pad + "needle-literal-one", {"Either", "Large", "Named", "Text"}},
      {"MZ" + pad, {}},
  };
  // Damaged needs are refused: a group with literals that also says when-none-of, one whose
  // when-none-of names itself, a literal neither caseless nor not, a literal of no bytes.
  {
    const Bytes& v5 = *saved;
    auto le = [&v5](size_t at, int bytes) { return Le(v5, at, bytes); };
    const std::vector<size_t> when_none_at = Walk(v5).when_none_at;
    ASSERT_GT(le(when_none_at[0] + 8, 4), 0u);  // the first class group has literals
    const size_t first_literal = when_none_at[0] + 12;
    auto refused = [](Bytes bad) { return YaraRules::Load(bad).status().code() == Code::kDataLoss; };
    Bytes bad = v5;
    bad[when_none_at[0]] = 2;
    EXPECT_TRUE(refused(bad));
    for (size_t g = 0; g < when_none_at.size(); ++g) {
      if (le(when_none_at[g], 8) == 0) continue;
      bad = v5;
      bad[when_none_at[g] + g / 8] = char(bad[when_none_at[g] + g / 8] | (1 << (g % 8)));
      EXPECT_TRUE(refused(bad)) << g;
    }
    bad = v5;
    bad[first_literal] = 2;
    EXPECT_TRUE(refused(bad));
    bad = v5;
    for (int i = 1; i <= 4; ++i) bad[first_literal + i] = 0;
    EXPECT_TRUE(refused(bad));
  }
  // A stored prefilter Hyperscan refuses (here its last byte is changed: its checksum fails) is
  // compiled again from the literals.
  Bytes damaged = *saved;
  damaged.back() = char(damaged.back() ^ 1);
  auto recompiled = YaraRules::Load(damaged);
  ASSERT_TRUE(recompiled.ok()) << recompiled.status().ToString();
  YaraScanner g(*grouped), w(*whole), l(*loaded), r(*recompiled);
  // What the prefilter is for: an item without the literals runs only the rules that need none
  // (here Small, Short, Either and Named, with Text, which Named names). An item under 256 KiB with
  // literals also runs the rules that need them (those that share one are in one group: Text and
  // Large); a larger one with a literal, its class's group of all rules (but Small) instead.
  size_t need_none = 0, second_class = 0, split = 0;
  for (const auto& group : (*grouped)->groups()) {
    if (group.when_none_of != 0 && !group.gate.magics) need_none = group.rule_count;
    if (group.gate.min_size == 256 << 10 && !group.gate.magics) second_class = group.rule_count;
    split += group.gate.max_size == 256 << 10 && !group.needs.empty();
  }
  EXPECT_EQ(need_none, 5u);
  EXPECT_EQ(second_class, 14u);
  EXPECT_EQ(split, 10u);  // Text and Large; Wide; NoCase; Both; Hex; Regex; Xor; Base64; XorWide; Base64Wide
  for (YaraScanner* s : {&g, &l, &r}) {
    EXPECT_EQ(s->Scan("abc", {}, 0)->rules_run, need_none);
    EXPECT_EQ(s->Scan("xx needle-literal-one xx", {}, 0)->rules_run, need_none + 2);
    EXPECT_EQ(s->Scan("..cASElessNEEDLE..", {}, 0)->rules_run, need_none + 1);
    EXPECT_EQ(s->Scan("eHggYmFzZTY0IG5lZWRsZSB0ZXh0IHl5", {}, 0)->rules_run, need_none + 1);
    EXPECT_EQ(s->Scan(big + "abc", {}, 0)->rules_run, need_none);
    EXPECT_EQ(s->Scan(big + "..cASElessNEEDLE..", {}, 0)->rules_run, second_class);
  }
  for (const auto& [data, expected] : items) {
    auto rg = g.Scan(data, {}, 0), rw = w.Scan(data, {}, 0), rl = l.Scan(data, {}, 0),
         rr = r.Scan(data, {}, 0);
    ASSERT_TRUE(rg.ok() && rw.ok() && rl.ok() && rr.ok());
    std::vector<std::string> want = expected;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(Rules(*rw), want) << data.substr(0, 40);  // libyara over the whole set
    EXPECT_EQ(Rules(*rg), want) << data.substr(0, 40);
    EXPECT_EQ(Rules(*rl), want) << data.substr(0, 40);
    EXPECT_EQ(Rules(*rr), want) << data.substr(0, 40);
  }
}

// A database of format version 4 names as partners of the group of the rules that need none only
// the classes with needs; read now, the classes without are its partners too, so that their items
// run their class's group alone, as they did. Version 5 names them itself.
TEST_F(YaraTest, Version4WhenNoneOfIsReadAsVersion5) {
  std::string f = Write("mz.yar", R"(
rule MzNeed { strings: $a = "mz-needle-literal" condition: uint16(0) == 0x5a4d and filesize < 1MB and $a }
rule MzNone { condition: uint16(0) == 0x5a4d and filesize > 5 }
)");
  auto grouped = YaraRules::Compile({f});
  ASSERT_TRUE(grouped.ok()) << grouped.status().ToString();
  // "MZ" items under 1 MiB (MzNeed, MzNone), of 1 MiB or more (MzNone), the rules that need none.
  const auto& groups = (*grouped)->groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_FALSE(groups[0].needs.empty());
  EXPECT_TRUE(groups[1].needs.empty());
  EXPECT_EQ(groups[2].when_none_of, 3u);
  Bytes v5 = *(*grouped)->Save();
  const size_t when_none = Walk(v5).when_none_at[2];
  Bytes v4 = v5;
  v4[4] = 4;
  v4[when_none] = 1;  // what version 4 wrote: the class with needs only
  auto old = YaraRules::Load(v4);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ((*old)->groups()[2].when_none_of, 3u);
  const std::string large = "MZ" + std::string(2 << 20, 'x'), small = "MZ" + std::string(100, 'x');
  for (const std::shared_ptr<const YaraRules>& rules : {*grouped, *old}) {
    YaraScanner s(rules);
    EXPECT_EQ(s.Scan(large, {}, 0)->rules_run, 1u);  // the large class alone
    EXPECT_EQ(s.Scan(small, {}, 0)->rules_run, 1u);  // the rules that need none
    EXPECT_EQ(s.Scan(small + "mz-needle-literal", {}, 0)->rules_run, 2u);
    EXPECT_EQ(Rules(*s.Scan(small + "mz-needle-literal", {}, 0)),
              (std::vector<std::string>{"MzNeed", "MzNone"}));
  }
  // Version 4 named no class without needs.
  v4[when_none] = 3;
  EXPECT_EQ(YaraRules::Load(v4).status().code(), Code::kDataLoss);
}

// A file kept whole (a global rule after another rule) joins every group of any item, and the
// other files are still split.
TEST_F(YaraTest, AFileKeptWholeLeavesTheOthersGrouped) {
  std::string a =
      Write("a.yar", "rule First { condition: filesize < 5 }\nglobal rule G { condition: true }\n");
  std::string b = Write("b.yar",
                        "rule Small { strings: $a = \"EVIL\" condition: $a and filesize < 100KB }\n"
                        "rule Large { strings: $a = \"EVIL\" condition: $a and filesize > 2MB }\n"
                        "rule Needle { strings: $a = \"a-needle-literal\" condition: $a }\n");
  auto grouped = YaraRules::Compile({a, b});
  auto whole = YaraRules::Compile({a, b}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok());
  EXPECT_GT((*grouped)->groups().size(), 1u);
  // The class of small items is still split by literals (the file kept whole is with the rules
  // that need none, which run on every small item).
  size_t split = 0;
  for (const auto& group : (*grouped)->groups())
    split += group.gate.max_size == 256 << 10 && !group.needs.empty();
  EXPECT_EQ(split, 1u);
  YaraScanner g(*grouped), w(*whole);
  for (size_t size : {size_t{3}, size_t{50} << 10, size_t{3} << 20}) {
    for (bool needle : {false, true}) {
      std::string data(size, 'x');
      if (size > 4) data.replace(size / 2, 4, "EVIL");
      if (needle) data += "a-needle-literal";
      EXPECT_EQ(Rules(*g.Scan(data, {}, 0)), Rules(*w.Scan(data, {}, 0))) << size << needle;
      EXPECT_FALSE(Rules(*g.Scan(data, {}, 0)).empty());  // First, Small or Large
    }
  }
}

TEST_F(YaraTest, SignatureBaseGroupedMatchesTheWholeSet) {
  const char* data_dir = std::getenv("ACCORD_SHARED_DATA");
  std::string sb = std::string(data_dir ? data_dir : "../shared/data") + "/signature-base/yara";
  if (!std::filesystem::is_directory(sb)) GTEST_SKIP() << "no " << sb;
  auto grouped = YaraRules::Compile({sb});
  auto whole = YaraRules::Compile({sb}, false);
  ASSERT_TRUE(grouped.ok() && whole.ok());
  ASSERT_GT((*grouped)->groups().size(), 1u);
  EXPECT_EQ((*grouped)->rule_count(), (*whole)->rule_count());
  YaraScanner g(*grouped), w(*whole);
  std::vector<std::string> blobs;
  std::string big = "MZ";
  for (const auto& e : std::filesystem::directory_iterator("/usr/share/clamav-testfiles")) {
    std::ifstream in(e.path(), std::ios::binary);
    blobs.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    big += blobs.back();
  }
  big.resize(std::max<size_t>(big.size(), 2 << 20), '\0');
  blobs.push_back(big);
  std::ifstream self("/proc/self/exe", std::ios::binary);
  const std::string program((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
  blobs.push_back(program);
  // Items of several sizes (256 KiB and 1 MiB bound the classes): the program's bytes, and
  // the rules' own text, whose strings they are.
  ASSERT_GT(program.size(), size_t{2} << 20);
  std::string rules_text;
  for (const auto& e : std::filesystem::directory_iterator(sb)) {
    std::ifstream in(e.path(), std::ios::binary);
    rules_text.append((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  for (size_t size : {size_t{40} << 10, size_t{100} << 10, size_t{300} << 10, size_t{700} << 10}) {
    blobs.push_back(program.substr(program.size() / 3, size));
    blobs.push_back(rules_text.substr(rules_text.size() / 2, size));
  }
  size_t matched = 0;
  for (const auto& data : blobs) {
    YaraExternals ext{"x.exe", "/tmp/x.exe", ".exe", FileTypeOf(data.substr(0, 64)), ""};
    auto rg = g.Scan(data, ext, 0), rw = w.Scan(data, ext, 0);
    ASSERT_TRUE(rg.ok() && rw.ok());
    EXPECT_EQ(Rules(*rg), Rules(*rw)) << data.size();
    matched += rw->matches.size();
  }
  EXPECT_GT(matched, 0u);
  // Its rules read the external variables only through predicates (322 distinct ones), so files
  // with the same bytes and names the rules do not tell apart share a verdict (scan/memo.h):
  // checked against libyara for names the rules look for and names they do not.
  const YaraExternalUses& uses = (*grouped)->external_uses();
  EXPECT_EQ(uses.opaque, 0);
  EXPECT_GT(uses.predicates.size(), 300u);
  std::map<std::string, std::vector<std::string>> by_key;
  std::set<std::string> keys;
  size_t named = 0;
  for (const char* path :
       {"/usr/lib/a.so", "/usr/lib/b.so", "/etc/sudoers.d/x", "/etc/sudoers", "/w/shell.php", "/w/index.php",
        "/c/Windows/svchost.exe", "/tmp/svchost.exe", "/tmp/x.exe", "/tmp/y.exe", "/root/.ssh/id_rsa",
        "/home/a/.ssh/authorized_keys", "/tmp/x.jsp", "/tmp/x.txt"}) {
    std::string p = path, name = p.substr(p.rfind('/') + 1);
    size_t dot = name.rfind('.');
    for (size_t b = 0; b < blobs.size(); b += 7) {
      const std::string& data = blobs[b];
      YaraExternals ext{name, p, dot == std::string::npos ? "" : name.substr(dot),
                        FileTypeOf(data.substr(0, 64)), "root"};
      std::string key = std::to_string(b) + " " + g.ExternalsKey(ext);
      keys.insert(key);
      auto o = g.Scan(data, ext, 0);
      ASSERT_TRUE(o.ok());
      auto [it, first] = by_key.emplace(key, Rules(*o));
      EXPECT_EQ(it->second, Rules(*o)) << p << " blob " << b;
      ++named;
    }
  }
  EXPECT_LT(keys.size(), named);  // some names share a class
}

}  // namespace
}  // namespace accord::scan
