// scan::SplitYaraRules and scan::YaraConditionGate (scan/yara_split.h) on arbitrary text.
//
// Properties: never crashes or reads out of bounds (sanitizers); rule spans lie inside the text, in
// order, without overlap, each from a rule's first keyword to a closing brace; a file kept whole has
// no gates; gates' magics are sorted, unique, at most 64 and of widths 8/16/32; KeepOnlyRules keeps
// the text's length and every newline, and keeping every rule gives the text back but for unused
// imports; rule dependencies are valid and their closure is closed; the rewrite for items that are
// not "MZ" (AssumeNoPe) keeps the lines. ExternalUses: every predicate is one
// (IsExternalPredicate), occurs in the text, and predicates are sorted and unique; a file kept
// whole makes every external opaque; IsExternalPredicate of the text agrees with ExternalUses of
// a rule whose condition is that text. Needs (literals) are well-formed; HexStringLiteral and
// RegexLiteral of the text never spell more bytes than it has.
#include <algorithm>
#include <string>

#include "fuzz_common.h"
#include "scan/yara_split.h"

namespace {

using namespace accord;

void CheckGate(const scan::YaraGate& g) {
  FUZZ_CHECK(g.min_size == 0);
  if (!g.magics) return;
  FUZZ_CHECK(!g.magics->empty() && g.magics->size() <= 64);
  FUZZ_CHECK(std::is_sorted(g.magics->begin(), g.magics->end()));
  FUZZ_CHECK(std::adjacent_find(g.magics->begin(), g.magics->end()) == g.magics->end());
  for (const auto& m : *g.magics) FUZZ_CHECK(m.width == 8 || m.width == 16 || m.width == 32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  scan::YaraSplit split = scan::SplitYaraRules(text);
  size_t at = 0;
  std::vector<size_t> all;
  for (size_t i = 0; i < split.rules.size(); ++i) {
    const scan::YaraRuleSpan& r = split.rules[i];
    FUZZ_CHECK(r.begin >= at && r.begin < r.end && r.end <= text.size());
    FUZZ_CHECK(text[r.end - 1] == '}');
    std::string_view head(text.data() + r.begin, r.end - r.begin);
    FUZZ_CHECK(head.rfind("rule", 0) == 0 || head.rfind("private", 0) == 0 || head.rfind("global", 0) == 0);
    FUZZ_CHECK(!r.name.empty());
    CheckGate(r.gate);
    if (!split.keep_whole.empty()) FUZZ_CHECK(r.gate == scan::YaraGate{});
    at = r.end;
    all.push_back(i);
  }
  // Keeping every rule gives the text back, but for imports of modules no rule names (blanked).
  std::string expected = text;
  for (const scan::YaraImport& im : split.imports) {
    FUZZ_CHECK(im.begin < im.end && im.end <= text.size());
    bool used = false;
    for (const auto& r : split.rules)
      used = used || std::find(r.modules.begin(), r.modules.end(), im.module) != r.modules.end();
    if (!used)
      for (size_t i = im.begin; i < im.end; ++i)
        if (expected[i] != '\n') expected[i] = ' ';
  }
  FUZZ_CHECK(scan::KeepOnlyRules(text, split, all) == expected);
  // Dependencies: valid indexes, never the rule itself; the closure is sorted and closed.
  for (size_t i = 0; i < split.rules.size(); ++i)
    for (size_t u : split.rules[i].uses) FUZZ_CHECK(u < split.rules.size() && u != i);
  if (!split.rules.empty()) {
    std::vector<size_t> closure = scan::WithDependencies(split, {split.rules.size() - 1});
    FUZZ_CHECK(std::is_sorted(closure.begin(), closure.end()));
    for (size_t r : closure)
      for (size_t u : split.rules[r].uses) FUZZ_CHECK(std::binary_search(closure.begin(), closure.end(), u));
  }
  std::string none = scan::KeepOnlyRules(text, split, {});
  FUZZ_CHECK(none.size() == text.size());
  FUZZ_CHECK(std::count(none.begin(), none.end(), '\n') == std::count(text.begin(), text.end(), '\n'));
  // The rewrite for items that are not "MZ" keeps every line where it was and, on a file the
  // splitter follows, every rule in its place.
  std::string rewritten = scan::AssumeNoPe(text, split, all);
  if (!rewritten.empty()) {
    FUZZ_CHECK(std::count(rewritten.begin(), rewritten.end(), '\n') ==
               std::count(text.begin(), text.end(), '\n'));
  }
  CheckGate(scan::YaraConditionGate(text));
  scan::YaraExternalUses uses = scan::ExternalUses(text);
  FUZZ_CHECK(uses.opaque <= scan::kAllExternalsOpaque);
  if (!split.keep_whole.empty())
    FUZZ_CHECK(uses.opaque == scan::kAllExternalsOpaque && uses.predicates.empty());
  FUZZ_CHECK(std::is_sorted(uses.predicates.begin(), uses.predicates.end()));
  FUZZ_CHECK(std::adjacent_find(uses.predicates.begin(), uses.predicates.end()) == uses.predicates.end());
  for (const std::string& p : uses.predicates) {
    FUZZ_CHECK(scan::IsExternalPredicate(p));
    FUZZ_CHECK(text.find(p) != std::string::npos);
  }
  if (scan::IsExternalPredicate(text)) {
    scan::YaraExternalUses one = scan::ExternalUses("rule r { condition: " + text + " }");
    FUZZ_CHECK(one.opaque == 0 && one.predicates.size() == 1 && one.predicates[0] == text);
  }
  // Needs: none in a file kept whole; else sorted, unique literals, each with at least
  // kMinYaraLiteral bytes other than zeros, at most kMaxYaraLiteral bytes (kMaxYaraEncodedLiteral for
  // xor and base64 forms), and no more than the
  // text makes (a wide form, twice; the widened base64 text of a wide form, 16/3 times).
  for (const scan::YaraRuleSpan& r : split.rules) {
    if (!r.needs) continue;
    FUZZ_CHECK(split.keep_whole.empty() && !r.needs->empty());
    FUZZ_CHECK(std::is_sorted(r.needs->begin(), r.needs->end()));
    FUZZ_CHECK(std::adjacent_find(r.needs->begin(), r.needs->end()) == r.needs->end());
    for (const scan::YaraLiteral& l : *r.needs) {
      FUZZ_CHECK(l.bytes.size() - size_t(std::count(l.bytes.begin(), l.bytes.end(), '\0')) >=
                 scan::kMinYaraLiteral);
      FUZZ_CHECK(l.bytes.size() <= scan::kMaxYaraLiteral && 3 * l.bytes.size() <= 16 * text.size());
    }
  }
  // The literal of the text read as a hex string's body or a regular expression: bytes it
  // spells out, so never more of them than it has (two hex digits a byte).
  FUZZ_CHECK(scan::HexStringLiteral(text).size() <= text.size() / 2);
  FUZZ_CHECK(scan::RegexLiteral(text).size() <= text.size());
  return 0;
}
