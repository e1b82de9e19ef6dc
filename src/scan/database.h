// The compiled scan database, FILE.accdb: hash signatures, allow-lists, compiled YARA rules and TLSH
// records, each signature linked to its name and to the source it came from.
//
// `accord db build` makes one with DatabaseBuilder; `accord scan` opens it with Database::Open, which
// maps the file read-only and reads only its header, section table and source table, so a database
// of 10,000,000 signatures is ready in well under a millisecond and costs memory only for the pages
// that lookups touch (a lookup touches about two: one of the bucket index, one of records).
// SPEC: docs/scan-database.md (the format as a grammar).
//
// Integrity: the header carries a SHA-256 of the whole file. Open does NOT check it (hashing the
// 630 MB of 10 million signatures takes seconds, the load budget is 0.2 s); it checks the header,
// every section's bounds, sizes and counts, so that no later read can leave the file. A corrupt
// table can therefore open: its lookups stay in bounds, report DataLoss when a record's name is
// outside the name table or malformed, and may otherwise miss or misname.
// Verify() checks the SHA-256 and every structural invariant; `accord db verify` runs it, and a
// scanner SHOULD run it once per new database file before trusting it.
//
// Duplicates: records equal in digest, size and label (name and source) collapse into one. The same
// digest with other names or sources keeps every record, and a lookup reports every one that
// matches, ordered as ClamAV ranks them: specific sizes before "any", and for one size the most
// recently added first (ClamAV keeps only that one: a later line overrides an earlier one). So the
// first match is the name clamscan prints.
//
// TLSH signatures (scan/tlsh.h) live in a table of their own, sorted by the digest's length code
// with an index over it; a lookup visits only the records whose length code is close enough for
// the largest threshold in the table to be reachable (the length term bounds the distance from
// below), and of those computes the full distance only when the quartile ratios do not already
// exceed the record's own threshold. Its cost is linear in the records within that window: with
// thresholds up to about 100 that is the records within 8 of the item's length code, a few
// percent of the table; a threshold of 1000 makes it most of the table.
//
// The file MUST NOT be changed in place while open: it is mapped, and a truncation would fault the
// reader (SIGBUS). DatabaseBuilder::Write replaces it by rename, which open readers never see.
//
// Thread-safety: a Database is immutable after Open; share it (shared_ptr<const Database>) between
// any number of scanning threads. Match values are copies and outlive the Database. A
// DatabaseBuilder is owned by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/sigfile.h"
#include "scan/tlsh.h"

namespace accord::scan {

namespace limits {
// TODO(scan): move to core/limits.h.
inline constexpr uint64_t kMaxDatabaseFileSize = uint64_t{64} << 30;
inline constexpr uint64_t kMaxTableRecords = 1'000'000'000;  // per table (kind x detect/allow)
inline constexpr uint64_t kMaxLabelBytes = 0xFFFFFFFFull;    // names are referenced by u32 offset
// Sources are per signature file, or per log statement (`accord update`): a log of 467,000
// single-hash statements is one database.
inline constexpr size_t kMaxSources = size_t{1} << 24;
inline constexpr size_t kMaxSourceNameLength = 4096;
inline constexpr size_t kMaxSourceFields = 16;
inline constexpr size_t kMaxSourceFieldSize = 64 * 1024;
// Records sharing one digest: the builder refuses more, a lookup reports DataLoss for more, so a
// hostile database cannot make one lookup return millions of matches.
inline constexpr size_t kMaxRecordsPerDigest = 256;
}  // namespace limits

// Where signatures came from. A source has a kind, a display name and opaque fields whose meaning
// the kind fixes. Kinds this version does not know are kept and shown, never interpreted.
enum class SourceKind : uint32_t {
  kSignatureFile = 1,  // name: the file's base name; fields: {SHA-256 of the file (32 bytes)}
  kLogEntry = 2,       // `accord update`: fields {log origin, entry index (u64 big-endian), author's
                       // public key (32 bytes), author's name}; name: the citation (docs/update.md)
};

struct Source {
  uint32_t kind = 0;  // a SourceKind value
  std::string name;
  std::vector<Bytes> fields;

  bool operator==(const Source&) const = default;
};

// A signature-file source: `name` (e.g. "main.hsb") and the SHA-256 of the file's bytes.
Source SignatureFileSource(std::string_view name, ByteView content);

struct Match {
  std::string name;              // the signature's NAME
  uint32_t source = 0;           // index into Database::sources()
  std::optional<uint64_t> size;  // the signature's SIZE; nullopt for "any"

  bool operator==(const Match&) const = default;
};

struct TlshMatch {
  std::string name;        // the signature's NAME
  uint32_t source = 0;     // index into Database::sources()
  uint32_t distance = 0;   // between the item's TLSH and the signature's, <= threshold
  uint32_t threshold = 0;  // the signature's THRESHOLD

  bool operator==(const TlshMatch&) const = default;
};

struct TlshLookup {
  std::vector<TlshMatch> matches;  // nearest first; at most limits::kMaxTlshMatches
  uint64_t more = 0;               // matches beyond the cap, not reported
};

class DatabaseBuilder {
 public:
  DatabaseBuilder();
  ~DatabaseBuilder();
  DatabaseBuilder(const DatabaseBuilder&) = delete;
  DatabaseBuilder& operator=(const DatabaseBuilder&) = delete;

  // Returns the source's index, which AddHash and AddAllowed take.
  [[nodiscard]] Result<uint32_t> AddSource(Source source);
  // A detection signature (.hdb/.hsb line) and an allow-list entry (.fp/.sfp line). The digest
  // length MUST match the kind and the name MUST satisfy IsValidSignatureName (InvalidArgument).
  [[nodiscard]] Status AddHash(uint32_t source, const HashSignature& sig);
  [[nodiscard]] Status AddAllowed(uint32_t source, const HashSignature& sig);
  // The same without building a HashSignature (bulk callers).
  [[nodiscard]] Status Add(HashFileRole role, uint32_t source, HashKind kind, ByteView digest,
                           std::optional<uint64_t> size, std::string_view name);
  // A TLSH signature (.tlsh line). The threshold MUST be at most limits::kMaxTlshThreshold and the
  // name MUST satisfy IsValidSignatureName (InvalidArgument). Records equal in digest, threshold and
  // label collapse into one.
  [[nodiscard]] Status AddTlsh(uint32_t source, const TlshSignature& sig);

  // Leaves every signature of `source` out of the database that Build makes (the source itself
  // stays listed): a statement retracted after its signatures were added.
  [[nodiscard]] Status DropSource(uint32_t source);

  void SetYaraBlob(Bytes blob) { yara_ = std::move(blob); }  // yr_rules_save output, opaque here
  // Where the whole database came from, as `accord update` records it (update/provenance.h);
  // opaque here. A database without one did not come from a verified update.
  void SetProvenance(Bytes blob) { provenance_ = std::move(blob); }

  // The whole file image. May be called more than once.
  [[nodiscard]] Result<Bytes> Build();
  // Build, then write durably and atomically (fs::WriteFileAtomic): readers see the old file or the
  // new one, never a torn one.
  [[nodiscard]] Status Write(const std::string& path);

 private:
  struct State;
  std::unique_ptr<State> s_;
  Bytes yara_;
  Bytes provenance_;
};

// Reads a hash signature file, adds it as a kSignatureFile source (base name + SHA-256) and adds its
// lines as detections (.hdb, .hsb) or allow-list entries (.fp, .sfp), chosen by extension. Errors
// name the file and line. After an error the builder holds part of the file: discard it.
[[nodiscard]] Status AddHashFile(DatabaseBuilder& builder, const std::string& path);
// The same for a TLSH signature file (.tlsh): one kSignatureFile source, every line a signature.
[[nodiscard]] Status AddTlshFile(DatabaseBuilder& builder, const std::string& path);

class Database {
 public:
  // Maps `path` (MAP_PRIVATE, PROT_READ, MADV_RANDOM) and checks its structure; see above.
  // Errors: NotFound, DataLoss (not an accord database, or corrupt), ResourceExhausted (limits).
  [[nodiscard]] static Result<std::shared_ptr<const Database>> Open(const std::string& path);
  // The same over bytes in memory (tests, fuzzing); `name` is used in errors.
  [[nodiscard]] static Result<std::shared_ptr<const Database>> OpenBytes(Bytes image, std::string name);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Detections for a file with this digest and size. `digest` MUST be DigestLength(kind) bytes
  // (InvalidArgument otherwise). Empty: no match. DataLoss: the database is corrupt here.
  [[nodiscard]] Result<std::vector<Match>> LookupHash(HashKind kind, ByteView digest,
                                                      uint64_t file_size) const;
  // True if an allow-list (.fp/.sfp) entry covers this digest and size. A wrong digest length or a
  // corrupt table answers false.
  bool IsAllowed(HashKind kind, ByteView digest, uint64_t file_size) const;
  // True if any detection or allow-list entry of this kind exists: the scanner computes only the
  // digests it needs.
  bool HasKind(HashKind kind) const;

  uint64_t SignatureCount(HashKind kind) const;  // detection records
  uint64_t AllowedCount(HashKind kind) const;    // allow-list records

  // TLSH signatures within their threshold of `digest`, nearest first (for one distance, in table
  // order), at most limits::kMaxTlshMatches. DataLoss: the database is corrupt here (a record's
  // label is not a name, or its threshold is above the table's maximum).
  [[nodiscard]] Result<TlshLookup> LookupTlsh(const TlshDigest& digest) const;
  uint64_t TlshCount() const { return tlsh_.count; }  // TLSH records
  const std::vector<Source>& sources() const { return sources_; }
  ByteView yara_blob() const { return yara_; }
  // For a scanner that has copied `part` of this database elsewhere (YaraRules::Load copies
  // yara_blob() into libyara's memory): drops the whole pages inside `part` from this process's
  // resident memory (madvise MADV_DONTNEED on the mapping). They stay in the page cache; reading
  // them again faults them back in, the same bytes. Otherwise the rules would count twice in the
  // scanner's memory. No effect on a database opened from bytes, or if `part` is not in the image.
  void ReleasePages(ByteView part) const;
  ByteView provenance() const { return provenance_; }  // empty: none (see SetProvenance)
  const std::string& name() const { return name_; }
  uint64_t file_size() const { return image_.size(); }
  // The SHA-256 of the whole file that its header carries (32 bytes): the database's identity,
  // read without hashing the file. Open does not check it against the contents; Verify does.
  ByteView header_sha256() const;

  // Checks the SHA-256 over the file and every invariant: records sorted and unique, the bucket
  // indexes exact, every record's label a well-formed name with a valid source. DataLoss names the
  // first problem. Reads the whole file.
  [[nodiscard]] Status Verify() const;

 private:
  struct Table {
    ByteView index;    // (2^bits + 1) little-endian u32
    ByteView records;  // count * record_size
    uint64_t count = 0;
    uint32_t bits = 0;
    size_t digest_size = 0, record_size = 0;
  };
  struct Mapping;

  Database() = default;
  static Result<std::shared_ptr<const Database>> Init(std::unique_ptr<Database> db);
  Status Lookup(const Table& t, ByteView digest, uint64_t file_size, std::vector<Match>* out,
                bool* any) const;
  Status VerifyTable(const Table& t, std::string_view what, const std::vector<bool>& label_starts) const;
  struct TlshTable {
    ByteView index;    // 257 little-endian u32: index[l] = first record with length code >= l
    ByteView records;  // count * kTlshRecordSize
    uint64_t count = 0;
    uint32_t max_threshold = 0;
  };
  Status VerifyTlsh(const std::vector<bool>& label_starts) const;
  // The label at `label` as (name, source); DataLoss naming `what` if it is not a valid one.
  Result<std::pair<ByteView, uint32_t>> LabelAt(uint32_t label, const std::string& what) const;

  std::string name_;
  std::unique_ptr<Mapping> mapping_;  // Open: the file, mapped
  Bytes owned_;                       // OpenBytes: the image
  ByteView image_;                    // one of the two
  ByteView labels_, yara_, provenance_;
  TlshTable tlsh_;
  std::vector<Source> sources_;
  std::array<Table, kHashKindCount> detect_{}, allow_{};
};

}  // namespace accord::scan
