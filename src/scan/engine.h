// The scanning engine: one file (or buffer) in, every finding out — hash signatures, TLSH fuzzy
// signatures, YARA rules, and the same again for every member of every container inside, each
// finding naming its path ("mail.eml!invoice.zip!x.exe"), its signature and where that signature
// came from (and for TLSH, the distance).
//
// Limits are never silent: a file over the size cap, a container over a cap, an encrypted
// member, a scan over its time are findings of kind "limit" / "encrypted" with ClamAV's names
// (Heuristics.Limits.Exceeded.MaxFileSize, ...), so scripts see them as clamscan's do.
// Thread-safety: an Engine is immutable and shared; each thread scans with its own Worker.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/container.h"
#include "scan/database.h"
#include "scan/yara_rules.h"

namespace accord::scan {

class MemberMemo;

struct Finding {
  std::string path;    // display path of the item the finding is about
  std::string name;    // signature name, rule name, or Heuristics.* name
  std::string kind;    // "md5", "sha1", "sha256", "tlsh", "yara", "limit", "encrypted", "corrupt"
  std::string source;  // the signature or rule file it came from ("" for heuristics)
  std::optional<uint32_t> distance = std::nullopt;  // "tlsh": the TLSH distance to the signature
  // `source` is a statement of a verified log (scan::SourceKind::kLogEntry): it reads "log ORIGIN
  // entry INDEX by AUTHOR (CC), checkpoint SIZE", the citation the reports print.
  bool cited = false;
  // What the item the finding is about hashed to, so its evidence can name it (`accord evidence`):
  // its SHA-256 (hex; empty for a finding no digest was computed for: heuristics, YARA-only scans
  // of inner items), and the digest that matched: for "md5"/"sha1"/"sha256" that digest (hex),
  // for "tlsh" the item's TLSH (70 hex digits), else empty.
  std::string item_sha256 = {};
  std::string item_digest = {};
};

// The name of the user `uid` in the user database (getpwuid_r), or the number if it has none: the
// YARA external `owner`.
std::string OwnerName(uid_t uid);

struct FileReport {
  std::string path;
  std::string owner;  // ScanFile: the YARA external `owner` the scan saw (OwnerName of its uid)
  uint64_t size = 0;
  std::string sha256;  // hex, of the top-level file
  std::vector<Finding> findings;
  std::string error;           // non-empty: the file could not be scanned (and why)
  uint64_t bytes_scanned = 0;  // this file plus everything extracted from it
  // ScanFile: the status of the open descriptor after the read (`read_stat`), and whether it is the
  // one it had before the read (same device, inode, size, mtime, ctime): the identity of exactly
  // the bytes scanned, whatever the path points at meanwhile. The scan cache records a report only
  // under it (scan/cache.h).
  bool read_stable = false;
  struct stat read_stat {};
  // ScanFile: the file is on a local disk file system whose times the kernel itself keeps (ext2/3/4,
  // xfs, btrfs, f2fs, zfs, bcachefs, jfs, reiserfs, nilfs2: fstatfs). Not so on FAT or exFAT (ctime
  // is a creation time that writes do not change), tmpfs (writes through a shared mapping change no
  // time), FUSE, NFS or SMB (a server reports the times), or overlays. The scan cache records only
  // such files (scan/cache.h).
  bool kernel_times = false;
  // A YARA rule set that imports the time module scanned it: its verdict may change with the date,
  // so the scan cache never records it.
  bool clock_dependent = false;
  // A member was named after this file's name (a raw compressed stream, SZDD, KWAJ:
  // WalkStats::named_after_top): its findings depend on that name too (scan/memo.h).
  bool named_after_top = false;
  bool detected() const;  // a finding other than a heuristic limit note
};

struct ScanOptions {
  // Every cap, with clamscan's defaults: file size, bytes extracted per top-level file, depth,
  // members per container, time per top-level file, compression ratio (container.h).
  ContainerLimits limits;
  // Every file's report carries its SHA-256 (FileReport::sha256), as --json and the scan cache
  // need. Off, a file is hashed only when something needs it: a database that looks digests up,
  // a finding (each carries it), or the caller (ContentDigest). Off changes no verdict.
  bool file_digests = true;
  // Members of containers with the same bytes and externals key as one scanned earlier by this
  // engine get its YARA outcome unscanned (scan/member_memo.h). Off (--scan-duplicates), every
  // member is scanned. Changes no verdict (a member answered so is not cut short by its time
  // limit: its outcome is the complete one).
  bool share_member_scans = true;
};

class Engine {
 public:
  // Hash signatures from any number of databases; YARA rules from any number of rule sets
  // (each database's compiled rules and any compiled from files).
  Engine(std::vector<std::shared_ptr<const Database>> dbs, std::vector<std::shared_ptr<const YaraRules>> yara,
         ScanOptions options);
  ~Engine();
  Engine(Engine&&) noexcept;

  class Worker;  // a thread's scratch state: its YARA scanners, TLSH hasher and read buffer
  struct WorkerDeleter {
    void operator()(Worker* w) const;
  };
  using WorkerPtr = std::unique_ptr<Worker, WorkerDeleter>;
  WorkerPtr NewWorker() const;

  FileReport ScanFile(Worker& worker, const std::string& path) const;
  // A descriptor opened by someone else (clamd's FILDES): read with pread from offset 0, its own
  // offset left as it is, not closed. `path` is what the report and YARA's externals name.
  FileReport ScanFd(Worker& worker, int fd, const std::string& path) const;

  // ScanFile in steps, for a caller that may answer for a file from another with the same bytes
  // (scan/memo.h). ReadFile opens and reads the file into the worker: the report has its path,
  // size, owner and stat; `*read` false means the report is already final (an error, or over
  // --max-filesize). Then, on what was read: ContentDigest is its SHA-256 (32 bytes; the scan
  // reuses it), ExternalsKey what the YARA rules can tell of its path and owner
  // (YaraScanner::ExternalsKey of each rule set), and ScanRead finishes the report. Two files with
  // the same digest and externals key get the same findings but for the path that starts each
  // finding's (and for the clock: scan::Recordable reports only).
  // `named`: the path was given by the user (a symbolic link there is followed, as ScanFile
  // does); otherwise it was met in a walk, and a symbolic link found there now (swapped in since
  // the walk's stat) is an error, not read: a user who can write the tree must not make the
  // scanner read, hash and name under their path a file it would not walk into.
  FileReport ReadFile(Worker& worker, const std::string& path, bool named, bool* read) const;
  // ReadFile of a file met in a walk, opened as `rel` under the directory `dirfd` (fs::OpenBeneath:
  // no symbolic link followed anywhere on the way, so a directory of the tree swapped for one
  // since the walk cannot lead the scan out of it; that is an error, not read). `path` names it.
  FileReport ReadFileBeneath(Worker& worker, int dirfd, const std::string& rel, const std::string& path,
                             bool* read) const;
  std::string ContentDigest(Worker& worker) const;
  std::string ExternalsKey(Worker& worker, const FileReport& report) const;
  void ScanRead(Worker& worker, FileReport& report) const;
  // Forgets what ReadFile read without scanning it (the worker's buffer shrinks if it is huge).
  void DropRead(Worker& worker) const;
  // False if some YARA rule set reads `filepath` other than through predicates: then no two paths
  // share an externals key, and a memo could never answer.
  bool PathsCanShareKeys() const;
  // Scans bytes that did not come from a file of their own (a stream, a test).
  FileReport ScanBuffer(Worker& worker, ByteView data, const std::string& display_path) const;
  // Reads `fd` (a pipe, a terminal, a file: `accord scan -` gives standard input) from where it is
  // to its end with read(2), and scans what it read as ScanBuffer does. More than
  // ScanOptions::limits.max_file_size bytes: the limit's finding, as for a file over it, nothing
  // scanned (the rest is read and dropped, as clamscan reads all of it: its writer is not cut
  // off). A read error: the report's error.
  FileReport ScanStream(Worker& worker, int fd, const std::string& display_path) const;

  const ScanOptions& options() const { return options_; }
  // Whether this engine has a member memo (ScanOptions::share_member_scans and YARA rules), and
  // how many members it answered so far.
  bool shares_member_scans() const;
  uint64_t shared_member_scans() const;
  size_t signature_count() const;

 private:
  // False if the item is allow-listed (.fp/.sfp): then nothing is reported for it, nor for
  // anything inside it (ScanTree), as ClamAV treats an allow-listed file as clean with its members.
  // `top`: the item is the file or buffer itself (ScanTree's first), whose SHA-256 the report
  // carries.
  bool ScanItem(Worker& w, ByteView data, bool top, const std::string& path, const YaraExternals& ext,
                FileReport& report) const;
  void ScanTree(Worker& w, ByteView data, const std::string& display_path, const YaraExternals& top,
                FileReport& report) const;
  FileReport ReadFd(Worker& w, int fd, const std::string& path, bool* read) const;
  static YaraExternals TopExternals(const FileReport& report);
  // YaraScanner::ExternalsKey of each of the worker's rule sets, length-prefixed.
  static std::string KeyOf(Worker& w, const YaraExternals& ext);

  bool Wants(HashKind kind) const;
  void Cite(FileReport& report) const;  // marks the findings whose source is a log statement

  std::vector<std::shared_ptr<const Database>> dbs_;
  std::vector<std::shared_ptr<const YaraRules>> yara_;
  ScanOptions options_;
  bool tlsh_ = false;          // some database has TLSH signatures: every item is TLSH-hashed
  bool hash_lookups_ = false;  // some database has hash or allow-list records: every item is hashed
  std::unordered_set<std::string> log_sources_;  // names of the databases' kLogEntry sources
  std::unique_ptr<MemberMemo> member_memo_;      // null: every member is scanned
};

}  // namespace accord::scan
