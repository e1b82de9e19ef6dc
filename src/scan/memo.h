// Files with the same bytes in one scan: the first is scanned, the others get its report.
//
// A tree often holds the same bytes many times: Debian's Mesa drivers are 13 copies of one 25 MB
// library, and systems carry copies of the same DLLs and documents. ClamAV's engine keeps the
// digests of the clean files it scanned for the same reason. A ScanMemo keeps, for a content
// (its SHA-256) and an externals key (what the YARA rules can tell of a file's path and owner:
// Engine::ExternalsKey), the report of the first file scanned with them; a later file with both
// equal gets that report's findings, their paths made its own, with its own stat. The findings of
// a file depend only on its bytes and, through YARA's external variables, on its path and owner
// (members of its containers see only their names inside it, which the bytes hold), so that
// report is the one a scan of
// the later file gives. The exception, a member named after the file itself (a raw compressed
// stream: "a.txt.gz" holds "a.txt"; SZDD, KWAJ), is caught by the scan (named_after_top): such a
// report answers only for files of the same name. Only reports scan::Recordable accepts are kept:
// none whose verdict rests on the clock, an error, or damage that a lack of memory could also
// explain; files waiting for one that is not, or for one of another name, are handed back to be
// scanned. A content is kept under at most limits::kMaxScanMemoVariants keys or names.
//
// A file whose content another thread is scanning waits in the memo, not on a thread: the thread
// that scans the first file completes the others too. At most limits::kMaxScanMemoEntries
// reports holding at most limits::kMaxScanMemoBytes are kept (one per content and key), the
// oldest dropped first; a report holding more than 1/64 of that is not kept. Keys are computed only
// for a content met twice, under the memo's lock (libyara evaluates the predicates: microseconds).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/limits.h"
#include "scan/cache.h"
#include "scan/engine.h"

namespace accord::scan {

// How many files of a tree have each size, for the memo: a file no other file matches in size
// cannot have another's bytes, so ScanPaths scans it without hashing it for the memo (most bytes
// of a tree are in files of sizes met once). A walk that only stats fills it beside the scan;
// Unique answers true only after Finish, once that walk is over. It is a hint, never a verdict: a
// file it calls unique wrongly (created after the census, or changed in size) is merely scanned
// itself, and leaving a file out of the memo never changes its report. At most
// limits::kMaxSizeCensusSizes sizes are counted; a size met past that is never unique.
// Thread-safety: every method may be called from any thread.
class SizeCensus {
 public:
  void Add(uint64_t size);
  void Finish();                     // no more Add
  bool Unique(uint64_t size) const;  // Finish was called, and Add(size) exactly once

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, uint32_t> counts_;  // saturating
  bool finished_ = false;
};

class ScanMemo {
 public:
  explicit ScanMemo(size_t max_entries = accord::limits::kMaxScanMemoEntries,
                    size_t max_bytes = accord::limits::kMaxScanMemoBytes);

  struct Waiter {
    FileReport report;
    FileStamp stamp;  // the walk's stat of the file (scan/cache.h)
  };
  enum class Claim {
    kScan,      // scan it, then Complete(ticket, report); ticket 0: the memo keeps nothing of it
    kAnswered,  // `report` is complete: the findings of an earlier file with the same key
    kWaiting,   // the memo holds `report` until the file with its content is complete
  };
  // `digest` is Engine::ContentDigest of the file read into `report` (Engine::ReadFile);
  // `key_of(r)` is Engine::ExternalsKey for a report `r` of a file with those bytes, called only
  // when another file had them (under the memo's lock, on the caller's thread).
  Claim Take(const std::string& digest, FileReport& report, const FileStamp& stamp,
             const std::function<std::string(const FileReport&)>& key_of, uint64_t* ticket);

  struct Completed {
    std::vector<Waiter> answered;    // complete: report them
    std::vector<Waiter> unanswered;  // the first file's report was not kept: scan them
  };
  // The scan that Take asked for with `ticket` gave `report`.
  Completed Complete(uint64_t ticket, const FileReport& report);

  size_t size() const;   // reports kept or being scanned
  size_t bytes() const;  // what they hold, about

 private:
  struct Entry {
    uint64_t id = 0;
    std::string digest;
    std::string path, owner;         // the first file's: its key, its name, its findings' prefix
    std::optional<std::string> key;  // its externals key, once asked
    bool done = false;
    // Its report has members named after the file (FileReport::named_after_top): it answers only
    // for files of the same name (the path's last component).
    bool by_name = false;
    uint64_t bytes_scanned = 0;
    std::vector<Finding> findings;  // once done; each path without the first file's path
    std::vector<Waiter> waiters;
    size_t cost = 0;  // bytes it holds, about (its strings, findings and nodes)
  };
  static void Answer(const Entry& e, FileReport& report);
  static size_t Cost(const Entry& e);
  void Evict();  // under mu_
  // Drops an entry from the list and both indexes (under mu_); the next entry.
  std::list<Entry>::iterator Forget(std::list<Entry>::iterator it);

  const size_t max_entries_, max_bytes_;
  mutable std::mutex mu_;
  size_t bytes_ = 0;  // the entries' costs
  uint64_t next_id_ = 1;
  std::list<Entry> entries_;  // oldest first
  std::unordered_multimap<std::string, std::list<Entry>::iterator> by_digest_;
  std::unordered_map<uint64_t, std::list<Entry>::iterator> by_id_;
};

}  // namespace accord::scan
