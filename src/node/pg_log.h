// The log's truth in PostgreSQL, for several `accord serve` processes that share one database
// (docs/node.md, "PostgreSQL"): the entries, the submissions waiting for the sequencer and their
// outcomes, and the log's identity. Each process keeps its own tiles in DIR/log as a replica,
// built from the entries in index order (node.h); this class only moves rows.
//
// Tables (pg.h), in the same PostgreSQL schema as the index (pg_store.h):
//   statements   the index's table is also the log: idx PK, id (SHA-256 of the leaf) UNIQUE, leaf.
//                An entry is in the log once its row is committed, and only Commit writes it.
//   submissions  id bigserial PK, owner (the process that waits for the answer), leaf, done, and
//                once done the outcome: code (a Code), message, idx, duplicate.
//   log_meta     one row: the log's origin and the verifier key of its signer.
//   tree_heads   size PK, root: the RFC 9162 root of the tree of `size` entries, one per Commit
//                that appended (written with its entries), so that a replica checks the whole
//                tree it holds against PostgreSQL's, not only an entry (node.cc, Replicate).
// Commit is fenced (pg_lease.h): in one transaction it locks the lease row, checks that the
// caller still holds it at its epoch and that it has not expired, checks that the entries
// continue the log, then inserts them (with their index rows) and the outcomes. A sequencer that
// lost its lease, however long it was paused, commits nothing.
// Every change to the submissions or the entries sends a notification on one channel of this
// schema, so that waiters (Listen) wake without polling fast.
// Thread-safety: every method may be called from any thread; each call borrows a connection from
// a small pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "node/pg.h"
#include "node/record.h"

namespace accord::node {

struct PgLogOptions {
  std::string conninfo;           // a libpq connection string or URI (pg_store.h)
  std::string schema = "accord";  // created if absent
  size_t max_connections = 4;
};

// Who writes: the lease (pg_lease.h) a sequencer holds.
struct Fence {
  std::string lease = "sequencer";
  std::string holder;
  uint64_t epoch = 0;
  // If positive, a commit also renews the lease for this long (as PgLease::Renew), so that a
  // sequencer busy with long rounds keeps it.
  std::chrono::milliseconds renew{0};
};

struct Submission {
  int64_t id = 0;
  std::string leaf;
};

struct TreeHead {
  uint64_t size = 0;
  std::string root;  // 32 bytes
};

struct Outcome {
  int64_t id = 0;  // the submission's
  Status status;   // OK: logged at `index`
  uint64_t index = 0;
  bool duplicate = false;  // an identical statement was already logged at `index`
};

class PgLog {
 public:
  static Result<std::unique_ptr<PgLog>> Open(const PgLogOptions& options);
  ~PgLog();

  // Records the log's origin and verifier key on first use; FailedPrecondition if the database
  // already holds another log's (every process of one log MUST sign with the same key).
  Status Claim(const std::string& origin, const std::string& verifier_key);

  // Entries committed: 0 .. Size()-1.
  Result<uint64_t> Size();
  // The leaves from `from` on, at most `limit`, in index order. DataLoss if they do not start at
  // `from` or have a gap.
  Result<std::vector<std::string>> Entries(uint64_t from, size_t limit);

  // Queues leaves for the sequencer in one transaction, in order; their submission ids.
  Result<std::vector<int64_t>> Enqueue(std::string_view owner, std::span<const ByteView> leaves);
  // The oldest submissions without an outcome, in id order.
  Result<std::vector<Submission>> Waiting(size_t limit);
  // Removes and returns the outcomes of `owner`'s submissions.
  Result<std::vector<Outcome>> TakeOutcomes(std::string_view owner);
  // Forgets outcomes nobody took for `minutes` (their process died).
  Status PurgeOutcomes(int64_t minutes);

  // The roots a commit of entries states (32 bytes each): of the tree it continues, and of the tree
  // it ends. The caller computes them from its replica.
  struct Roots {
    ByteView from;
    ByteView to;
  };
  // Fenced (above): appends `records` (consecutive, from Size(); with their index rows), records
  // `roots.to` as the head of the tree they end and marks `outcomes`' submissions done, all or
  // nothing. With `records`, `roots` is required. FailedPrecondition if the fence no longer holds
  // or the records do not continue the log; DataLoss if `roots.from` is not the recorded head of
  // the log it continues (the caller's replica is not PostgreSQL's tree), or heads are recorded
  // beyond the log's entries.
  Status Commit(const Fence& fence, const std::vector<Record>& records, const Roots& roots,
                const std::vector<Outcome>& outcomes);

  // The tree head that a replica of `size` entries checks next: the largest recorded size in
  // (size, size + span], else the smallest beyond it; nullopt if no head beyond `size` is recorded
  // (nothing committed since, or only entries committed before schema version 4).
  Result<std::optional<TreeHead>> HeadAfter(uint64_t size, uint64_t span);
  // The largest recorded head of at most `size` entries; nullopt if none.
  Result<std::optional<TreeHead>> HeadAtMost(uint64_t size);

  // A connection of its own that listens to this log's notifications
  // (pg::Conn::WaitForNotification).
  Result<std::unique_ptr<pg::Conn>> Listen();

  struct Impl;

 private:
  explicit PgLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::node
