#include "scan/yara_rules.h"

#include <hs/hs.h>
#include <yara.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <span>
#include <system_error>
#include <thread>

#include "core/fs.h"
#include "core/limits.h"
#include "crypto/sha256.h"
#include "scan/fault_guard.h"

namespace accord::scan {

namespace {

Status YaraInit() {
  static std::once_flag once;
  static int rc = ERROR_SUCCESS;
  std::call_once(once, [] { rc = yr_initialize(); });
  if (rc != ERROR_SUCCESS) return Internal("libyara failed to initialise (error " + std::to_string(rc) + ")");
  return Status::Ok();
}

struct CompileErrors {
  std::vector<std::string> messages;
};

void OnCompileMessage(int level, const char* file, int line, const YR_RULE*, const char* message,
                      void* user) {
  if (level != YARA_ERROR_LEVEL_ERROR) return;  // warnings (slow strings, ...) do not fail a set
  auto* e = static_cast<CompileErrors*>(user);
  try {
    e->messages.push_back(std::string(file ? file : "<rules>") + ":" + std::to_string(line) + ": " + message);
  } catch (const std::exception&) {  // no exception through libyara's C frames; its own count of
  }                                  // errors still fails the compile
}

bool IsRuleFile(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".yar" || ext == ".yara";
}

struct MemWriter {
  Bytes out;
  static size_t Write(const void* ptr, size_t size, size_t count, void* user) {
    static_cast<MemWriter*>(user)->out.append(static_cast<const char*>(ptr), size * count);
    return count;
  }
};
struct MemReader {
  ByteView in;
  static size_t Read(void* ptr, size_t size, size_t count, void* user) {
    auto* r = static_cast<MemReader*>(user);
    if (size == 0) return 0;
    size_t n = std::min(count, r->in.size() / size);
    std::memcpy(ptr, r->in.data(), n * size);
    r->in.remove_prefix(n * size);
    return n;
  }
};

size_t CountRules(YR_RULES* rules) {
  size_t n = 0;
  const YR_RULE* rule;
  yr_rules_foreach(rules, rule) {
    ++n;
  }
  return n;
}
}  // namespace

std::string FileTypeOf(ByteView h) {
  auto starts = [&](std::string_view magic) { return h.substr(0, magic.size()) == magic; };
  if (starts("MZ")) return "EXE";
  if (starts("\x7f"
             "ELF"))
    return "ELF";
  if (starts("\xfe\xed\xfa\xce") || starts("\xfe\xed\xfa\xcf") || starts("\xce\xfa\xed\xfe") ||
      starts("\xcf\xfa\xed\xfe") || starts("\xca\xfe\xba\xbe"))
    return "MACH-O";
  if (starts("{\\rt")) return "RTF";
  if (starts("MDMP")) return "MDMP";
  if (starts("PK\x03\x04")) return "ZIP";
  if (starts("Rar!")) return "RAR";
  if (starts("7z\xbc\xaf\x27\x1c")) return "7Z";
  if (starts("\x1f\x8b")) return "GZIP";
  if (starts("%PDF")) return "PDF";
  if (starts("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) return "OLE";
  if (starts("<?php")) return "PHP";
  if (starts("#!") && h.substr(0, 64).find("python") != ByteView::npos) return "Python";
  if (starts("<%@") || starts("<%")) return "JSP";
  return "";
}

YaraRules::~YaraRules() {
  for (Group& g : groups_)
    if (g.rules) yr_rules_destroy(g.rules);
  if (probe_) yr_rules_destroy(probe_);
  if (prefilter_) hs_free_database(prefilter_);
}

namespace {
// What a serialized prefilter must have been compiled from: the literals in the order their
// Hyperscan ids number them, each as caseless, length and bytes.
crypto::Hash LiteralsDigest(const std::map<YaraLiteral, uint64_t>& literals) {
  crypto::Sha256Stream h;
  for (const auto& [l, groups] : literals) {
    char head[5] = {char(l.caseless ? 1 : 0)};
    for (int i = 0; i < 4; ++i) head[1 + i] = char((l.bytes.size() >> (8 * i)) & 0xFF);
    h.Update(std::string_view(head, sizeof head));
    h.Update(l.bytes);
  }
  return h.Finish();
}
}  // namespace

void YaraRules::BuildPrefilter(ByteView serialized) {
  if (prefilter_) hs_free_database(prefilter_);
  prefilter_ = nullptr;
  literal_groups_.clear();
  filtered_groups_ = 0;
  std::map<YaraLiteral, uint64_t> groups_of;
  for (size_t g = 0; g < groups_.size() && g < 64; ++g) {
    if (groups_[g].needs.empty()) continue;
    filtered_groups_ |= uint64_t{1} << g;
    for (const YaraLiteral& l : groups_[g].needs) groups_of[l] |= uint64_t{1} << g;
  }
  if (groups_of.empty() || groups_.size() > 64 || hs_valid_platform() != HS_SUCCESS) {
    filtered_groups_ = 0;
    return;
  }
  std::vector<const char*> patterns;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags, ids;
  for (const auto& [literal, mask] : groups_of) {
    ids.push_back(unsigned(patterns.size()));
    patterns.push_back(literal.bytes.data());
    lengths.push_back(literal.bytes.size());
    flags.push_back(HS_FLAG_SINGLEMATCH | (literal.caseless ? HS_FLAG_CASELESS : 0));
    literal_groups_.push_back(mask);
  }
  prefilter_digest_ = LiteralsDigest(groups_of);
  const size_t d = prefilter_digest_.size();
  if (serialized.size() > d && serialized.substr(0, d) == crypto::AsView(prefilter_digest_) &&
      hs_deserialize_database(serialized.data() + d, serialized.size() - d, &prefilter_) == HS_SUCCESS)
    return;  // else (other literals, another Hyperscan version or CPU) compiled again
  prefilter_ = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_lit_multi(patterns.data(), flags.data(), ids.data(), lengths.data(),
                           unsigned(patterns.size()), HS_MODE_BLOCK, nullptr, &prefilter_,
                           &error) != HS_SUCCESS) {
    if (error) hs_free_compile_error(error);
    prefilter_ = nullptr;
    literal_groups_.clear();
    filtered_groups_ = 0;
  }
}

namespace {
// Size classes of the rule groups: an item is scanned with the rules that can match an item of
// its size class. Most of the bytes a scanner reads are in large files, and most real rules bound
// their file size far below 1 MiB (on signature-base, of the 2,800 rules that may match an item
// without "MZ", 360 need under 64 KiB, 480 under 256 KiB, 660 under 1 MiB). Per byte, libyara's
// pass costs what the rules' strings make it cost: measured with `yara` on 62 MB of Debian's
// decompressed documentation, dropping the rules bounded below the item's class takes 37-40% off
// items of 64 KiB to 1 MiB (nothing below 64 KiB). Each class compiles the rules that admit it, so
// a rule without a bound is in every class: the "MZ" groups, whose ~3,000 rules are as many again
// and run only on the few programs, keep two classes. Since most small items run only the rules
// that need no literal (YaraRules::Group::when_none_of), the class under 64 KiB was merged into
// the next: on the benchmark corpus, the same time, and 12 MB less memory (docs/benchmarks.md).
constexpr uint64_t kAnyBounds[] = {0, uint64_t{256} << 10, uint64_t{1} << 20};
constexpr uint64_t kMzBounds[] = {0, uint64_t{1} << 20};
// A class of items under kSplitBelow (of the kind "any item": its first class) is not one group
// but up to kSplitGroups, each with some of its rules that need literals, and runs, beside the
// rules that need none, only the groups whose literals occur. libyara's pass costs what its
// atoms' hits in the data cost, more with more rules, and most small items that contain any
// literal contain one or two (on the benchmark corpus: "function", "security", ELF's
// ".shstrtab\0.text"): so they run ~410 rules instead of ~2,860. Large items contain literals of
// most groups, and two libyara passes over them cost more than one pass of all rules, so their
// classes stay whole. Rules that share a literal are in the same group (an item with it runs one
// group, not several), spread so that the groups have about as many rules.
constexpr uint64_t kSplitBelow = uint64_t{256} << 10;
constexpr size_t kSplitGroups = 16;
constexpr YaraMagic kMz{16, false, 0x5a4d};

// True if every file the gate admits starts with "MZ" (uint16(0) == 0x5a4d, uint16be(0) ==
// 0x4d5a, a 32-bit number whose first two bytes are those).
bool RequiresMz(const YaraGate& g) {
  if (!g.magics || g.magics->empty()) return false;
  for (const YaraMagic& m : *g.magics) {
    uint64_t first_two = m.width == 16   ? m.value
                         : m.width == 32 ? (m.big_endian ? m.value >> 16 : m.value & 0xffff)
                                         : 0;
    if (m.width == 32 && m.value > 0xffffffff) return false;
    if (m.width == 16 && m.value > 0xffff) return false;
    if (m.width == 8 || first_two != (m.big_endian ? 0x4d5au : 0x5a4du)) return false;
  }
  return true;
}

YR_COMPILER* NewCompiler(CompileErrors* errors) {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) return nullptr;
  yr_compiler_set_callback(compiler, OnCompileMessage, errors);
  for (std::string_view name : kYaraExternals) yr_compiler_define_string_variable(compiler, name.data(), "");
  return compiler;
}

}  // namespace

namespace {
// Source held in memory names no file; an include directive is refused, not resolved.
void RefuseIncludes(YR_COMPILER* compiler, CompileErrors* errors) {
  yr_compiler_set_include_callback(
      compiler,
      [](const char*, const char*, const char*, void* user) -> const char* {
        static_cast<CompileErrors*>(user)->messages.push_back(
            "<rules>:0: include directives are not accepted here");
        return nullptr;
      },
      nullptr, errors);
}
}  // namespace

Result<std::vector<std::string>> CompileRuleNames(std::string_view source, std::string_view source_name) {
  // libyara reads a string up to its first NUL: what follows would be accepted unread, and
  // refused later by every scanner that compiles the source (YaraRules::CompileSources).
  if (source.find('\0') != std::string_view::npos)
    return InvalidArgument(std::string(source_name) + ": a NUL byte in the source");
  RETURN_IF_ERROR(YaraInit());
  CompileErrors errors;
  YR_COMPILER* compiler = NewCompiler(&errors);
  if (!compiler) return Internal("libyara: cannot create a compiler");
  std::string text(source), ns(source_name);
  RefuseIncludes(compiler, &errors);
  int n = yr_compiler_add_string(compiler, text.c_str(), nullptr);
  YR_RULES* rules = nullptr;
  if (n == 0 && errors.messages.empty() && yr_compiler_get_rules(compiler, &rules) != ERROR_SUCCESS)
    rules = nullptr;
  yr_compiler_destroy(compiler);
  if (n != 0 || !errors.messages.empty() || !rules) {
    std::string msg;
    for (const auto& m : errors.messages) {
      std::string line = m;
      if (line.rfind("<rules>", 0) == 0) line.replace(0, 7, ns);
      msg += (msg.empty() ? "" : "; ") + line;
    }
    return InvalidArgument(msg.empty() ? ns + ": does not compile" : msg);
  }
  std::vector<std::string> names;
  YR_RULE* rule;
  yr_rules_foreach(rules, rule) {
    names.emplace_back(rule->identifier);
  }
  yr_rules_destroy(rules);
  return names;
}

// A rule source: a file (compiled with yr_compiler_add_file, so its includes resolve relative to
// it) or text in memory (yr_compiler_add_string); `name` is its namespace either way.
struct RuleInput {
  std::string name;
  bool from_file = true;
  std::string text;  // !from_file
};

namespace {
bool AddInput(YR_COMPILER* compiler, const RuleInput& in) {
  if (!in.from_file) return yr_compiler_add_string(compiler, in.text.c_str(), in.name.c_str()) == 0;
  FILE* fp = std::fopen(in.name.c_str(), "r");
  if (!fp) return false;
  bool ok = yr_compiler_add_file(compiler, fp, in.name.c_str(), in.name.c_str()) == 0;
  std::fclose(fp);
  return ok;
}

// True if libyara compiles `text` (one rule file, namespace `name`) on its own.
bool CompilesAlone(const std::string& text, const std::string& name) {
  CompileErrors errors;
  YR_COMPILER* compiler = NewCompiler(&errors);
  if (!compiler) return false;
  bool ok = yr_compiler_add_string(compiler, text.c_str(), name.c_str()) == 0 && errors.messages.empty();
  yr_compiler_destroy(compiler);
  return ok;
}

// The groups, compiled from `files` (each in its namespace, other rules and unused imports
// blanked), or nullopt when they cannot be made exactly (then every item is scanned with
// `whole_set`, which is those files compiled at once). Groups of two kinds, one per size class
// of that kind (the class of small items split in several, split_class), each with only the
// rules whose conditions admit that class's sizes, and per kind one of its rules that need no
// literal (when_none): for "MZ"
// items (classes kMzBounds), the rules that need "MZ" and those that need pe; for every item
// (classes kAnyBounds), the rest, with the rules that need pe rewritten by AssumeNoPe (false on
// "MZ" items, pe-free on the others). So the group most items get imports no pe module, whose
// objects cost more than the rules on small items. The groups must hold exactly the rules of
// `whole_set` (namespace and name).
std::optional<std::vector<YaraRules::Group>> CompileGatedGroups(const std::vector<RuleInput>& files,
                                                                YR_RULES* whole_set) {
  struct Plan {
    YaraGate gate;
    std::map<size_t, std::vector<size_t>> parts;  // file -> its rules in this group
    std::vector<size_t> whole;                    // files compiled whole
    size_t rules = 0;
    bool mz_only = false;  // for "MZ" items; else for every item
    // Each size class's plan has all its rules, and runs on items in which one of `needs` (the
    // literals its rules need) occurs. Each kind (every item, "MZ" items) has one plan more, of
    // any size, `when_none`: the rules of its classes that need none, for the other items.
    bool when_none = false;
    std::set<YaraLiteral> needs;
    std::vector<size_t> partners;  // when_none: its kind's class plans (but the split ones)
    bool split = false;            // a class split into plans of its own (split_class): not compiled
  };
  std::vector<std::vector<bool>> needs_pe(files.size());  // file -> rule -> it or a rule it names uses pe
  std::vector<Plan> plans;
  auto add_classes = [&plans](std::span<const uint64_t> bounds, bool mz_only) {
    std::vector<size_t> classes;
    for (size_t c = 0; c <= bounds.size(); ++c) {
      Plan& plan = plans.emplace_back();
      plan.when_none = c == bounds.size();
      plan.gate.min_size = plan.when_none ? 0 : bounds[c];
      plan.gate.max_size = c + 1 < bounds.size() ? bounds[c + 1] : YaraGate::kNoSizeLimit;
      if (mz_only) plan.gate.magics = std::vector<YaraMagic>{kMz};
      plan.mz_only = mz_only;
      if (plan.when_none)
        plan.partners = classes;
      else
        classes.push_back(plans.size() - 1);
    }
  };
  add_classes(kAnyBounds, false);
  add_classes(kMzBounds, true);
  std::vector<std::string> texts(files.size());
  std::vector<YaraSplit> splits(files.size());
  // The rules of class plan `cls` that need literals, as up to kSplitGroups plans: the rules that
  // share a literal (transitively) stay together, and such sets go, largest first, to the plan with
  // the fewest rules so far. Its rules that need none are in its kind's when_none plan.
  auto split_class = [&splits](const Plan& cls) {
    std::vector<std::pair<size_t, size_t>> rules;  // (file, rule), each with needs
    std::vector<size_t> node_of;                   // rules[i] -> a node of its set
    std::vector<size_t> parent;                    // union-find over the literals' nodes
    std::map<YaraLiteral, size_t> node_of_literal;
    auto find = [&parent](size_t x) {
      while (parent[x] != x) x = parent[x] = parent[parent[x]];
      return x;
    };
    for (const auto& [f, in_file] : cls.parts) {
      for (size_t r : in_file) {
        const std::optional<std::vector<YaraLiteral>>& needs = splits[f].rules[r].needs;
        if (!needs) continue;
        size_t root = parent.size();
        parent.push_back(root);  // the rule's own node: a rule that needs no literal it can have
        for (const YaraLiteral& l : *needs) {
          auto [it, fresh] = node_of_literal.try_emplace(l, parent.size());
          if (fresh) parent.push_back(it->second);
          parent[find(it->second)] = find(root);
        }
        rules.emplace_back(f, r);
        node_of.push_back(root);
      }
    }
    std::map<size_t, std::vector<size_t>> sets;  // root -> indexes into rules
    for (size_t i = 0; i < rules.size(); ++i) sets[find(node_of[i])].push_back(i);
    std::vector<const std::vector<size_t>*> order;
    for (const auto& [root, members] : sets) order.push_back(&members);
    std::stable_sort(order.begin(), order.end(),
                     [](const auto* a, const auto* b) { return a->size() > b->size(); });
    std::vector<Plan> out(std::min(kSplitGroups, order.size()));
    std::vector<size_t> count(out.size(), 0);
    for (const std::vector<size_t>* members : order) {
      const size_t least = size_t(std::min_element(count.begin(), count.end()) - count.begin());
      for (size_t i : *members) {
        const auto [f, r] = rules[i];
        out[least].parts[f].push_back(r);
        out[least].needs.insert(splits[f].rules[r].needs->begin(), splits[f].rules[r].needs->end());
      }
      count[least] += members->size();
    }
    for (Plan& plan : out) {
      plan.gate = cls.gate;
      for (auto& [f, in_file] : plan.parts) std::sort(in_file.begin(), in_file.end());
    }
    return out;
  };
  for (size_t f = 0; f < files.size(); ++f) {
    if (files[f].from_file) {
      Result<Bytes> text = fs::ReadFile(files[f].name, size_t{64} << 20);
      if (!text.ok()) return std::nullopt;
      texts[f] = std::move(text).value();
    } else {
      texts[f] = files[f].text;
    }
    splits[f] = SplitYaraRules(texts[f]);
    if (!splits[f].keep_whole.empty() || texts[f].find('\0') != std::string::npos) {
      for (Plan& plan : plans) {
        if (plan.mz_only) continue;
        plan.whole.push_back(f);
        plan.rules += splits[f].rules.size();
      }
      continue;
    }
    // needs_pe: the rule names pe, or names a rule that needs pe (to the fixed point).
    const auto& rules = splits[f].rules;
    needs_pe[f].assign(rules.size(), false);
    for (size_t r = 0; r < rules.size(); ++r)
      needs_pe[f][r] =
          std::find(rules[r].modules.begin(), rules[r].modules.end(), "pe") != rules[r].modules.end();
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < rules.size(); ++r)
        for (size_t u : rules[r].uses)
          if (needs_pe[f][u] && !needs_pe[f][r]) needs_pe[f][r] = changed = true;
    }
    for (size_t r = 0; r < splits[f].rules.size(); ++r) {
      const YaraRuleSpan& rule = splits[f].rules[r];
      const bool mz = RequiresMz(rule.gate);
      // A rule that may match any item but needs the pe module (itself or through a rule it
      // names): as written in the group for "MZ" items, and in the group for every item rewritten
      // for data without a program and made false on "MZ" items (AssumeNoPe), so that most items
      // are scanned without building the pe module's objects.
      const bool pe = needs_pe[f][r];
      for (Plan& plan : plans) {
        // Cannot match a file of this class. (A rule no file can match, `filesize < 0`, stays in
        // the first: every rule is in some group, as the check at the end wants.)
        if (plan.gate.min_size > 0 && rule.gate.max_size <= plan.gate.min_size) continue;
        if (plan.when_none && rule.needs) continue;
        if (plan.mz_only ? mz || pe : !mz) {
          plan.parts[f].push_back(r);
          if (rule.needs) plan.needs.insert(rule.needs->begin(), rule.needs->end());
        }
      }
    }
  }
  for (Plan& plan : plans)
    if (plan.needs.size() > accord::limits::kMaxYaraGroupLiterals) plan.needs.clear();
  // The classes of small items, split by the literals their rules need (kSplitBelow).
  for (size_t p = 0, n = plans.size(); p < n; ++p) {
    // (Its files kept whole are in the when_none plan too, which runs on every item it admits.)
    if (plans[p].when_none || plans[p].mz_only || plans[p].gate.max_size > kSplitBelow ||
        plans[p].needs.empty())
      continue;
    std::vector<Plan> parts = split_class(plans[p]);
    if (parts.size() < 2) continue;
    plans[p].split = true;
    for (Plan& part : parts) plans.push_back(std::move(part));
    for (Plan& plan : plans)
      if (plan.when_none) std::erase(plan.partners, p);
  }
  // The rules that need none run alone on the items where none of their class's needs occurs,
  // and on every item of a split class; where no class of the kind has needs, there is no such
  // group.
  for (size_t p = 0; p < plans.size(); ++p) {
    Plan& plan = plans[p];
    if (!plan.when_none) continue;
    bool needed = false;
    for (size_t c = 0; c < plans.size(); ++c)
      needed = needed || (plans[c].mz_only == plan.mz_only && !plans[c].when_none &&
                          (plans[c].split || (!plans[c].needs.empty() && c < p)));
    if (!needed) {
      plan.parts.clear();
      plan.whole.clear();
      plan.rules = 0;  // (the files kept whole counted theirs)
      plan.partners.clear();
    }
  }
  // A rule is compiled with the rules it names; such a rule may then be in two groups that both
  // run on a file, and YaraScanner reports it once.
  for (Plan& plan : plans) {
    for (auto& [f, rules] : plan.parts) {
      rules = WithDependencies(splits[f], rules);
      plan.rules += rules.size();
    }
  }
  std::vector<YaraRules::Group> groups;
  std::vector<size_t> group_of(plans.size(), SIZE_MAX);  // plan -> its group
  auto fail = [&groups]() -> std::optional<std::vector<YaraRules::Group>> {
    for (auto& g : groups) yr_rules_destroy(g.rules);
    return std::nullopt;
  };
  for (size_t p = 0; p < plans.size(); ++p) {
    Plan& plan = plans[p];
    if (plan.split || (plan.rules == 0 && plan.whole.empty())) continue;
    CompileErrors errors;
    YR_COMPILER* compiler = NewCompiler(&errors);
    if (!compiler) return fail();
    bool ok = true;
    for (size_t f : plan.whole) ok = ok && AddInput(compiler, files[f]);
    if (!ok) {
      yr_compiler_destroy(compiler);
      return fail();
    }
    for (const auto& [f, rules] : plan.parts) {
      if (!ok) break;
      std::string text;
      std::vector<size_t> guard;  // in the group for every item: the rules that need pe
      if (!plan.mz_only)
        for (size_t r : rules)
          if (needs_pe[f][r]) guard.push_back(r);
      if (!guard.empty()) {
        // Rewritten, then split again: the rules are the same ones, in the same order. Every rule
        // that names a guarded rule needs pe through it, so it is guarded too.
        // A rewrite libyara refuses (a pe string where the rewrite puts an integer) keeps the
        // rules' pe expressions: only the guard then, and this group imports pe.
        for (bool rewrite : {true, false}) {
          std::string rewritten = AssumeNoPe(texts[f], splits[f], guard, rewrite);
          YaraSplit again = SplitYaraRules(rewritten);
          if (!again.keep_whole.empty() || again.rules.size() != splits[f].rules.size()) continue;
          text = KeepOnlyRules(rewritten, again, rules);
          if (!rewrite || CompilesAlone(text, files[f].name)) break;
          text.clear();
        }
        if (text.empty()) {
          yr_compiler_destroy(compiler);
          return fail();
        }
      } else {
        text = KeepOnlyRules(texts[f], splits[f], rules);
      }
      ok = yr_compiler_add_string(compiler, text.c_str(), files[f].name.c_str()) == 0;
    }
    YR_RULES* rules = nullptr;
    ok = ok && errors.messages.empty() && yr_compiler_get_rules(compiler, &rules) == ERROR_SUCCESS;
    yr_compiler_destroy(compiler);
    if (!ok) return fail();
    YaraRules::Group g{rules, plan.gate, CountRules(rules), {plan.needs.begin(), plan.needs.end()}, 0};
    for (size_t partner : plan.partners)  // plans before this one: their groups are made
      if (group_of[partner] < 64) g.when_none_of |= uint64_t{1} << group_of[partner];
    // A kind whose classes are all split, or have no rules: its group of the rules that need none
    // runs on every item of the kind, as an ordinary group (when-none-of 0, no needs).
    group_of[p] = groups.size();
    groups.push_back(std::move(g));
    if (plan.whole.empty() && groups.back().rule_count != plan.rules) return fail();  // lost or added a rule
  }
  // Every rule of the whole set is in some group, and no group has a rule the whole set lacks.
  std::set<std::pair<std::string, std::string>> expected, found;
  YR_RULE* rule;
  yr_rules_foreach(whole_set, rule) {
    expected.insert({rule->ns->name, rule->identifier});
  }
  for (const auto& g : groups) {
    yr_rules_foreach(g.rules, rule) {
      found.insert({rule->ns->name, rule->identifier});
    }
  }
  if (found != expected) return fail();
  return groups;
}
}  // namespace

Result<std::shared_ptr<const YaraRules>> YaraRules::Compile(const std::vector<std::string>& paths) {
  return Compile(paths, true);
}

Result<std::shared_ptr<const YaraRules>> YaraRules::Compile(const std::vector<std::string>& paths,
                                                            bool grouped) {
  RETURN_IF_ERROR(YaraInit());
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
           !ec && it != std::filesystem::end(it); it.increment(ec)) {
        if (it->is_regular_file() && IsRuleFile(it->path())) files.push_back(it->path().string());
      }
      if (ec) return Internal("reading rule directory " + p + ": " + ec.message());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      return NotFound("YARA rules " + p + ": no such file or directory");
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) return InvalidArgument("no YARA rule files (*.yar, *.yara) in the paths given");
  std::vector<RuleInput> inputs;
  for (auto& f : files) inputs.push_back(RuleInput{std::move(f), true, {}});
  return CompileInputs(inputs, grouped);
}

Result<std::shared_ptr<const YaraRules>> YaraRules::CompileSources(const std::vector<RuleSource>& sources) {
  RETURN_IF_ERROR(YaraInit());
  if (sources.empty()) return InvalidArgument("no YARA rule sources");
  std::vector<RuleInput> inputs;
  for (const auto& src : sources) {
    if (src.text.find('\0') != std::string::npos)
      return InvalidArgument("YARA rules " + src.name + ": a NUL byte in the source");
    inputs.push_back(RuleInput{src.name, false, src.text});
  }
  return CompileInputs(inputs, true);
}

Result<std::shared_ptr<const YaraRules>> YaraRules::CompileInputs(const std::vector<RuleInput>& files,
                                                                  bool grouped) {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS)
    return ResourceExhausted("libyara: cannot create a compiler");
  CompileErrors errors;
  yr_compiler_set_callback(compiler, OnCompileMessage, &errors);
  for (std::string_view name : kYaraExternals) yr_compiler_define_string_variable(compiler, name.data(), "");
  std::vector<std::optional<Bytes>> before(files.size());  // rule files as read before compiling
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i].from_file) continue;
    if (Result<Bytes> text = fs::ReadFile(files[i].name, size_t{64} << 20); text.ok())
      before[i] = std::move(text).value();
  }
  const bool in_memory =
      std::any_of(files.begin(), files.end(), [](const RuleInput& f) { return !f.from_file; });
  if (in_memory) RefuseIncludes(compiler, &errors);
  for (const auto& f : files) {
    if (f.from_file && !std::filesystem::is_regular_file(f.name)) {
      errors.messages.push_back(f.name + ": cannot open");
      continue;
    }
    // After its first error libyara's compiler is unusable; later files are then compiled on
    // throw-away compilers only to report their errors too.
    if (errors.messages.empty()) {
      if (!AddInput(compiler, f) && errors.messages.empty())
        errors.messages.push_back(f.name + ": does not compile");
    } else {
      YR_COMPILER* probe = nullptr;
      if (yr_compiler_create(&probe) == ERROR_SUCCESS) {
        yr_compiler_set_callback(probe, OnCompileMessage, &errors);
        for (std::string_view name : kYaraExternals)
          yr_compiler_define_string_variable(probe, name.data(), "");
        AddInput(probe, f);
        yr_compiler_destroy(probe);
      }
    }
  }
  if (!errors.messages.empty()) {
    yr_compiler_destroy(compiler);
    std::string msg = "YARA rules do not compile:";
    for (size_t i = 0; i < errors.messages.size() && i < 20; ++i) msg += "\n  " + errors.messages[i];
    if (errors.messages.size() > 20)
      msg += "\n  ... and " + std::to_string(errors.messages.size() - 20) + " more";
    return InvalidArgument(msg);
  }
  YR_RULES* rules = nullptr;
  int rc = yr_compiler_get_rules(compiler, &rules);
  yr_compiler_destroy(compiler);
  if (rc != ERROR_SUCCESS)
    return Internal("libyara: cannot build the rules (error " + std::to_string(rc) + ")");
  std::shared_ptr<YaraRules> out(new YaraRules());
  out->rule_count_ = CountRules(rules);
  out->file_count_ = files.size();
  std::optional<std::vector<Group>> gated;
  if (grouped) gated = CompileGatedGroups(files, rules);
  if (gated) {
    yr_rules_destroy(rules);
    out->groups_ = std::move(*gated);
  } else {
    out->groups_.push_back({rules, YaraGate{}, out->rule_count_, {}});
  }
  out->BuildPrefilter();
  // How the rules read the externals, from the texts read before they were compiled; a file
  // that reads otherwise now may have changed in between, and then any use is assumed.
  YaraExternalUses uses;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i].from_file) {
      uses.Merge(ExternalUses(files[i].text));
      continue;
    }
    Result<Bytes> now = fs::ReadFile(files[i].name, size_t{64} << 20);
    if (!before[i] || !now.ok() || *now != *before[i]) {
      uses.opaque = kAllExternalsOpaque;
      continue;
    }
    uses.Merge(ExternalUses(*now));
  }
  out->SetExternalUses(std::move(uses));
  return std::shared_ptr<const YaraRules>(std::move(out));
}

void YaraRules::SetExternalUses(YaraExternalUses uses) {
  if (probe_) yr_rules_destroy(probe_);
  probe_ = nullptr;
  // What a database may hold (Load refuses more): a predicate over the size makes its variable
  // opaque instead; more predicates than the count, every variable.
  std::erase_if(uses.predicates, [&uses](const std::string& p) {
    if (p.size() <= accord::limits::kMaxYaraExternalPredicateSize) return false;
    for (size_t v = 0; v < std::size(kYaraExternals); ++v)
      if (p.starts_with(kYaraExternals[v])) uses.opaque |= uint8_t(1u << v);
    return true;
  });
  if (uses.predicates.size() > accord::limits::kMaxYaraExternalPredicates) {
    uses.predicates.clear();
    uses.opaque = kAllExternalsOpaque;
  }
  externals_ = std::move(uses);
  if (externals_.predicates.empty()) return;
  std::string text;
  for (size_t i = 0; i < externals_.predicates.size(); ++i)
    text += "rule p" + std::to_string(i) + " { condition: " + externals_.predicates[i] + " }\n";
  CompileErrors errors;
  YR_COMPILER* compiler = NewCompiler(&errors);
  bool ok = compiler && yr_compiler_add_string(compiler, text.c_str(), "externals") == 0 &&
            errors.messages.empty() && yr_compiler_get_rules(compiler, &probe_) == ERROR_SUCCESS;
  if (compiler) yr_compiler_destroy(compiler);
  if (!ok) {
    probe_ = nullptr;
    externals_.predicates.clear();
    externals_.opaque = kAllExternalsOpaque;
  }
}

namespace {
// SPEC: docs/scan-database.md, section 9 (yara): "ACYG" u32 version=5, u32 groups, u64 rules (not in
// version 1), then (versions 3 to 5) u8 opaque externals, u32 predicates and each as u32 length
// and text, then per group u64 min_size, u64 max_size, u32 magic count (0xFFFFFFFF: any file) and
// that many (u8 width, u8 big-endian, u64 value), (versions 4 and 5) u64 when-none-of, u32
// literals and each as u8 caseless, u32 length and bytes, then u64 length and libyara's
// yr_rules_save image; (versions 4 and 5) last, u64 length and the prefilter: the SHA-256 of the
// literals it was compiled from (LiteralsDigest) and what hs_serialize_database wrote.
// Little-endian. Version 5 is version 4's layout with when-none-of naming every class group of
// the kind that is not split (version 4: those with needs; read as version 5 names them).
// Versions 1 to 3 and a plain image are still read (no needs; versions 1, 2 and the image: every
// external opaque).
constexpr std::string_view kGroupedMagic = "ACYG";
constexpr uint32_t kGroupedVersion = 5, kAnyMagic = 0xFFFFFFFF;
constexpr uint64_t kMaxRules = uint64_t{1} << 32;
constexpr size_t kMaxGroups = 64;

void PutLe(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}
bool GetLe(ByteView& in, int bytes, uint64_t* v) {
  if (in.size() < size_t(bytes)) return false;
  *v = 0;
  for (int i = bytes - 1; i >= 0; --i) *v = (*v << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(bytes);
  return true;
}

Result<YR_RULES*> LoadImage(ByteView image) {
  MemReader reader{image};
  YR_STREAM stream{&reader, MemReader::Read, nullptr};
  YR_RULES* rules = nullptr;
  int rc = yr_rules_load_stream(&stream, &rules);
  if (rc != ERROR_SUCCESS)
    return DataLoss("compiled YARA rules do not load (libyara error " + std::to_string(rc) +
                    "; built by another libyara version?)");
  return rules;
}
}  // namespace

Result<std::shared_ptr<const YaraRules>> YaraRules::Load(ByteView saved,
                                                         const std::function<void(ByteView)>& done) {
  RETURN_IF_ERROR(YaraInit());
  std::shared_ptr<YaraRules> out(new YaraRules());
  if (saved.substr(0, 4) != kGroupedMagic) {
    ASSIGN_OR_RETURN(YR_RULES * rules, LoadImage(saved));
    if (done) done(saved);
    out->groups_.push_back({rules, YaraGate{}, CountRules(rules), {}});
    out->rule_count_ = out->groups_.back().rule_count;
    out->SetExternalUses({{}, kAllExternalsOpaque});
    return std::shared_ptr<const YaraRules>(std::move(out));
  }
  ByteView in = saved.substr(4);
  uint64_t version = 0, count = 0;
  if (!GetLe(in, 4, &version) || version < 1 || version > kGroupedVersion)
    return DataLoss("compiled YARA rules: unknown grouped format version");
  if (!GetLe(in, 4, &count) || count == 0 || count > kMaxGroups)
    return DataLoss("compiled YARA rules: bad group count");
  uint64_t total = 0;  // version 1: the first group had every rule
  if (version >= 2 && (!GetLe(in, 8, &total) || total > kMaxRules))
    return DataLoss("compiled YARA rules: bad rule count");
  YaraExternalUses uses{{}, kAllExternalsOpaque};
  if (version >= 3) {  // and 4 and 5
    uint64_t opaque = 0, predicates = 0;
    if (!GetLe(in, 1, &opaque) || opaque > kAllExternalsOpaque)
      return DataLoss("compiled YARA rules: bad opaque externals");
    if (!GetLe(in, 4, &predicates) || predicates > accord::limits::kMaxYaraExternalPredicates)
      return DataLoss("compiled YARA rules: bad predicate count");
    uses.opaque = uint8_t(opaque);
    for (uint64_t p = 0; p < predicates; ++p) {
      uint64_t length = 0;
      if (!GetLe(in, 4, &length) || length == 0 || length > accord::limits::kMaxYaraExternalPredicateSize ||
          length > in.size())
        return DataLoss("compiled YARA rules: truncated predicate");
      std::string text(in.substr(0, length));
      in.remove_prefix(length);
      if (!IsExternalPredicate(text))
        return DataLoss("compiled YARA rules: predicate " + std::to_string(p) + " is not one");
      uses.predicates.push_back(std::move(text));
    }
  }
  std::vector<ByteView> images;  // each group's libyara image, loaded below
  for (uint64_t i = 0; i < count; ++i) {
    std::string where = "compiled YARA rules, group " + std::to_string(i) + ": ";
    Group g;
    uint64_t magics = 0, length = 0;
    if (!GetLe(in, 8, &g.gate.min_size) || !GetLe(in, 8, &g.gate.max_size) || !GetLe(in, 4, &magics))
      return DataLoss(where + "truncated");
    if (magics != kAnyMagic) {
      if (magics == 0 || magics > 64) return DataLoss(where + "bad magic count");
      g.gate.magics.emplace();
      for (uint64_t m = 0; m < magics; ++m) {
        uint64_t width = 0, be = 0, value = 0;
        if (!GetLe(in, 1, &width) || !GetLe(in, 1, &be) || !GetLe(in, 8, &value))
          return DataLoss(where + "truncated");
        if ((width != 8 && width != 16 && width != 32) || be > 1) return DataLoss(where + "bad magic");
        g.gate.magics->push_back({uint8_t(width), be == 1, value});
      }
    }
    if (version >= 4) {
      uint64_t literals = 0;
      if (!GetLe(in, 8, &g.when_none_of)) return DataLoss(where + "truncated");
      if (!GetLe(in, 4, &literals) || literals > accord::limits::kMaxYaraGroupLiterals)
        return DataLoss(where + "bad literal count");
      const char* literals_begin = in.data();
      for (uint64_t l = 0; l < literals; ++l) {
        uint64_t caseless = 0, length = 0;
        if (!GetLe(in, 1, &caseless) || caseless > 1 || !GetLe(in, 4, &length) || length == 0 ||
            length > accord::limits::kMaxYaraLiteralSize || length > in.size())
          return DataLoss(where + "bad literal");
        g.needs.push_back({std::string(in.substr(0, length)), caseless == 1});
        in.remove_prefix(length);
      }
      // when-none-of names earlier groups of the same kind (magics) that are not such groups
      // themselves (version 4: with needs), and then the group needs none itself.
      bool partners_ok = g.when_none_of == 0 || g.needs.empty();
      for (size_t p = 0; p < 64; ++p)
        if (g.when_none_of >> p & 1)
          partners_ok = partners_ok && p < out->groups_.size() && out->groups_[p].when_none_of == 0 &&
                        out->groups_[p].gate.magics == g.gate.magics &&
                        (version > 4 || !out->groups_[p].needs.empty());
      if (!partners_ok) return DataLoss(where + "bad when-none-of groups");
      // Version 4 left out of when-none-of the class groups of its kind (the same magics) that
      // had no needs: those run whole, so they are partners as version 5 names them. (A class
      // with no rules had no group: the rules that need none now run on its items, where
      // version 4 ran none; no rule can match there.)
      if (version == 4 && g.when_none_of != 0)
        for (size_t p = 0; p < out->groups_.size(); ++p)
          if (out->groups_[p].when_none_of == 0 && out->groups_[p].gate.magics == g.gate.magics)
            g.when_none_of |= uint64_t{1} << p;
      if (done && literals > 0) done(ByteView(literals_begin, size_t(in.data() - literals_begin)));
    }
    if (!GetLe(in, 8, &length) || length > in.size()) return DataLoss(where + "truncated");
    images.push_back(in.substr(0, length));
    in.remove_prefix(length);
    out->groups_.push_back(std::move(g));
  }
  ByteView prefilter;
  if (version >= 4) {
    uint64_t length = 0;
    if (!GetLe(in, 8, &length) || length > in.size())
      return DataLoss("compiled YARA rules: truncated prefilter");
    prefilter = in.substr(0, length);
    in.remove_prefix(length);
  }
  if (!in.empty()) return DataLoss("compiled YARA rules: bytes after the last group");
  // libyara copies each image into memory of its own: ~0.3 s for signature-base's groups, most
  // of it allocation and page faults, and the groups are independent, so two threads load them.
  std::vector<Result<YR_RULES*>> loaded(images.size(), Internal("not loaded"));
  std::atomic<size_t> next{0};
  std::atomic<bool> threw{false};
  auto load = [&]() noexcept {
    try {
      for (size_t i; (i = next++) < images.size();) {
        loaded[i] = LoadImage(images[i]);
        if (done && loaded[i].ok()) done(images[i]);
      }
    } catch (...) {  // out of memory for a message: the group stays "not loaded"
      threw = true;
    }
  };
  {
    std::vector<std::jthread> helpers;
    if (images.size() > 1 && std::thread::hardware_concurrency() > 1) {
      try {
        helpers.emplace_back(load);
      } catch (const std::system_error&) {  // no thread to be had: this one loads them all
      }
    }
    load();
  }
  Status failed =
      threw ? ResourceExhausted("compiled YARA rules: out of memory while loading") : Status::Ok();
  for (size_t i = 0; i < images.size(); ++i) {
    Group& g = out->groups_[i];
    if (!loaded[i].ok()) {
      if (failed.ok()) failed = loaded[i].status();
      continue;
    }
    g.rules = *loaded[i];
    g.rule_count = CountRules(g.rules);
    if (version == 1) total = std::max<uint64_t>(total, g.rule_count);
  }
  for (size_t i = 0; i < images.size() && failed.ok(); ++i)
    if (out->groups_[i].rule_count > total)
      failed = DataLoss("compiled YARA rules, group " + std::to_string(i) + ": more rules than the set");
  if (!failed.ok()) return failed;  // ~YaraRules destroys the groups loaded
  out->rule_count_ = total;
  out->SetExternalUses(std::move(uses));
  out->BuildPrefilter(prefilter);
  if (done && !prefilter.empty()) done(prefilter);  // Hyperscan copied it (or compiled anew)
  return std::shared_ptr<const YaraRules>(std::move(out));
}

Result<Bytes> YaraRules::Save() const {
  Bytes out;
  out.append(kGroupedMagic);
  PutLe(out, kGroupedVersion, 4);
  PutLe(out, groups_.size(), 4);
  PutLe(out, rule_count_, 8);
  PutLe(out, externals_.opaque, 1);
  PutLe(out, externals_.predicates.size(), 4);
  for (const std::string& p : externals_.predicates) {
    PutLe(out, p.size(), 4);
    out.append(p);
  }
  for (const Group& g : groups_) {
    MemWriter writer;
    YR_STREAM stream{&writer, nullptr, MemWriter::Write};
    int rc = yr_rules_save_stream(g.rules, &stream);
    if (rc != ERROR_SUCCESS) return Internal("libyara: cannot save rules (error " + std::to_string(rc) + ")");
    PutLe(out, g.gate.min_size, 8);
    PutLe(out, g.gate.max_size, 8);
    PutLe(out, g.gate.magics ? g.gate.magics->size() : kAnyMagic, 4);
    if (g.gate.magics)
      for (const YaraMagic& m : *g.gate.magics) {
        PutLe(out, m.width, 1);
        PutLe(out, m.big_endian ? 1 : 0, 1);
        PutLe(out, m.value, 8);
      }
    PutLe(out, g.when_none_of, 8);
    PutLe(out, g.needs.size(), 4);
    for (const YaraLiteral& l : g.needs) {
      PutLe(out, l.caseless ? 1 : 0, 1);
      PutLe(out, l.bytes.size(), 4);
      out.append(l.bytes);
    }
    PutLe(out, writer.out.size(), 8);
    out.append(writer.out);
  }
  char* bytes = nullptr;
  size_t length = 0;
  if (prefilter_ && hs_serialize_database(prefilter_, &bytes, &length) != HS_SUCCESS) bytes = nullptr;
  PutLe(out, bytes ? prefilter_digest_.size() + length : 0, 8);
  if (bytes) {
    out.append(crypto::AsView(prefilter_digest_));
    out.append(bytes, length);
    std::free(bytes);
  }
  return out;
}

namespace {
// libyara 4.2.3's yr_scanner_create reports success with some of its arrays null when their
// allocation failed (found with a failing malloc): such a scanner faults on its first scan. So a
// scanner is checked, and one that is not whole is an allocation that failed.
bool Whole(const YR_SCANNER* s) {
  const YR_RULES* r = s->rules;
  return (s->rule_matches_flags || r->num_rules == 0) &&
         (s->ns_unsatisfied_flags || r->num_namespaces == 0) &&
         ((s->strings_temp_disabled && s->matches && s->unconfirmed_matches) || r->num_strings == 0);
}
YR_SCANNER* NewScanner(YR_RULES* rules) {  // throws std::bad_alloc
  YR_SCANNER* s = nullptr;
  if (yr_scanner_create(rules, &s) != ERROR_SUCCESS || s == nullptr) throw std::bad_alloc();
  if (!Whole(s)) {
    yr_scanner_destroy(s);
    throw std::bad_alloc();
  }
  return s;
}
}  // namespace

YaraScanner::YaraScanner(std::shared_ptr<const YaraRules> rules) : rules_(std::move(rules)) {
  try {
    scanners_.reserve(rules_->groups().size());
    for (const auto& g : rules_->groups()) scanners_.push_back(NewScanner(g.rules));
    if (rules_->probe_) probe_ = NewScanner(rules_->probe_);
  } catch (...) {  // (the destructor does not run for an object not made)
    for (YR_SCANNER* s : scanners_) yr_scanner_destroy(s);
    throw;
  }
  if (rules_->prefilter_ && hs_alloc_scratch(rules_->prefilter_, &scratch_) != HS_SUCCESS) scratch_ = nullptr;
}

namespace {
// One libyara scan, run by RunGuarded (scan/fault_guard.h) instead of under libyara's own guard.
struct GuardedScan {
  YR_SCANNER* scanner;
  const uint8_t* data;
  size_t size;
  int rc = ERROR_SUCCESS;
};
void RunScan(void* p) {
  auto* s = static_cast<GuardedScan*>(p);
  s->rc = yr_scanner_scan_mem(s->scanner, s->data, s->size);
}

// The scanners a fault interrupted, kept reachable and never freed: freeing one would walk
// state the fault left half-changed, and libyara frees its per-scan notebook only at a scan's end.
// A plain array, never destroyed (not even at exit).
std::mutex g_faulted_mu;
YR_SCANNER* g_faulted[accord::limits::kMaxYaraFaultedScanners];
std::atomic<size_t> g_faulted_count{0};

// Matching rules only (the default also calls back for every rule that does not match), and no
// signal handlers of libyara's own around each scan: RunGuarded's stay installed.
constexpr int kScanFlags = SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH;
constexpr int kRefused = -1;  // ScanGuarded's result past the cap

// Scans under RunGuarded. A scanner a fault interrupted is set aside (g_faulted) and *scanner is
// a new one over `rules`, or null if libyara cannot make one. Returns libyara's result;
// ERROR_INTERNAL_FATAL_ERROR with the signal in *fault; or kRefused, without scanning, once
// limits::kMaxYaraFaultedScanners scanners have faulted in this process.
int ScanGuarded(YR_SCANNER** scanner, YR_RULES* rules, const uint8_t* data, size_t size, int* fault) {
  if (g_faulted_count.load(std::memory_order_relaxed) >= accord::limits::kMaxYaraFaultedScanners)
    return kRefused;
  yr_scanner_set_flags(*scanner, kScanFlags);
  GuardedScan scan{*scanner, data, size};
  if (RunGuarded(RunScan, &scan, fault)) return scan.rc;
  {
    // Scans already under way when the count reaches the cap may fault too (one a thread): those
    // scanners are not kept anywhere, and not freed either.
    std::lock_guard<std::mutex> l(g_faulted_mu);
    const size_t n = g_faulted_count.load();
    if (n < std::size(g_faulted)) g_faulted[n] = *scanner;
    g_faulted_count.store(n + 1);
  }
  try {
    *scanner = NewScanner(rules);
  } catch (const std::bad_alloc&) {  // made again for the next item (YaraScanner::Scan)
    *scanner = nullptr;
  }
  return ERROR_INTERNAL_FATAL_ERROR;
}
}  // namespace

YaraScanner::~YaraScanner() {
  for (YR_SCANNER* s : scanners_)
    if (s) yr_scanner_destroy(s);
  if (probe_) yr_scanner_destroy(probe_);
  if (scratch_) hs_free_scratch(scratch_);
}

namespace {
// The values of kYaraExternals, in its order.
std::array<const std::string*, std::size(kYaraExternals)> ExternalValues(const YaraExternals& ext) {
  return {&ext.filename, &ext.filepath, &ext.extension, &ext.filetype, &ext.owner};
}
// A value libyara could not copy would leave the last item's in place: that is an allocation
// that failed, not a scan to run.
void DefineExternals(YR_SCANNER* scanner, const YaraExternals& ext) {
  const auto values = ExternalValues(ext);
  for (size_t v = 0; v < values.size(); ++v)
    if (yr_scanner_define_string_variable(scanner, kYaraExternals[v].data(), values[v]->c_str()) ==
        ERROR_INSUFFICIENT_MEMORY)
      throw std::bad_alloc();
}

int OnProbeMessage(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    auto* bits = static_cast<std::string*>(user);
    const char* id = static_cast<YR_RULE*>(data)->identifier;  // "p<i>"
    size_t i = std::strtoul(id + 1, nullptr, 10);
    if (i / 8 < bits->size()) (*bits)[i / 8] = char((*bits)[i / 8] | (1 << (i % 8)));
  }
  return CALLBACK_CONTINUE;
}
}  // namespace

std::string YaraScanner::ExternalsKey(const YaraExternals& ext) {
  const YaraExternalUses& uses = rules_->external_uses();
  std::string bits((uses.predicates.size() + 7) / 8, '\0');
  static const uint8_t kNothing = 0;
  bool probed = uses.predicates.empty();
  if (!probed && !probe_ && rules_->probe_) probe_ = NewScanner(rules_->probe_);  // after a fault
  if (!probed && probe_) {
    DefineExternals(probe_, ext);
    yr_scanner_set_callback(probe_, OnProbeMessage, &bits);
    int fault = 0;
    const int rc = ScanGuarded(&probe_, rules_->probe_, &kNothing, 0, &fault);
    if (rc == ERROR_INSUFFICIENT_MEMORY) throw std::bad_alloc();
    probed = rc == ERROR_SUCCESS;
  }
  // Without the predicates' values (libyara could not run them), every variable counts whole.
  const uint8_t opaque = probed ? uses.opaque : kAllExternalsOpaque;
  const auto values = ExternalValues(ext);
  std::string key;
  for (size_t v = 0; v < values.size(); ++v)
    if (opaque & (1u << v)) key += std::to_string(values[v]->size()) + ":" + *values[v];  // length first
  return key + (probed ? "p" + bits : "?");
}

namespace {
// The callback's state: what it found, and whether it could not keep it (no exception may pass
// through libyara's C frames: the scan is ended with CALLBACK_ERROR instead, libyara cleans up
// after it, and Scan throws std::bad_alloc once libyara has returned).
struct ScanSink {
  YaraScanner::Outcome* out;
  bool out_of_memory = false;
};
int OnScanMessage(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  auto* sink = static_cast<ScanSink*>(user);
  YaraScanner::Outcome* out = sink->out;
  try {
    if (message == CALLBACK_MSG_RULE_MATCHING) {
      auto* rule = static_cast<YR_RULE*>(data);
      out->matches.push_back({rule->identifier, rule->ns ? rule->ns->name : ""});
    } else if (message == CALLBACK_MSG_TOO_MANY_MATCHES) {
      auto* s = static_cast<YR_STRING*>(data);
      out->capped.push_back(s && s->identifier ? s->identifier : "?");
    } else if (message == CALLBACK_MSG_IMPORT_MODULE) {  // every module the rules import, every scan
      auto* m = static_cast<YR_MODULE_IMPORT*>(data);
      if (m && m->module_name && std::string_view(m->module_name) == "time") out->clock_dependent = true;
    }
  } catch (const std::exception&) {
    sink->out_of_memory = true;
    return CALLBACK_ERROR;
  }
  return CALLBACK_CONTINUE;
}
}  // namespace

namespace {
struct PrefilterHits {
  const std::vector<uint64_t>* literal_groups;
  uint64_t wanted = 0, hit = 0;
};
int OnLiteral(unsigned id, unsigned long long, unsigned long long, unsigned, void* user) {
  auto* h = static_cast<PrefilterHits*>(user);
  if (id < h->literal_groups->size()) h->hit |= (*h->literal_groups)[id];
  return (h->hit & h->wanted) == h->wanted ? 1 : 0;  // every group wanted is hit: stop
}
}  // namespace

Result<YaraScanner::Outcome> YaraScanner::Scan(ByteView data, const YaraExternals& ext, int timeout_seconds) {
  Outcome out;
  ByteView head = data.substr(0, 8);
  const auto& groups = rules_->groups();
  const auto start = std::chrono::steady_clock::now();
  // Bit g: group g runs: it has no needs, one of its needs occurs in the data, or it is not known
  // that none does (no prefilter, or more data than Hyperscan takes at once). A group of the rules
  // that need none (when_none_of) runs where none of its partners that admit the item runs.
  uint64_t hit = ~uint64_t{0};
  uint64_t admitted = 0;
  for (size_t i = 0; i < groups.size() && i < 64; ++i)
    if (groups[i].gate.Admits(data.size(), head)) admitted |= uint64_t{1} << i;
  if (const uint64_t wanted = admitted & rules_->filtered_groups_;
      wanted && scratch_ && data.size() <= UINT32_MAX) {
    PrefilterHits hits{&rules_->literal_groups_, wanted, 0};
    hs_error_t rc =
        hs_scan(rules_->prefilter_, data.data(), unsigned(data.size()), 0, scratch_, OnLiteral, &hits);
    if (rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED) hit = hits.hit | ~wanted;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!groups[i].gate.Admits(data.size(), head)) continue;
    if (const uint64_t partners = groups[i].when_none_of) {
      if ((admitted & partners & hit) != 0) continue;  // a partner runs: it has all its rules
    } else if (!groups[i].needs.empty() && i < 64 && !(hit >> i & 1)) {
      continue;
    }
    YR_SCANNER*& scanner = scanners_[i];
    if (!scanner) scanner = NewScanner(groups[i].rules);  // after a fault, one could not be made
    int timeout = timeout_seconds;  // the item's time, shared by the groups that scan it
    if (timeout > 0) {
      auto spent = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
      timeout -= int(spent.count());
      if (timeout <= 0) {
        out.timed_out = true;
        break;
      }
    }
    DefineExternals(scanner, ext);
    out.rules_run += groups[i].rule_count;
    ScanSink sink{&out};
    yr_scanner_set_callback(scanner, OnScanMessage, &sink);
    yr_scanner_set_timeout(scanner, timeout);
    int fault = 0;
    int rc = ScanGuarded(&scanner, groups[i].rules, reinterpret_cast<const uint8_t*>(data.data()),
                         data.size(), &fault);
    if (sink.out_of_memory || rc == ERROR_INSUFFICIENT_MEMORY)
      throw std::bad_alloc();  // libyara has cleaned up
    if (fault != 0)
      return Internal("libyara faulted (signal " + std::to_string(fault) + ") scanning this item");
    if (rc == kRefused)
      return Internal("libyara has faulted " + std::to_string(accord::limits::kMaxYaraFaultedScanners) +
                      " times in this process: YARA scans are refused until it is restarted");
    if (rc == ERROR_SCAN_TIMEOUT) {
      out.timed_out = true;
      break;
    }
    if (rc != ERROR_SUCCESS) return Internal("libyara scan failed (error " + std::to_string(rc) + ")");
  }
  if (groups.size() > 1) {  // a rule compiled into two groups as another's dependency: once
    std::set<std::pair<std::string, std::string>> seen;
    std::erase_if(out.matches, [&seen](const YaraMatch& m) {
      return !seen.insert({m.source, m.rule}).second;
    });
  }
  return out;
}

}  // namespace accord::scan
