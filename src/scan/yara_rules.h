// YARA rules through libyara: compiled once, immutable, shared by all scanning threads; one
// YaraScanner per thread.
//
// Every file given is compiled in a namespace of its own named after the file, so two rule sets
// may reuse rule names, and every match says which file its rule came from. The five external
// variables that real rule sets use (filename, filepath, extension, filetype, owner — as LOKI
// and ../shared/data/signature-base define them) are declared for every rule set and set for
// every file scanned. libyara's modules (pe, elf, math, hash, dotnet, ...) are available.
// Rules are compiled in groups by what a file must look like for them to match (leading magic
// number, size bound: scan/yara_split.h); a scanner runs only the groups whose gate admits the
// file, so libyara's pass over the bytes uses a smaller automaton and skips rules that cannot
// match. Most rules also need one of a few literals to match (YaraRuleSpan::needs): a Hyperscan
// pass over the item finds whether one occurs, and where none does only the rules that need none
// run (Group::when_none_of). The matches are exactly libyara's over the whole set (tested against
// the `yara` program).
// Thread-safety: YaraRules is immutable after Compile/Load; YaraScanner is owned by one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/sha256.h"
#include "scan/yara_split.h"

struct YR_RULES;
struct YR_SCAN_CONTEXT;  // libyara's YR_SCANNER
struct hs_database;      // Hyperscan's
struct hs_scratch;

namespace accord::scan {

struct YaraExternals {
  std::string filename;   // "invoice.exe"
  std::string filepath;   // "/home/a/invoice.exe" (inside containers: the member's path)
  std::string extension;  // ".exe", lower case, with the dot (as LOKI sets it)
  std::string filetype;   // "EXE", "ELF", "ZIP", ... from the content (see FileTypeOf)
  std::string owner;      // the file owner's user name ("" inside containers)
};

// LOKI's file type names for the leading bytes of a file ("" when unknown).
std::string FileTypeOf(ByteView head);

struct RuleInput;  // yara_rules.cc

class YaraRules {
 public:
  ~YaraRules();
  // Compiles every rule file named, or found (recursively, sorted) under each directory named
  // (*.yar, *.yara). A file that does not compile fails the whole set; the error names each bad
  // file and line with the compiler's message.
  static Result<std::shared_ptr<const YaraRules>> Compile(const std::vector<std::string>& paths);
  // `grouped` false: one group of all rules (libyara's plain behaviour; for comparisons).
  static Result<std::shared_ptr<const YaraRules>> Compile(const std::vector<std::string>& paths,
                                                          bool grouped);
  // Rule sources held in memory (e.g. statements of the log), each compiled in a namespace named
  // `name`, which matches report as their source. Includes are refused (libyara has no file to
  // resolve them against); errors name the source and line as Compile's do.
  struct RuleSource {
    std::string name;
    std::string text;
  };
  static Result<std::shared_ptr<const YaraRules>> CompileSources(const std::vector<RuleSource>& sources);
  // From the bytes that Save produced (a database section; docs/scan-database.md), or from a
  // plain yr_rules_save image (one group). DataLoss when damaged. The groups are loaded on up to
  // two threads. `done`, if given, is called with each part of `saved` once libyara has copied it
  // (each group's image, in no set order, from either thread, possibly at the same time; and the
  // groups' literals and the prefilter, from the calling thread, once read), so
  // that a caller whose bytes are a file mapping can drop those pages as it goes
  // (Database::ReleasePages): the rules then count once in memory, not twice, at the peak too.
  static Result<std::shared_ptr<const YaraRules>> Load(ByteView saved,
                                                       const std::function<void(ByteView)>& done = nullptr);
  Result<Bytes> Save() const;

  size_t rule_count() const { return rule_count_; }
  size_t file_count() const { return file_count_; }

  struct Group {
    YR_RULES* rules = nullptr;
    YaraGate gate;
    size_t rule_count = 0;
    // Empty (and when_none_of 0): the group runs on every item its gate admits. Else only on
    // items in which one of these occurs (the literals YaraRuleSpan::needs gives its rules).
    std::vector<YaraLiteral> needs;
    // Not 0: the group holds the rules of its kind (every item, or "MZ" items) that need no
    // literal, and names its partners, the kind's size classes compiled whole (bit g:
    // groups()[g], earlier groups, each with when_none_of 0); its own needs are empty. It runs on
    // an item it admits unless a partner that admits the item runs (it has no needs, or one of
    // them occurs): so an item of such a class runs either the class's whole group or only the
    // rules that need none (without a prefilter, the whole group). A class of small items is
    // split instead (groups with needs, of some of its rules each, no partners): an item of it
    // runs the rules that need none and each of those groups whose literals occur in it.
    uint64_t when_none_of = 0;
  };
  const std::vector<Group>& groups() const { return groups_; }

  // How the rules read the external variables (scan/yara_split.h, ExternalUses): compiled from
  // the sources, or read from a database; rules saved before databases carried it (format
  // versions 1 and 2, a plain libyara image) read every variable as opaque.
  const YaraExternalUses& external_uses() const { return externals_; }

 private:
  YaraRules() = default;
  static Result<std::shared_ptr<const YaraRules>> CompileInputs(const std::vector<RuleInput>& inputs,
                                                                bool grouped);
  // Sets externals_ and compiles its predicates into probe_, one rule "p<i>" each; a predicate
  // libyara refuses makes every variable opaque instead (never expected: they come from rules
  // that compiled).
  void SetExternalUses(YaraExternalUses uses);
  // Compiles the groups' needs into prefilter_ (Hyperscan, literal mode), or loads what Save
  // serialized of it (`serialized`, if it was made from the same literals and Hyperscan takes
  // it: the same version and CPU features): literal i, in sorted order, stands for the groups in
  // literal_groups_[i]. Without Hyperscan (a CPU it does not support) or on any failure there is
  // none, and every group with needs runs on every item its gate admits (those of the rules that
  // need none, only on items that no class group compiled whole admits: the small ones).
  void BuildPrefilter(ByteView serialized = {});
  friend class YaraScanner;

  std::vector<Group> groups_;
  hs_database* prefilter_ = nullptr;
  crypto::Hash prefilter_digest_{};       // of the literals it was compiled from (Save stores it)
  std::vector<uint64_t> literal_groups_;  // bit g: groups_[g]
  uint64_t filtered_groups_ = 0;          // bit g: groups_[g].needs is not empty
  YaraExternalUses externals_;
  YR_RULES* probe_ = nullptr;
  size_t rule_count_ = 0;
  size_t file_count_ = 0;
};

struct YaraMatch {
  std::string rule;    // rule identifier
  std::string source;  // the rule file (the namespace)
};

class YaraScanner {
 public:
  explicit YaraScanner(std::shared_ptr<const YaraRules> rules);
  ~YaraScanner();
  YaraScanner(const YaraScanner&) = delete;
  YaraScanner& operator=(const YaraScanner&) = delete;

  struct Outcome {
    std::vector<YaraMatch> matches;
    bool timed_out = false;           // hit the per-file time limit
    std::vector<std::string> capped;  // rules whose strings matched too often (libyara's cap)
    // The rules that scanned it import a module whose answers change with the date or the
    // machine's clock ("time"): the same bytes may be judged otherwise tomorrow.
    bool clock_dependent = false;
    size_t rules_run = 0;  // the rules of the groups libyara ran on it (a rule in two, twice)
  };
  // Scans `data` with the externals set. `timeout_seconds` 0 means none.
  Result<Outcome> Scan(ByteView data, const YaraExternals& ext, int timeout_seconds);

  // What of `ext` these rules can tell apart: the value of each predicate of external_uses()
  // (evaluated by libyara) and the whole value of each opaque variable. Two items with the same
  // bytes and the same key get the same Outcome from Scan (but for the clock: the time limit,
  // and rules that import "time"). `filetype` is the caller's to keep equal (it comes from the
  // bytes).
  std::string ExternalsKey(const YaraExternals& ext);

 private:
  std::shared_ptr<const YaraRules> rules_;
  std::vector<YR_SCAN_CONTEXT*> scanners_;  // one per group; null if libyara could not make it
  YR_SCAN_CONTEXT* probe_ = nullptr;        // over rules_->probe_
  hs_scratch* scratch_ = nullptr;           // for rules_->prefilter_; null: no prefilter
};

// Compiles one rule source held in memory as rule files are compiled (the five external
// variables defined, warnings ignored) and returns its rule names in source order; errors are
// InvalidArgument "SOURCE_NAME:LINE: message" (all of them, "; "-separated).
Result<std::vector<std::string>> CompileRuleNames(std::string_view source, std::string_view source_name);

}  // namespace accord::scan
