// `accord update`: a scan database built only from statements of a log that was verified.
//
// The database directory DB holds:
//   DB/log/       a verified mirror of the log (update/mirror.h), servable as is
//   DB/scan.accdb the scan database built from it, which `accord scan -d DB` opens
//   DB/lock       held during an update
// Update syncs DB/log from the source (checkpoint quorum, consistency with what DB trusted,
// every tile and new entry checked), then builds DB/scan.accdb from every statement of the
// mirrored log: each is parsed (canonical form, signature, YARA compiled) and validated in log
// order as the node validates it (registered author, key not retracted, rule names, retraction
// of one's own statements, each statement once: a later entry with the same bytes is refused, so
// a node cannot bring back a retracted statement by logging it again). What loads: hash-set,
// tlsh-set and yara-rule statements that are valid, not retracted, and whose author's key is not
// retracted. Entries that fail are not loaded and are listed in the report (a log can hold them
// only if the node misbehaved).
// Every signature's source is its statement (scan::SourceKind::kLogEntry: origin, index, author);
// the database's provenance section holds the policy and the cosigned checkpoint it came from
// (update/provenance.h), which `accord scan` checks before it trusts the database.
// The new database replaces the old one atomically, after the mirror moved forward. A failure
// while syncing the mirror leaves both as they were; a failure while building leaves the mirror
// ahead and the old database in place (the next update rebuilds it: its provenance names an
// older checkpoint). A statement the database refuses (a limit) is left out and reported, never
// fatal: the log is append-only, and one statement must not stop every scanner's updates.
// Thread-safety: one Update per DB at a time (DB/lock; a second gets FailedPrecondition).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "update/mirror.h"

namespace accord::update {

struct UpdateOptions {
  MirrorOptions mirror;     // accept (the policy's quorum) and the log's key
  std::string policy_text;  // recorded in the database's provenance
  // Load node-attested statements too (TAXII POST: signed by the log's node on an author's
  // behalf, not by the author). Off by default: they are validated and counted, not loaded.
  bool trust_attested = false;
};

struct Rejected {
  uint64_t index;
  std::string reason;
};

struct UpdateReport {
  MirrorReport mirror;
  uint64_t statements = 0;  // entries parsed (the whole log)
  uint64_t loaded = 0;      // statements whose signatures are in the database
  uint64_t retracted = 0;   // statements left out as retracted (or by a retracted key)
  uint64_t hashes = 0, tlsh = 0, yara_rules = 0;
  uint64_t attested_skipped = 0;  // node-attested statements not loaded (no trust_attested)
  std::vector<Rejected> rejected;
  bool rebuilt = false;  // false: nothing new, DB/scan.accdb left as it was
  // Where the time went, in seconds: fetching and checking the log, parsing and validating its
  // statements, building the database (YARA compiled), writing it durably.
  double mirror_seconds = 0, statements_seconds = 0, build_seconds = 0, write_seconds = 0;
};

Result<UpdateReport> Update(LogSource& from, const std::string& db_dir, const UpdateOptions& options);

// The database's paths inside DB.
std::string MirrorDir(const std::string& db_dir);
std::string ScanDatabasePath(const std::string& db_dir);

}  // namespace accord::update
