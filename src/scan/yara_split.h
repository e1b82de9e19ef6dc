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
//   - a conjunct that is an expression over pe module fields or functions (`pe.exports("x")`,
//     `pe.imphash() == "..."`, `pe.number_of_sections > 3`, `pe.is_pe`), see NeedsPe in the .cc:
//     undefined, so false, unless the data starts with "MZ", which gives the gate uint16(0) ==
//     0x5a4d.
// A rule that names other rules of its file is compiled with them (WithDependencies). A rule file
// that has a global rule, an include, two rules of one name, or anything the lexer does not
// understand is kept whole and ungated, so libyara sees exactly what it would have seen. The split
// text keeps every line where it was (other rules and unused imports are blanked, newlines kept),
// so compiler messages name the original lines.
//
// Per scan, libyara also builds the objects of every module the rules import: ~0.3 ms for pe's
// ~500 names, more than the rules cost on a small file or a container's member. AssumeNoPe
// rewrites the rules that may match any item but use pe so that a group for items that are not
// "MZ" needs no pe module (its contract below).
//
// This is a lexer and a shallow parser, not a YARA compiler: it never decides that a rule file is
// valid (libyara does), only where rules begin and end and what their conditions say at the top.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <iterator>
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

// A byte string that occurs in every data a rule matches, or one of a set of them does (see
// YaraRuleSpan::needs).
struct YaraLiteral {
  std::string bytes;
  bool caseless = false;  // ASCII letters match either case (YARA's nocase, a regex's /i)

  bool operator==(const YaraLiteral&) const = default;
  auto operator<=>(const YaraLiteral&) const = default;
};

// Literals with fewer bytes other than zeros than this are too common to tell files apart: a string
// whose literal has fewer has none. A longer literal than kMaxYaraLiteral is cut to its first
// kMaxYaraLiteral bytes (a piece of a literal every match contains is one too).
inline constexpr size_t kMinYaraLiteral = 8;
inline constexpr size_t kMaxYaraLiteral = 1024;
// A string with `xor` or `base64` has many forms (up to 512 and 12), each a literal: those are cut
// to their first kMaxYaraEncodedLiteral bytes, so that one rule of many such strings cannot make
// a database of hundreds of MB.
inline constexpr size_t kMaxYaraEncodedLiteral = 32;

struct YaraRuleSpan {
  std::string name;
  size_t begin = 0, end = 0;  // byte range of the rule in the file, modifiers to closing brace
  YaraGate gate;
  // Literals at least one of which occurs in any data on which the rule's condition is true, so
  // that a scanner that finds none of them there need not run the rule (nullopt: no such set is
  // known; the rule runs on every item its gate admits). Derived as the gate is, from forms whose
  // meaning is certain (see RuleNeeds in the .cc):
  //   - a string's literal: the longest run of bytes every match of it contains: a text string's
  //     bytes, a hex string's longest run of fixed bytes outside alternatives, a regular
  //     expression's longest run of characters that every match contains once (none with a `|`
  //     outside brackets' groups...); `wide` interleaves zeros, `ascii wide` gives both,
  //     `nocase` and /i make it caseless; `xor` (its keys) gives each form XORed with each key,
  //     `base64` and `base64wide` (its alphabet) the base64 text of each form at each of the three
  //     alignments, only the characters that do not depend on the neighbouring bytes (what libyara
  //     searches for), that text widened for base64wide; anything else gives none; with fewer than
  //     kMinYaraLiteral bytes other than zeros (in the weakest of its forms), none;
  //   - `$a`, `$a at E`, `$a in (R)`, `#a > N` (N >= 0), `#a >= N`, `#a == N` (N >= 1), and
  //     `Q of S` (S = them or ($a, $b*, ...), Q = any, all or a number >= 1: then one of any
  //     |S| - Q + 1 of its strings matches, the strongest are taken) need their strings;
  //   - `and` needs what either side needs (the stronger side), `or` what both sides need (the
  //     union); anything else (`not`, `for`, rules, modules, comparisons) needs nothing.
  std::optional<std::vector<YaraLiteral>> needs;
  size_t cond_begin = 0, cond_end = 0;  // byte range of the condition (after `condition:`)
  std::vector<size_t> uses;             // the rules of this file its condition names (indexes)
  std::vector<std::string> modules;     // the imported modules its body names (`pe.`...), sorted
};

struct YaraImport {
  std::string module;
  size_t begin = 0, end = 0;  // byte range of `import "module"`
};

struct YaraSplit {
  std::vector<YaraRuleSpan> rules;
  std::vector<YaraImport> imports;
  // Empty: the rules may be compiled apart. Else why the file must stay whole (and ungated).
  std::string keep_whole;
};

// Never fails: text it cannot follow yields keep_whole with the reason.
YaraSplit SplitYaraRules(std::string_view text);

// The gate of a condition given as source text (what follows `condition:`), for tests and tools.
YaraGate YaraConditionGate(std::string_view condition);

// The literal of a hex string (the text between its braces) or of a regular expression (the text
// between its slashes): the longest run of bytes every match contains, "" if none is known. For
// tests and tools; the rules' `needs` use them.
std::string HexStringLiteral(std::string_view body);
std::string RegexLiteral(std::string_view pattern);

// The rules `keep` needs compiled with them: `keep` and, transitively, the rules they name.
std::vector<size_t> WithDependencies(const YaraSplit& split, const std::vector<size_t>& keep);

// The text of `rules` for a group that runs on every item, when the same rules as written run on
// "MZ" items in another group: each condition C becomes `(filesize < 2 or uint16(0) != 0x5a4d)
// and (C')`, false on "MZ" items, where C' is C for data in which libyara's pe module finds no
// program: `pe.is_pe` becomes 0 and every maximal expression of pe fields, pe functions, literals
// and operators that propagate undefined (undefined on such data) becomes `uint8(filesize)`
// (undefined on any data), so that C' means what C means there without the pe module. Only
// expressions whose neighbours bind more loosely than any operator inside them (`and`, `or`,
// `not`, `(`, `)`, `,`, `..`, `at`, the ends) are replaced; a condition with a pe reference that
// cannot be replaced so keeps it (the group then imports pe). Rule indexes and line numbers are
// kept. Returns "" if it cannot (replacements that overlap, never expected).
// With `rewrite` false, only the guard is added (the rules keep their pe expressions).
std::string AssumeNoPe(std::string_view text, const YaraSplit& split, const std::vector<size_t>& rules,
                       bool rewrite = true);

// `text` with every rule not in `keep` replaced by spaces, newlines kept (line numbers unchanged),
// and every import of a module no kept rule names blanked too (libyara builds each imported
// module's objects for every scan, which costs more than the rules on small files: the pe module's
// ~500 names take ~0.3 ms). `keep` holds indexes into split.rules and must hold their dependencies.
std::string KeepOnlyRules(std::string_view text, const YaraSplit& split, const std::vector<size_t>& keep);

// The external variables accord declares for every rule set and sets for every file scanned
// (scan/yara_rules.h), in the order databases record them: bit v of YaraExternalUses::opaque
// stands for kYaraExternals[v].
inline constexpr std::string_view kYaraExternals[] = {"filename", "filepath", "extension", "filetype",
                                                      "owner"};
inline constexpr uint8_t kAllExternalsOpaque = (1u << std::size(kYaraExternals)) - 1;

// How the conditions of a rule file read the external variables, so that a scanner can tell when
// two files with the same bytes get the same verdict (scan/memo.h): that is so when every
// predicate below has the same value for both and every opaque variable the same value.
//
// A predicate is an external compared with a literal, `filename matches /\.exe$/i`,
// `filepath contains "/etc"`, `extension == ".php"` (operators ==, !=, contains, icontains,
// startswith, istartswith, endswith, iendswith, iequals; `matches` with a regular expression),
// standing where only `and`, `or`, `not` or parentheses bind it: `(`, `and`, `or`, `not` or the
// start of the condition before it; `)`, `and`, `or` or the end after it. Those operators bind
// more loosely than the comparison (libyara's grammar), so the condition reads the variable only
// through the predicate's truth value. An external used in any other way (the other order, a
// for-loop variable of that name, an operand of anything else) is opaque: its whole value counts.
// `pe.filename`-like fields (after a `.`) are not the variable. A file that SplitYaraRules keeps
// whole (includes, global rules, text it cannot follow) makes every variable opaque.
// Thread-safety: pure functions.
struct YaraExternalUses {
  std::vector<std::string> predicates;  // source text of each, sorted, no two alike
  uint8_t opaque = 0;                   // bit v: kYaraExternals[v] is read otherwise
  void Merge(const YaraExternalUses& other);
};
YaraExternalUses ExternalUses(std::string_view text);
// True if `text` is exactly one predicate of that form (nothing before or after it): what a scanner
// checks of the predicates a database carries before it evaluates them.
bool IsExternalPredicate(std::string_view text);

}  // namespace accord::scan
