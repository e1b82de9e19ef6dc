// Evidence bundles: a detection that a third party can check offline (`accord evidence`).
//
// A bundle names a scanned file (its SHA-256), each detection in it that came from a log
// statement, and, for every statement involved and its author's registration, the log entry's
// bytes with a c2sp.org/tlog-proof@v1 inclusion proof against the cosigned checkpoint the scan
// database was built from. SPEC: docs/evidence.md (the JSON members, as a grammar).
//
// What VerifyEvidence establishes, with nothing but the bundle and the verifier's own policy:
//   - the checkpoint is signed by the policy's log and cosigned by a quorum of its witnesses;
//   - each entry is in that checkpoint's tree at its index (RFC 9162 inclusion);
//   - each statement is signed by its author's key, and that key was registered (the registration
//     entry, also proven) under the name and country the citation shows;
//   - each detection is what its statement says: the digest it lists (md5/sha1/sha256), a TLSH
//     within its threshold, a rule name of its YARA source; and the citation matches;
//   - with the sample (`--file`), that the sample is the file (SHA-256) and that scanning it with
//     only the bundle's statements reproduces every detection.
// What it cannot establish offline: that nothing later in the log retracted a statement (that
// takes the whole log, which `accord update` checks); the report says so.
// Thread-safety: values and functions without shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/database.h"
#include "scan/engine.h"
#include "tlog/policy.h"

namespace accord::update {

inline constexpr std::string_view kEvidenceFormat = "accord/evidence@v1";

struct EvidenceDetection {
  std::string path;                  // the item, as reports print it (escaped): "a.zip!b/x.exe"
  std::string signature;             // signature or rule name
  std::string kind;                  // "md5", "sha1", "sha256", "tlsh" or "yara"
  std::string item_sha256;           // hex; may be empty for a YARA detection of an inner item
  std::string digest;                // hash kinds: the digest that matched; "tlsh": the item's TLSH; else ""
  std::optional<uint32_t> distance;  // "tlsh" only
  uint64_t entry = 0;                // log index of the statement
  std::string citation;              // "log ORIGIN entry I by NAME (CC), checkpoint N"

  bool operator==(const EvidenceDetection&) const = default;
};

struct EvidenceEntry {
  uint64_t index = 0;
  std::string leaf;   // the log entry's bytes: a signed statement (canonical JSON)
  std::string proof;  // c2sp.org/tlog-proof@v1 of `leaf` at `index`, with the cosigned checkpoint

  bool operator==(const EvidenceEntry&) const = default;
};

struct Evidence {
  std::string generator;  // "accord 0.1.0"
  std::string created;    // RFC 3339 UTC, when the bundle was made
  std::string file_path;  // as given, escaped as reports print it
  uint64_t file_size = 0;
  std::string file_sha256;                    // hex
  std::vector<EvidenceDetection> detections;  // at least one
  std::vector<EvidenceEntry> entries;         // by index, each once

  bool operator==(const Evidence&) const = default;
};

// RFC 8785 JSON and a final LF.
Result<std::string> FormatEvidence(const Evidence& evidence);
// Strict: JSON as core/canonical_json.h accepts it, every member known and of its type, hex and
// indices well-formed, entries sorted and unique, every detection's entry present, at most
// limits::kMaxEvidenceSize bytes, kMaxEvidenceDetections and kMaxEvidenceEntries. Checks no
// signature or proof: that is VerifyEvidence's.
Result<Evidence> ParseEvidence(ByteView text);

// Makes the bundle for the cited findings of `report` (a scan of one file with `db`, a database
// that `accord update` built; the entries are read from `mirror_dir`, its DB/log). Findings that
// are not cited (heuristics, local signature files) are left out. FailedPrecondition when the
// database has no provenance or no cited finding, or was built before sources carried the
// registration index; DataLoss when the mirror lacks an entry or a tile.
// The bundle is verified against the database's own policy before it is returned.
Result<Evidence> MakeEvidence(const scan::FileReport& report, const scan::Database& db,
                              const std::string& mirror_dir, int64_t now_unix_seconds);

struct VerifiedDetection {
  EvidenceDetection detection;
  std::string author_name, author_country;  // from the registration, as signed
  std::string author_key;                   // base64 Ed25519 public key
  uint64_t registration = 0;                // log index of the registration
  std::string statement_created;
  bool attested = false;    // node-attested: the log's node signed it for the author (TAXII POST)
  bool reproduced = false;  // the sample was scanned and this detection came out again
};

struct EvidenceReport {
  std::string origin;
  uint64_t checkpoint_size = 0;
  std::string root_hash;                                   // base64
  std::vector<std::pair<std::string, uint64_t>> cosigned;  // policy witness name, timestamp
  std::vector<VerifiedDetection> detections;
  bool sample_checked = false;
};

// Verifies `evidence` against `policy` (above). `sample_path`: the file, to check it is the file
// (SHA-256 and size) and to scan it again with the bundle's statements only (default limits). Errors say
// which check failed: PermissionDenied (signatures, quorum, a statement that does not say what the detection
// claims), DataLoss (an entry not in the tree), InvalidArgument (a malformed part), NotFound
// (a detection the sample does not reproduce).
Result<EvidenceReport> VerifyEvidence(const Evidence& evidence, const tlog::Policy& policy,
                                      const std::optional<std::string>& sample_path = std::nullopt);

}  // namespace accord::update
