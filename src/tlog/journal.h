// The log's journal (docs/log-format.md, "Durability and recovery"): one record per round of the
// sequencer, appended to DIR/.accord/journal and fdatasync'd before the round's entries are
// acknowledged; emptied once tiles and a checkpoint cover them.
//
//   record  = "ACJ1" first count length payload digest
//   first   = 8 bytes, big-endian: the index of the record's first entry
//   count   = 4 bytes, big-endian, at least 1
//   length  = 4 bytes, big-endian: bytes of payload
//   payload = count entries, each a 2-byte big-endian length and the entry (as in entry bundles)
//   digest  = SHA-256 of the record from "ACJ1" to the end of payload
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.h"
#include "core/limits.h"
#include "core/status.h"

namespace accord::tlog {

// The most payload one record holds, so that a journal left by a crash can always be read back
// whole (limits::kMaxJournalFileSize): LogWriter::Submit refuses larger batches.
inline constexpr size_t kMaxJournalPayload = limits::kMaxJournalFileSize / 2;

// The record for `entries` (at least one, at most kMaxJournalPayload bytes of payload: the caller
// checks) starting at log index `first`.
Bytes EncodeJournalRecord(uint64_t first, const std::vector<ByteView>& entries);

struct JournalRecord {
  uint64_t first = 0;
  std::vector<ByteView> entries;  // views into the parsed data
};
struct ParsedJournal {
  std::vector<JournalRecord> records;
  size_t valid_bytes = 0;  // where the whole records end; anything after is a torn last write
};

// Reads records from the start of `data`. The journal ends (valid_bytes) at a torn last write,
// which was never acknowledged: fewer bytes than a header and digest; all zeros where "ACJ1"
// should be (its first block never reached the disk); a `length` that runs past the end; a digest
// that does not match with nothing after the record. Anything else is DataLoss naming the byte,
// since acknowledged records may follow it: a digest mismatch with bytes after the record, other
// bytes where "ACJ1" should be, a record whose digest matches but that holds no entries or whose
// entries do not fill exactly `length` bytes. Whether records follow each other (first + count)
// is the caller's check: it knows the log.
Result<ParsedJournal> ParseJournal(ByteView data);

}  // namespace accord::tlog
