// Splitting a YARA rule file by what a file must look like for each rule to match, so that the
// scanner runs libyara only over the rules that can match a given file.
//
// libyara's cost is one Aho-Corasick pass over every byte with an automaton of all strings of all
// rules; on the signature-base rules (5,800 rules, 33,000 strings) that automaton no longer fits
// in the CPU's caches and the pass is memory-bound. Most real rules say plainly which files they
// are about in a top-level conjunct of their condition:
//
//   condition: uint16(0) == 0x5a4d and filesize < 200KB and 3 of them
//
// Such a rule cannot match a file that does not start with "MZ" or that has 200 KiB or more, so
// it can be compiled into a group of rules that libyara never runs on such files. Rules are
// grouped by a gate — a largest file size and a set of leading magic numbers — and each group is
// compiled on its own (scan/yara_rules.h). For the 1.4 GB benchmark corpus of Debian files this
// takes the 2,200 PE-only rules and every rule bounded below the file's size out of the pass.
//
// Soundness: a gate is a NECESSARY condition of the rule's condition, derived only from forms
// whose meaning is certain; anything else gives no gate (the rule runs on every file):
//   - at the top level of the condition (no `or` outside parentheses), or in every branch of a
//     top-level `or`: `filesize < N`, `filesize <= N` (N decimal or hex, KB/MB suffixes);
//     `uint8/16/32[be](0) == V`; parenthesised sub-expressions of the same shape;
//   - `or` joins gates (largest size, union of magics, none if a branch has none); `and` meets them.
// A rule file whose rules refer to each other, that has a global rule, an include, two rules of
// one name, or anything the lexer does not understand is kept whole and ungated, so libyara sees
// exactly what it would have seen. The split text keeps every line where it was (other rules are
// blanked, newlines kept), so compiler messages name the original lines.
//
// This is a lexer and a shallow parser, not a YARA compiler: it never decides that a rule file is
// valid (libyara does), only where rules begin and end and what their conditions say at the top.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace accord::scan {

// A leading magic number: uint<width>[be](0) == value.
struct YaraMagic {
  uint8_t width = 0;  // 8, 16 or 32
  bool big_endian = false;
  uint64_t value = 0;

  bool operator==(const YaraMagic&) const = default;
  bool operator<(const YaraMagic& o) const;
  // True if `head` (the file's first bytes) starts with this number. A file shorter than the
  // width does not (libyara's uint16(0) of a 1-byte file is undefined, and an undefined
  // conjunct makes the rule false).
  bool Matches(std::string_view head) const;
};

// What a file must satisfy for the rule to possibly match.
struct YaraGate {
  static constexpr uint64_t kNoSizeLimit = UINT64_MAX;
  uint64_t min_size = 0;                         // groups only: files smaller than this are not admitted
  uint64_t max_size = kNoSizeLimit;              // the rule cannot match a file of this size or more
  std::optional<std::vector<YaraMagic>> magics;  // nullopt: any file; else one of these (sorted)

  bool operator==(const YaraGate&) const = default;
  bool Admits(uint64_t size, std::string_view head) const;
};

struct YaraRuleSpan {
  std::string name;
  size_t begin = 0, end = 0;  // byte range of the rule in the file, modifiers to closing brace
  YaraGate gate;
};

struct YaraSplit {
  std::vector<YaraRuleSpan> rules;
  // Empty: the rules may be compiled apart. Else why the file must stay whole (and ungated).
  std::string keep_whole;
};

// Never fails: text it cannot follow yields keep_whole with the reason.
YaraSplit SplitYaraRules(std::string_view text);

// The gate of a condition given as source text (what follows `condition:`), for tests and tools.
YaraGate YaraConditionGate(std::string_view condition);

// `text` with every rule not in `keep` replaced by spaces, newlines kept (line numbers unchanged).
// `keep` holds indexes into split.rules.
std::string KeepOnlyRules(std::string_view text, const YaraSplit& split, const std::vector<size_t>& keep);

}  // namespace accord::scan
