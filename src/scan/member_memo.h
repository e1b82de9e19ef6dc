// Members of containers with the same bytes: YARA's outcome for the first is the outcome for the
// others whose external variables the rules cannot tell apart.
//
// The same object file sits in several static libraries, the same licence text in many archives:
// in the benchmark corpus, 2,417 of the 12,751 members of its static libraries repeat another's
// bytes. libyara costs about 0.25 ms per item whatever its size (its conditions run for every
// rule), so a member already scanned is worth remembering. YaraScanner's outcome for an item is a
// function of its bytes and of its external variables, and of those only through
// YaraScanner::ExternalsKey (filetype comes from the bytes): so a member whose SHA-256 and key
// equal an earlier member's gets that member's outcome (the caller compares the keys, which need
// its scanners). Outcomes that rest on the clock (a time limit hit, the "time" module) or on an
// error are not kept. The first member of a content is the one remembered; a later one with
// another key is scanned, not remembered. A member answered from the memo gets the whole outcome
// even when its own time limit would have cut a scan short: more complete, never different. At
// most limits::kMaxMemberMemoEntries contents (those whose outcome was not kept count too) holding
// at most limits::kMaxMemberMemoBytes (externals, keys and outcomes counted), then nothing new.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/limits.h"
#include "scan/yara_rules.h"

namespace accord::scan {

class MemberMemo {
 public:
  using Outcomes = std::vector<YaraScanner::Outcome>;  // one per rule set, in the engine's order

  explicit MemberMemo(size_t max_entries = accord::limits::kMaxMemberMemoEntries,
                      size_t max_bytes = accord::limits::kMaxMemberMemoBytes);

  struct Claim {
    enum class Kind {
      kFirst,   // the first member with these bytes: scan it, then Complete(digest, ...)
      kSeen,    // `outcomes` are those of `first`, a member with these bytes: compare the keys
      kScanIt,  // scan it and forget it (being scanned elsewhere, not kept, or the memo is full)
    } kind = Kind::kScanIt;
    YaraExternals first;
    std::optional<std::string> first_key;  // kSeen: its externals key, once a caller gave it
    std::shared_ptr<const Outcomes> outcomes;
  };
  // `digest`: the member's SHA-256 (32 bytes); `ext`: its externals, as YaraScanner::Scan gets them.
  Claim Take(const std::string& digest, const YaraExternals& ext);
  // After kFirst: the outcomes to keep, or nullopt if they may not be reused (see above).
  void Complete(const std::string& digest, std::optional<Outcomes> outcomes);
  // After kSeen without first_key: the first member's key, computed by the caller, for the next.
  void RememberKey(const std::string& digest, const std::string& first_key);
  void CountShared();       // a kSeen whose key matched
  uint64_t shared() const;  // members answered from the memo

 private:
  struct Entry {
    YaraExternals first;
    std::optional<std::string> first_key;
    std::shared_ptr<const Outcomes> outcomes;  // null while being scanned, or if not kept
    bool done = false;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  size_t max_entries_, max_bytes_;
  size_t bytes_ = 0;  // what the entries hold, roughly
  uint64_t shared_ = 0;
};

}  // namespace accord::scan
