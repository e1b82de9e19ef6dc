// A verified copy of a log in a directory, in the layout it is served in (c2sp.org/tlog-tiles),
// so that any static web server can serve it: `accord mirror`, and the first half of
// `accord update`.
//
// SyncMirror brings DIR up to the source's latest checkpoint and keeps nothing it has not
// checked. In order:
//   1. the source's checkpoint must pass `accept` (signed by the log; the policy's quorum);
//   2. against the checkpoint DIR holds already (if any): same origin, not smaller (a rollback
//      or a replayed old checkpoint is refused), and if the same size, the same root;
//   3. every hash tile of the new tree is checked top down against the new root (tiles that DIR
//      already holds in full are read from DIR, the rest fetched), and the new tree's first
//      OLD-SIZE leaves must hash to the old root: the new checkpoint extends the old one;
//   4. every entry bundle with new entries is fetched and each entry checked against its leaf;
//      `on_entry` sees each new entry, in order;
//   5. only then are the fetched files written (each to a temporary name, renamed into place,
//      the file system synced), and the new checkpoint last, atomically.
// Two checkpoints of one log that cannot both be true (same size and different roots, or a
// newer tree that does not extend the older) are proof that the log showed different views.
// SyncMirror keeps both signed notes in DIR/.accord/conflicts/ for the user to publish, and fails
// (FailedPrecondition, "split view"). Any failure leaves DIR as it was (files beyond DIR's
// checkpoint may remain; they are never trusted without one).
//
// Thread-safety: one SyncMirror per DIR at a time, enforced by a lock on DIR/.accord/lock
// (FailedPrecondition for a second one, in this process or another).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"
#include "update/log_source.h"

namespace accord::update {

struct MirrorOptions {
  // Checks a fetched checkpoint (log signature, cosignature quorum) and returns it parsed. The
  // checkpoint DIR holds already was accepted the same way when it was stored; it is re-checked
  // with `log_key` alone.
  std::function<Result<tlog::VerifiedCheckpoint>(ByteView note)> accept;
  note::Verifier log_key;
  // Each entry beyond DIR's old checkpoint, after its bundle checked; an error stops the sync
  // before anything is written.
  std::function<Status(uint64_t index, ByteView entry)> on_entry;
};

struct MirrorReport {
  uint64_t old_size = 0;  // DIR's checkpoint before (0: DIR had none)
  std::optional<tlog::Hash> old_root;
  tlog::VerifiedCheckpoint checkpoint;  // the one DIR holds now
  uint64_t tiles_fetched = 0;
  uint64_t bundles_fetched = 0;
  uint64_t bytes_fetched = 0;
};

Result<MirrorReport> SyncMirror(LogSource& from, const std::string& dir, const MirrorOptions& options);

// DIR's own checkpoint, checked with `log_key` (NotFound when DIR has none yet).
Result<tlog::VerifiedCheckpoint> ReadMirrorCheckpoint(const std::string& dir, const note::Verifier& log_key);

}  // namespace accord::update
