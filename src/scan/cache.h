// The scan cache of `accord scan`: a rescan of an unchanged tree with an unchanged engine costs
// little more than the stat calls the walk makes anyway (issue 3).
//
// A record says: the file at this path, whose stat was (st_dev, st_ino, st_size, st_mtim, st_ctim),
// was scanned by an engine with this fingerprint, and this is what the scan reported: its SHA-256
// (none if it was over --max-filesize and not read), the bytes it covered, and its findings, if
// any. A later scan that finds the same path with the same stat reports the file from the record,
// without opening it; its report (text, --json, the exit code) is the one the scan would give.
// Only findings that are a function of the file's bytes, its path and the fingerprint are recorded
// (signature and rule matches, and limit notes other than MaxScanTime); a report with any other
// finding (the scan ran out of time, a container was damaged, encrypted or unsupported, which a
// lack of memory can also cause) or an error is not recorded, and the file is scanned every time;
// nor is a report by YARA rules that import the time module (FileReport::clock_dependent).
// SPEC: docs/scan-cache.md (the design, the file format as a grammar, the security argument).
//
// Why the stat says "unchanged" (git's index makes the same bet): on a local disk file system
// (FileReport::kernel_times; no other file is recorded) every write to a file sets its ctime, and
// no unprivileged process can set a ctime. What stat cannot show:
//   - a write in the same clock tick as the ctime that was recorded;
//   - a write through a shared memory mapping: the kernel sets the times on the first store to a
//     page that is clean (written back), and later stores to the same dirty page change no time
//     until it is written back, within vm.dirty_expire_centisecs + vm.dirty_writeback_centisecs.
//   Hence the settle rule: a file whose mtime or ctime is not at least RacyCleanNs() older than the
//   scan's start is never recorded, so any later write shows in its stat;
//   - a write while the scan reads the file, or a path that points elsewhere by the time it is
//     opened. The walk records a report only if the status of the descriptor that was read
//     (FileReport::read_stat, unchanged over the read) is the stat the walk looked it up with.
// The key also holds a hash of the path as given and of the owner's name (YARA rules see
// filename, filepath, extension and owner; a user renamed in the user database changes no ctime),
// and the fingerprint every input of the verdict besides the file (Fingerprint below). Whoever
// can write the cache file can hide files from the scanner: it MUST be private to the user who
// scans (Open checks: a regular file owned by the effective user, writable by no one else).
//
// Thread-safety: a ScanCache is used by one scan; Lookup, Insert and Save may be called from any
// thread (an internal mutex). Two processes sharing a cache file is safe: Save merges under a lock
// file, and the file is replaced atomically (fs::WriteFileAtomic).
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/sha256.h"
#include "scan/database.h"
#include "scan/engine.h"
#include "scan/yara_rules.h"

namespace accord::scan {

// What stat(2) says about a file: the cache's key, with the path.
struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;  // nanoseconds since the epoch

  bool operator==(const FileStamp&) const = default;
};
FileStamp StampOf(const struct stat& st);

// Files changed less than this long before the scan started are not recorded (see above): twice
// the kernel's writeback window (/proc/sys/vm: 2 x (30 s + 5 s) by default), at least 2 s (the
// coarsest timestamp Linux mounts, as git assumes); one hour if writeback is off or unknown. The
// environment variable ACCORD_SCAN_CACHE_SETTLE_MS, if set, replaces it (tests; trees that change
// only through write(2)). Computed once per process.
int64_t RacyCleanNs();

struct CacheRecord {
  FileStamp stamp;
  std::array<uint8_t, 16> path_hash{};  // PathHash(path as given, owner's name)
  bool has_sha256 = true;               // false: over --max-filesize, never read (sha256 zero)
  std::array<uint8_t, 32> sha256{};     // of the file
  uint64_t scanned_bytes = 0;           // FileReport::bytes_scanned (the file and its members)
  uint32_t last_used_day = 0;           // days since the epoch of the last scan that used it
  // What the scan found, each Finding::path holding only what follows the file's own path: "" for
  // the file itself, "!member..." for what was found inside it. Empty: a clean file.
  std::vector<Finding> findings;

  bool operator==(const CacheRecord&) const;  // every field, each finding's too
};
// At most one record per file and path: the records' order, in the file and in memory, is by
// (dev, ino, path_hash), strictly ascending. A lookup finds the record by these and then
// compares the rest of the stamp.
bool KeyLess(const CacheRecord& a, const CacheRecord& b);
// The first 16 bytes of SHA-256(path || 0x00 || owner): the name of the file and of its owner,
// as the scan's YARA externals saw them (a path holds no NUL byte).
std::array<uint8_t, 16> PathHash(std::string_view path, std::string_view owner);

inline constexpr size_t kCacheHeaderSize = 64, kCacheRecordSize = 112, kCacheTrailerSize = 32;
// The findings of one record, encoded (docs/scan-cache.md), are at most this long; a file that
// found more is not recorded (it is scanned again). All the records' findings together are at most
// kMaxScanCacheFindingsBytes: past it, Save drops records with findings as it drops records past
// limits::kMaxScanCacheRecords.
inline constexpr size_t kMaxCachedFindingsBytes = 64 * 1024;
inline constexpr uint64_t kMaxScanCacheFindingsBytes = 64ull << 20;

// Whether a report may be recorded at all: no error, and every finding a function of the file's
// bytes, its path and the fingerprint (a signature or rule match, or a limit note other than
// MaxScanTime), with its path inside the report's.
bool Recordable(const FileReport& r);

// The whole file for these records, which MUST be strictly ascending by KeyLess, each with what
// Recordable admits and at most kMaxCachedFindingsBytes of findings.
Bytes SerializeScanCache(const crypto::Hash& fingerprint, const std::vector<CacheRecord>& records);
// Parses a cache file. DataLoss: not a cache file, damaged, or not canonical (every check of the
// grammar). FailedPrecondition: a sound file made for another fingerprint (an engine, database or
// option changed), or written in another version of the format: expected, not damage. A file that
// parses is exactly what SerializeScanCache writes for its records.
Result<std::vector<CacheRecord>> ParseScanCache(ByteView file, const crypto::Hash& fingerprint);

// The fingerprint: SHA-256 over everything a verdict depends on besides the file and its path.
// Always included: the cache format, the identity (stat) of the accord executable and of every
// shared library loaded (a rebuilt or upgraded accord or library never trusts an older one's
// verdicts), libyara's and libarchive's versions and the YARA externals policy. The caller adds every
// database and rule set and the options.
class Fingerprint {
 public:
  Fingerprint();
  // Its header's SHA-256 of the whole image, which covers its signatures and its YARA rules.
  void AddDatabase(const Database& db);
  // Rules compiled from files for this scan: the SHA-256 of their saved (compiled) form.
  [[nodiscard]] Status AddYaraRules(const YaraRules& rules);
  void AddOptions(const ScanOptions& options);
  crypto::Hash Finish() const;

 private:
  void Add(std::string_view label, ByteView value);
  Bytes text_;  // length-prefixed labels and values, hashed by Finish
};

// The fingerprint of a scan with these databases, rule sets (each in its saved form, those loaded
// from a database too) and options. Fails only if libyara cannot save a rule set.
Result<crypto::Hash> ScanFingerprint(const std::vector<std::shared_ptr<const Database>>& databases,
                                     const std::vector<std::shared_ptr<const YaraRules>>& rules,
                                     const ScanOptions& options);

class ScanCache {
 public:
  // Opens the cache file at `path` for a scan with this fingerprint that started at
  // `scan_start_ns` (CLOCK_REALTIME). Never fails: a missing file is an empty cache; a damaged,
  // unsafe (see above) or unreadable one is described in *warning and treated as empty, and is
  // replaced by Save. A file of another fingerprint or format version is silently empty: Save
  // replaces it. The file is mapped and checked whole, and kept: lookups search it in place. It
  // MUST NOT be changed in place while open (a truncation would fault the reader, SIGBUS, as for
  // a database: scan/database.h); Save replaces it by rename, which an open cache never sees.
  static std::unique_ptr<ScanCache> Open(const std::string& path, const crypto::Hash& fingerprint,
                                         int64_t scan_start_ns, std::string* warning);
  // ~/.cache/accord/scan.cache ($XDG_CACHE_HOME/accord/ if set), the directory created 0700.
  // FailedPrecondition if the directory is not the effective user's own or others can write it.
  static Result<std::string> DefaultPath();

  // A recorded file with this stat, path and owner's name (OwnerName): fills *report as the scan
  // did (path, size, sha256, bytes_scanned, findings, owner) and returns true.
  bool Lookup(const FileStamp& stamp, std::string_view path, std::string_view owner, FileReport* report);
  // Records a file scanned with report `r` (its path and owner in the key) whose stat was `stamp`
  // before and after the scan. Does
  // nothing unless the report is Recordable, its size the stat's, its findings at most
  // kMaxCachedFindingsBytes, and the file is not racy (above).
  void Insert(const FileStamp& stamp, const FileReport& r);
  // Writes the cache if this scan changed it: under `path`.lock, merged with what another scan
  // may have written since Open, bounded by limits::kMaxScanCacheRecords,
  // kMaxScanCacheFindingsBytes and kMaxScanCacheAgeDays (records this scan used are kept first).
  // Mode 0600. A scan that only used records already used today writes nothing.
  [[nodiscard]] Status Save();

  ~ScanCache();

  size_t loaded() const { return size_t(count_); }
  const std::string& path() const { return path_; }

 private:
  ScanCache() = default;

  std::string path_;
  crypto::Hash fingerprint_{};
  int64_t scan_start_ns_ = 0;
  uint32_t today_ = 0;
  std::mutex mu_;
  const char* map_ = nullptr;  // the file as Open mapped and checked it (nullptr if none)
  size_t map_size_ = 0;
  uint64_t count_ = 0;              // its records, searched in place by Lookup
  std::vector<uint8_t> used_;       // per record of file_: 1 if this scan used it
  std::vector<CacheRecord> added_;  // recorded by this scan
  bool dirty_ = false;
};

}  // namespace accord::scan
