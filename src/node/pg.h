// libpq in small owned pieces, for the node's PostgreSQL parts (pg_store.h, pg_lease.h): a
// connection whose statements are prepared once and run with binary parameters and results, a
// bounded pool of such connections, and the schema they share.
//
// Every statement is sent with its parameters apart from its text (PQprepare/PQexecPrepared):
// no data is ever spliced into SQL. The one identifier that is (the schema's name, in CREATE
// SCHEMA) is checked by ValidSchemaName first.
// Errors carry PostgreSQL's own message: Unavailable when the connection is lost or cannot be
// made (retry later; the pool drops the connection), Internal for anything else.
// Thread-safety: a PgConn is used by one thread at a time; PgPool is safe to call from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "node/libpq.h"

namespace accord::node::pg {

// The version of the schema below that this accord writes; a database whose schema is newer is
// refused, never downgraded.
inline constexpr int kSchemaVersion = 5;
// Every connection: the server ends a session idle inside a transaction for this long (a process
// stopped mid-commit), releasing its locks (pg.cc, Conn::Connect).
inline constexpr int kIdleInTransactionMs = 5000;
// Lease operations wait at most this long for the lease row's lock, then fail (and are retried):
// a takeover is not held up by a holder stuck in a commit (pg_lease.cc).
inline constexpr int kLeaseLockTimeoutMs = 1000;

// [a-z_][a-z0-9_]* of at most 63 bytes (PostgreSQL's identifier limit), so it needs no quoting
// rules beyond double quotes.
bool ValidSchemaName(std::string_view name);

// libpq's functions (libpq.h): loaded by the first Conn::Connect, so used only where a connection
// or a result exists.
inline const LibPq& Pq() {
  return LibPq::Get();
}

struct ResultDeleter {
  void operator()(PGresult* r) const { Pq().clear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;
struct ConnDeleter {
  void operator()(PGconn* c) const { Pq().finish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

// The parameters of one statement ($1, $2, ... in order), sent in binary.
class Params {
 public:
  Params& Int64(int64_t v);   // int8
  Params& Bytes(ByteView v);  // bytea
  Params& Text(std::string_view v);

  int size() const { return int(values_.size()); }
  const std::vector<Oid>& types() const { return types_; }
  // Pointers, lengths and formats for libpq; valid while this object is unchanged.
  void Arrays(std::vector<const char*>& values, std::vector<int>& lengths, std::vector<int>& formats) const;

 private:
  std::vector<std::string> values_;
  std::vector<Oid> types_;
};

// A result's rows, read as the binary values PostgreSQL sent.
class Rows {
 public:
  explicit Rows(ResultPtr r) : r_(std::move(r)) {}
  int size() const { return Pq().ntuples(r_.get()); }
  bool IsNull(int row, int col) const { return Pq().getisnull(r_.get(), row, col) != 0; }
  // An int2, int4 or int8 column (0 for NULL or any other width).
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const;
  // A bytea or text column's bytes.
  std::string Bytes(int row, int col) const;
  // The number of rows an INSERT, UPDATE or DELETE touched.
  uint64_t Affected() const;

 private:
  ResultPtr r_;
};

class Conn {
 public:
  // Connects with `conninfo` (a libpq connection string or URI) and sets, for the session, in one
  // round trip: the search_path to `schema` (which need not exist yet), the idle-in-transaction
  // timeout (kIdleInTransactionMs), READ COMMITTED as the isolation of every transaction whatever
  // the server's, database's or role's default (accord's transactions are written for it), and,
  // if `lock_timeout_ms` > 0, the lock timeout (else the server's stays).
  static Result<std::unique_ptr<Conn>> Connect(const std::string& conninfo, const std::string& schema,
                                               int lock_timeout_ms = 0);

  // Runs one statement; `what` names it in errors. Statements are prepared on first use and
  // kept, so `sql` SHOULD be one of a fixed set of texts.
  Result<Rows> Exec(std::string_view what, const std::string& sql, const Params& params = {});
  // BEGIN, COMMIT, ROLLBACK and DDL without parameters (simple query protocol).
  Status Run(std::string_view what, const char* sql);
  // Statements that answer no rows (INSERT, UPDATE), sent in pipelines: one round trip for up to
  // a few hundred of them instead of one each. They run in order; the first error stops them and
  // is returned, naming its statement. Use inside Transaction(), so that an error undoes those
  // that ran before it.
  struct Command {
    std::string what;
    const std::string* sql;  // MUST outlive the call
    Params params;
  };
  Status ExecMany(const std::vector<Command>& commands);
  // Runs `body` in a transaction: COMMIT if it returns OK, ROLLBACK (and its Status) if not.
  template <typename F>
  Status Transaction(std::string_view what, F&& body) {
    RETURN_IF_ERROR(Run(what, "BEGIN"));
    Status s = body();
    if (s.ok()) s = Run(what, "COMMIT");
    if (!s.ok()) (void)Run(what, "ROLLBACK");
    return s;
  }
  // After LISTEN (Run): waits at most `timeout_ms` for a notification; true if one or more came
  // (all are consumed), false on timeout. Unavailable if the connection is lost.
  Result<bool> WaitForNotification(int timeout_ms);
  // False once the server or network has dropped the connection.
  bool ok() const { return Pq().status(c_.get()) == CONNECTION_OK; }
  // Connected and outside any transaction: fit for the next caller.
  bool reusable() const {
    return ok() && Pq().transactionStatus(c_.get()) == PQTRANS_IDLE &&
           Pq().pipelineStatus(c_.get()) == PQ_PIPELINE_OFF;
  }

  // Creates the schema and its tables if absent, under an advisory lock so that processes that
  // open the same database at once do not race; checks the schema version.
  Status EnsureSchema(const std::string& schema);

 private:
  explicit Conn(ConnPtr c) : c_(std::move(c)) {}
  Status Error(std::string_view what, const PGresult* r) const;
  // The name under which `sql` is prepared on this connection (preparing it first if new).
  Result<const std::string*> Prepare(std::string_view what, const std::string& sql, const Params& params);

  ConnPtr c_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// At most `max` connections, made when first needed; a caller beyond `max` waits for one.
class Pool {
 public:
  // Checks the schema's name, connects once and creates the schema (Conn::EnsureSchema); that
  // connection is the pool's first. With `create` false, a schema that holds no log (no row in
  // log_meta: no `accord serve --postgres` ever opened it) is NotFound and nothing is created.
  // Its connections are made with Conn::Connect(conninfo, schema, lock_timeout_ms); the first one
  // creates or checks the schema before it takes the lock timeout (the schema check waits for
  // other processes' locks as long as they last).
  static Result<std::unique_ptr<Pool>> Open(std::string conninfo, std::string schema, size_t max,
                                            bool create = true, int lock_timeout_ms = 0);

  // One connection for the duration of a call; back to the pool when destroyed (dropped instead
  // if it broke).
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Conn* operator->() { return c_.get(); }
    Conn& operator*() { return *c_; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> c_;
  };
  Result<Lease> Get();

 private:
  Pool(std::string conninfo, std::string schema, size_t max, int lock_timeout_ms);

  std::string conninfo_, schema_;
  size_t max_;
  int lock_timeout_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t open_ = 0;  // connections made and not dropped, idle or leased
  std::vector<std::unique_ptr<Conn>> idle_;
};

}  // namespace accord::node::pg
