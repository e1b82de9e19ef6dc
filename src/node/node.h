// The exchange node's core, without HTTP: statements in, validated, logged, indexed.
//
// A node directory DIR holds:
//   DIR/log/            the transparency log (tlog/log.h); served as is under the HTTP root
//   DIR/node.key        the node's signing key (mode 0600); DIR/node.vkey its verifier key
//   DIR/index.sqlite    the index (sqlite_store.h), derived from the log
//
// With NodeOptions::postgres the log's truth is in PostgreSQL instead (pg_log.h), shared by every
// process of the log, and DIR/log is this process's replica of it (below, "PostgreSQL").
//
// Submit runs Parse (bytes, body, signature) on the caller's thread, then hands the statement
// to one sequencer thread, which checks it against the log's state (statement::Validate with
// the node's registry), finds identical resubmissions, and queues the accepted ones to the log
// in rounds. A commit thread waits for each round to be durable, indexes it in one store
// transaction, and only then answers its callers; the log publishes the checkpoint that covers
// it right after (Sync() waits for it). Nothing refused is logged; nothing
// acknowledged is lost (the log is the source of truth; Open re-indexes what the index lacks).
//
// PostgreSQL (docs/node.md): Submit parses the statement, queues it in the shared database and
// waits for its outcome. One thread per process holds or seeks the sequencer's lease
// (pg_lease.h). The holder validates the queued statements in order against the log's state and
// commits the accepted ones, their index rows and every outcome in one fenced transaction
// (PgLog::Commit): that commit is the acknowledgement. Every process (the holder too) then
// appends the new entries to its DIR/log replica, which it serves; with the same node key each
// replica's checkpoints and tiles are byte for byte the same. When the holder dies, another
// process takes the lease once it expires, catches up and goes on with the queued statements.
// Thread-safety: Submit and the accessors may be called from any number of threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "crypto/note.h"
#include "node/cosigner.h"
#include "node/store.h"
#include "statement/statement.h"
#include "tlog/checkpoint.h"

namespace accord::node {

struct Accepted {
  uint64_t index = 0;
  std::string id;          // hex SHA-256 of the leaf
  bool duplicate = false;  // an identical statement was already logged at `index`
};

using SubmitCallback = std::function<void(Result<Accepted>)>;

struct NodeCounters {
  std::atomic<uint64_t> accepted{0}, duplicates{0}, refused{0}, rounds{0};
  // PostgreSQL: the epoch of the sequencer's lease while this process holds it, else 0.
  std::atomic<uint64_t> sequencer_epoch{0};
};

// How the Unavailable answers begin once the log failed (nothing more is accepted until the node
// is restarted), unlike a busy or passing Unavailable.
inline constexpr std::string_view kStoppedAccepting = "the node stopped accepting statements";

struct NodeOptions {
  // Keep the log and its index in PostgreSQL (pg_log.h, pg_store.h), shared with the other
  // processes of the log: a libpq connection string or URI. DIR/log is then a replica, and
  // DIR/node.key MUST be the same in every process. With witnesses, every process asks them to
  // cosign its replica's checkpoints (cosigner.h) and publishes what they cosigned.
  std::string postgres;
  std::string postgres_schema = "accord";  // the PostgreSQL schema that holds this log
  // The sequencer's lease: how long a holder that stops renewing (it died) keeps it, so how long
  // the log accepts nothing after its sequencer died. Renewed every third of it.
  std::chrono::milliseconds lease_ttl{5000};
  // How long Submit waits for the sequencer's answer before it gives up (Unavailable; the
  // statement may still be logged later, and resubmitting it is safe).
  std::chrono::milliseconds submit_timeout{30000};
  // Statements parsed and waiting for the sequencer at most (back-pressure): past it Submit and
  // SubmitMany wait for room, SubmitAsync answers Unavailable at once. Not used with PostgreSQL,
  // where submissions wait in the database.
  size_t max_waiting = limits::kMaxWaitingStatements;
  // For tests: called on the sequencer thread each time it finds statements waiting, before it
  // takes them (a test holds it there to fill the queue). Not used with PostgreSQL.
  std::function<void()> before_round;
  // Witnesses to cosign every checkpoint (node/cosigner.h); none: the log's own signature only.
  std::vector<WitnessTarget> witnesses;
  CosignerOptions cosigner;
};

class Node {
 public:
  // Opens the node in `dir`; creates its key, log and index first if `dir` has no log
  // (`origin` is then required: a C2SP log origin such as "example.org/accord"). An `origin`
  // that differs from an existing log's is FailedPrecondition.
  static Result<std::unique_ptr<Node>> Open(const std::string& dir, const std::string& origin,
                                            const NodeOptions& options = {});
  ~Node();  // answers everything submitted, then stops

  // Blocks until the statement is durable and indexed (its checkpoint follows), or refused:
  // InvalidArgument (malformed; a message starting "body" is about the body's content),
  // ResourceExhausted (over 64 KiB), PermissionDenied (signature, unknown or retracted author),
  // AlreadyExists (a YARA rule name the author already uses, a second registration),
  // NotFound (a retraction or finding about no such statement), Unavailable (the log failed:
  // the node accepts nothing more until restarted).
  Result<Accepted> Submit(ByteView leaf);
  // A node-attested statement (statement::Attest): `s` signed with this node's key on its
  // author's behalf, for Submit. The node's TAXII POST makes these for the author a token names;
  // the log takes attestations by its own node key only. InvalidArgument for a bad statement.
  Result<Bytes> Attest(const statement::Statement& s) const;
  // Submit without waiting for the log: Parse (bytes, body, signature) runs on the calling thread,
  // then SubmitAsync returns; `done` is called once with what Submit would have returned: on the
  // calling thread for a statement refused before the sequencer, else on one of the node's
  // threads, where it MUST be quick and MUST NOT call into the node. It never waits for room:
  // with NodeOptions::max_waiting statements queued for the log, the answer is Unavailable at once. With
  // PostgreSQL (SubmitsAsync() false) it waits as Submit does, then calls `done` on the calling thread.
  void SubmitAsync(ByteView leaf, SubmitCallback done);
  bool SubmitsAsync() const;
  // Many statements at once (one HTTP request of NDJSON): each is accepted or refused on its own,
  // in order, as if submitted one after the other; they share rounds of the log.
  std::vector<Result<Accepted>> SubmitMany(std::span<const ByteView> leaves);

  Store& store();
  const std::string& log_dir() const;
  const std::string& origin() const;
  tlog::VerifiedCheckpoint checkpoint() const;
  // Waits until everything acknowledged so far is in a published checkpoint, and returns it.
  Result<tlog::VerifiedCheckpoint> Sync();
  const note::Verifier& verifier() const;
  const NodeCounters& counters() const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The fields of a logged leaf (no signature check: the log only holds validated statements).
Result<Record> RecordFromLeaf(uint64_t index, ByteView leaf, int64_t added_us);

}  // namespace accord::node
