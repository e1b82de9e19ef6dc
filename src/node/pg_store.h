// The node's index in PostgreSQL: the same Store (store.h) as SqliteStore, for nodes that outgrow
// one machine. Its `statements` table is also the log that several processes share (pg_log.h,
// docs/node.md "PostgreSQL"), which writes it through PgIndexCommands; Add is for a lone writer.
//
// Schema (pg.h, docs/node.md), in its own PostgreSQL schema (default "accord"), created on open:
// schema_version(version), statements(idx PK, id UNIQUE, added_us, kind, author, created, leaf,
// retracted), digests(digest, idx), participants(key PK, name, country, contact, idx, added_us,
// retracted), leases (pg_lease.h), log_meta and submissions (pg_log.h), taxii_tokens and
// taxii_status (TAXII POST's tokens and status resources). Answers are the same as
// SqliteStore's, in the same order.
// Add takes a table lock for its transaction, so a second process that writes the same schema
// waits, then finds the index moved on (FailedPrecondition) instead of interleaving.
// Thread-safety: every method may be called from any thread. Each call borrows a connection from
// a pool of at most `max_connections` (callers beyond that wait); Add calls are serialised.
#pragma once

#include <memory>
#include <string>

#include "node/pg.h"
#include "node/store.h"
#include "node/tokens.h"

namespace accord::node {

struct PgStoreOptions {
  // A libpq connection string or URI ("host=/run/postgresql dbname=accord",
  // "postgresql://user@db.example/accord"); see PostgreSQL's libpq "Connection Strings".
  std::string conninfo;
  // The PostgreSQL schema that holds the tables: [a-z_][a-z0-9_]*, created if absent. Several
  // logs can share one database, each in its own schema.
  std::string schema = "accord";
  size_t max_connections = 8;
  // False: a schema that holds no log is NotFound and nothing is created (for tools that act on
  // an existing log, so that a mistyped name does not make an empty schema).
  bool create = true;
};

class PgStore : public Store {
 public:
  // Connects, creates the schema if absent (options.create) and checks its version. Unavailable (with
  // PostgreSQL's message) if the server cannot be reached; FailedPrecondition if the schema was
  // written by a newer accord; InvalidArgument for a bad schema name.
  static Result<std::unique_ptr<PgStore>> Open(const PgStoreOptions& options);
  ~PgStore() override;

  Result<uint64_t> Size() override;
  Status Add(const std::vector<Record>& records) override;
  Result<std::optional<Record>> Get(uint64_t index) override;
  Result<std::optional<uint64_t>> FindId(std::string_view id_hex) override;
  Result<std::vector<Record>> List(const ListQuery& query) override;
  Result<std::vector<Record>> FindDigest(std::string_view digest_hex, size_t limit) override;
  Result<std::vector<Participant>> Participants() override;
  Result<std::optional<Participant>> GetParticipant(const crypto::Ed25519PublicKey& key) override;
  Status KeepStatus(std::string_view id, const crypto::Ed25519PublicKey& poster, std::string_view body,
                    const StatusLimits& limits) override;
  Result<std::optional<std::string>> FindStatus(std::string_view id,
                                                const crypto::Ed25519PublicKey& poster) override;

  // TAXII tokens of a log on PostgreSQL (tokens.h), in table taxii_tokens: every process of the
  // log reads the same, so issuing or revoking one acts on all at once. Only hashes are stored.
  Status AddToken(const TokenEntry& entry);                             // AlreadyExists for a known hash
  Result<size_t> RevokeTokens(const crypto::Ed25519PublicKey& author);  // how many there were
  Result<std::vector<TokenEntry>> Tokens();                             // in the order they were issued
  Result<std::optional<crypto::Ed25519PublicKey>> FindToken(std::string_view sha256_hex);

  struct Impl;

 private:
  explicit PgStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The statements (pg.h) that index `records`, appended to `commands`, for a caller that runs them
// in a transaction of its own: the PostgreSQL log (pg_log.h) indexes what it commits in the very
// transaction that commits it. Their SQL texts live for the program's lifetime.
Status PgIndexCommands(const std::vector<Record>& records, std::vector<pg::Conn::Command>& commands);

}  // namespace accord::node
