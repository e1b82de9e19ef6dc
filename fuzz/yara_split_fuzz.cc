// scan::SplitYaraRules and scan::YaraConditionGate (scan/yara_split.h) on arbitrary text.
//
// Properties: never crashes or reads out of bounds (sanitizers); rule spans lie inside the text, in
// order, without overlap, each from a rule's first keyword to a closing brace; a file kept whole has
// no gates; gates' magics are sorted, unique, at most 64 and of widths 8/16/32; KeepOnlyRules keeps
// the text's length and every newline, and keeping every rule gives the text back.
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
  FUZZ_CHECK(scan::KeepOnlyRules(text, split, all) == text);
  std::string none = scan::KeepOnlyRules(text, split, {});
  FUZZ_CHECK(none.size() == text.size());
  FUZZ_CHECK(std::count(none.begin(), none.end(), '\n') == std::count(text.begin(), text.end(), '\n'));
  CheckGate(scan::YaraConditionGate(text));
  return 0;
}
