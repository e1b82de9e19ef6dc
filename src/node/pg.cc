#include "node/pg.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace accord::node::pg {
namespace {

// Type OIDs of pg_catalog.pg_type (fixed since PostgreSQL 7; catalog/pg_type_d.h is a server
// header that libpq-dev does not ship).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// The tables, in the schema of the connection's search_path (docs/node.md, "PostgreSQL").
// Text that comes from statements (created, names, contact) is bytea, as in SQLite: it is
// stored exactly, NUL bytes included, whatever the database's encoding.
constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS schema_version(
  one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL);
CREATE TABLE IF NOT EXISTS statements(
  idx bigint PRIMARY KEY, id bytea NOT NULL UNIQUE, added_us bigint NOT NULL,
  kind smallint NOT NULL, author bytea NOT NULL, created bytea NOT NULL, leaf bytea NOT NULL,
  retracted boolean NOT NULL DEFAULT false);
CREATE INDEX IF NOT EXISTS statements_author ON statements(author, idx);
CREATE INDEX IF NOT EXISTS statements_kind ON statements(kind, idx);
CREATE TABLE IF NOT EXISTS digests(
  digest bytea NOT NULL, idx bigint NOT NULL, PRIMARY KEY(digest, idx));
CREATE TABLE IF NOT EXISTS participants(
  key bytea PRIMARY KEY, name bytea NOT NULL, country bytea NOT NULL, contact bytea NOT NULL,
  idx bigint NOT NULL, added_us bigint NOT NULL, retracted boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS leases(
  name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS log_meta(
  one boolean PRIMARY KEY DEFAULT true CHECK (one), origin text NOT NULL, vkey text NOT NULL);
CREATE TABLE IF NOT EXISTS submissions(
  id bigserial PRIMARY KEY, owner text NOT NULL, leaf bytea NOT NULL,
  done boolean NOT NULL DEFAULT false, code integer NOT NULL DEFAULT 0,
  message bytea NOT NULL DEFAULT '', idx bigint NOT NULL DEFAULT 0,
  duplicate boolean NOT NULL DEFAULT false, added_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX IF NOT EXISTS submissions_waiting ON submissions(id) WHERE NOT done;
CREATE INDEX IF NOT EXISTS submissions_done ON submissions(owner) WHERE done;
CREATE TABLE IF NOT EXISTS taxii_tokens(
  sha256 text PRIMARY KEY, author bytea NOT NULL, label text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS taxii_status(
  seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, poster bytea NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS taxii_status_poster ON taxii_status(poster, seq);
CREATE TABLE IF NOT EXISTS tree_heads(
  size bigint PRIMARY KEY CHECK (size > 0), root bytea NOT NULL CHECK (octet_length(root) = 32));
)sql";

// What version 3 adds: taxii_tokens holds what tokens.h allows and nothing else (a row written
// around accord, by hand or by another program, is refused by the database itself).
constexpr const char* kTokenChecks = R"sql(
ALTER TABLE taxii_tokens
  ADD CONSTRAINT taxii_tokens_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT taxii_tokens_author CHECK (octet_length(author) = 32),
  ADD CONSTRAINT taxii_tokens_label CHECK (label ~ '^[!-~]{1,64}$');
)sql";

// What version 5 changes: the time added is kept in microseconds (it was milliseconds, in
// columns named added_ms), so that statements logged in one millisecond keep dates close to it.
constexpr const char* kAddedTimesInMicroseconds = R"sql(
ALTER TABLE statements RENAME COLUMN added_ms TO added_us;
UPDATE statements SET added_us = added_us * 1000;
ALTER TABLE participants RENAME COLUMN added_ms TO added_us;
UPDATE participants SET added_us = added_us * 1000;
)sql";

// The advisory lock that serialises schema creation across processes ("accord" in ASCII).
constexpr int64_t kSchemaLock = 0x6163636f7264;

int64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | uint8_t(p[i]);
  if (n < 8 && n > 0 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
  return int64_t(v);
}

std::string Trimmed(const char* m) {
  std::string s = m ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

}  // namespace

bool ValidSchemaName(std::string_view name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Params& Params::Int64(int64_t v) {
  std::string b;
  PutU64(b, uint64_t(v));
  values_.push_back(std::move(b));
  types_.push_back(kInt8Oid);
  return *this;
}

Params& Params::Bytes(ByteView v) {
  values_.emplace_back(v);
  types_.push_back(kByteaOid);
  return *this;
}

Params& Params::Text(std::string_view v) {
  values_.emplace_back(v);
  types_.push_back(kTextOid);
  return *this;
}

void Params::Arrays(std::vector<const char*>& values, std::vector<int>& lengths,
                    std::vector<int>& formats) const {
  values.clear();
  lengths.clear();
  for (const std::string& v : values_) {
    values.push_back(v.data());
    lengths.push_back(int(v.size()));
  }
  formats.assign(values_.size(), 1);
}

int64_t Rows::Int(int row, int col) const {
  int n = Pq().getlength(r_.get(), row, col);
  if (IsNull(row, col) || (n != 2 && n != 4 && n != 8)) return 0;
  return BigEndian(Pq().getvalue(r_.get(), row, col), n);
}

bool Rows::Bool(int row, int col) const {
  return !IsNull(row, col) && Pq().getlength(r_.get(), row, col) == 1 &&
         Pq().getvalue(r_.get(), row, col)[0] != 0;
}

std::string Rows::Bytes(int row, int col) const {
  return std::string(Pq().getvalue(r_.get(), row, col), size_t(Pq().getlength(r_.get(), row, col)));
}

uint64_t Rows::Affected() const {
  const char* n = Pq().cmdTuples(r_.get());
  return n && *n ? std::strtoull(n, nullptr, 10) : 0;
}

Result<std::unique_ptr<Conn>> Conn::Connect(const std::string& conninfo, const std::string& schema,
                                            int lock_timeout_ms) {
  RETURN_IF_ERROR(LibPq::Load().status());
  // expand_dbname: the first "dbname" is the whole conninfo, parsed as libpq parses any.
  const char* keys[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "accord", nullptr};
  ConnPtr c(Pq().connectdbParams(keys, values, 1));
  if (!c) return Unavailable("PostgreSQL: out of memory");
  if (Pq().status(c.get()) != CONNECTION_OK)
    return Unavailable("PostgreSQL: cannot connect: " + Trimmed(Pq().errorMessage(c.get())));
  // NOTICEs ("relation ... already exists, skipping") are for people at a psql prompt.
  Pq().setNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  auto conn = std::unique_ptr<Conn>(new Conn(std::move(c)));
  // - idle_in_transaction_session_timeout: a process that stops in the middle of a transaction
  //   (SIGSTOP, a paused VM, a network cut) would hold its row locks until the server notices the
  //   dead connection, hours later: the sequencer's commit holds the lease row, and every other
  //   process's takeover would wait on it. The server ends such a session after this long instead
  //   (accord's transactions never idle).
  // - default_transaction_isolation: the queue, the fenced commit and the index's writes read
  //   what other processes committed before their locks were granted (READ COMMITTED); under a
  //   default of REPEATABLE READ or SERIALIZABLE they could fail with serialization errors instead.
  // - lock_timeout: only where asked (the lease's connection); '' keeps the server's.
  static const std::string kSession =
      "SELECT set_config('search_path', $1, false), "
      "set_config('idle_in_transaction_session_timeout', $2, false), "
      "set_config('default_transaction_isolation', 'read committed', false), "
      "set_config('lock_timeout', CASE WHEN $3 = '' THEN current_setting('lock_timeout') ELSE $3 END, false)";
  RETURN_IF_ERROR(conn->Exec("set up the session", kSession,
                             Params()
                                 .Text("\"" + schema + "\"")
                                 .Text(std::to_string(kIdleInTransactionMs))
                                 .Text(lock_timeout_ms > 0 ? std::to_string(lock_timeout_ms) : std::string()))
                      .status());
  return conn;
}

Status Conn::Error(std::string_view what, const PGresult* r) const {
  std::string m = r ? Trimmed(Pq().resultErrorMessage(r)) : Trimmed(Pq().errorMessage(c_.get()));
  std::string msg = "PostgreSQL: " + std::string(what) + ": " + m;
  return ok() ? Internal(msg) : Unavailable(msg);
}

Result<const std::string*> Conn::Prepare(std::string_view what, const std::string& sql,
                                         const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "accord_" + std::to_string(prepared_.size());
    ResultPtr r(Pq().prepare(c_.get(), name.c_str(), sql.c_str(), params.size(), params.types().data()));
    if (!r || Pq().resultStatus(r.get()) != PGRES_COMMAND_OK) return Error(what, r.get());
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return &it->second;
}

Result<Rows> Conn::Exec(std::string_view what, const std::string& sql, const Params& params) {
  ASSIGN_OR_RETURN(const std::string* name, Prepare(what, sql, params));
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  params.Arrays(values, lengths, formats);
  ResultPtr r(Pq().execPrepared(c_.get(), name->c_str(), params.size(), values.data(), lengths.data(),
                                formats.data(), /*resultFormat=binary*/ 1));
  ExecStatusType st = r ? Pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return Error(what, r.get());
  return Rows(std::move(r));
}

Status Conn::ExecMany(const std::vector<Command>& commands) {
  std::vector<const std::string*> names;
  for (const Command& c : commands) {
    ASSIGN_OR_RETURN(const std::string* name, Prepare(c.what, *c.sql, c.params));
    names.push_back(name);
  }
  // Bounded, so that the answers to one pipeline fit in the socket's buffers while it is sent.
  constexpr size_t kDepth = 256;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (size_t start = 0; start < commands.size(); start += kDepth) {
    size_t end = std::min(commands.size(), start + kDepth);
    if (Pq().enterPipelineMode(c_.get()) != 1) return Error("enter pipeline mode", nullptr);
    Status first;
    size_t sent = start;
    for (; sent < end; ++sent) {
      const Params& p = commands[sent].params;
      p.Arrays(values, lengths, formats);
      if (Pq().sendQueryPrepared(c_.get(), names[sent]->c_str(), p.size(), values.data(), lengths.data(),
                                 formats.data(), 1) != 1) {
        first = Error(commands[sent].what, nullptr);
        break;
      }
    }
    if (Pq().pipelineSync(c_.get()) != 1 && first.ok()) first = Error("pipeline sync", nullptr);
    // Each command's result is followed by a NULL; a command after a failed one is answered
    // PGRES_PIPELINE_ABORTED; the sync's own result comes last.
    for (size_t i = start; i < sent; ++i) {
      ResultPtr r(Pq().getResult(c_.get()));
      ExecStatusType st = r ? Pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED && first.ok())
        first = Error(commands[i].what, r.get());
      if (!r) break;  // the connection is gone
      ResultPtr end_of_command(Pq().getResult(c_.get()));
    }
    ResultPtr sync(Pq().getResult(c_.get()));
    if (Pq().exitPipelineMode(c_.get()) != 1 && first.ok()) first = Error("leave pipeline mode", nullptr);
    if (!first.ok()) return first;
  }
  return Status::Ok();
}

Result<bool> Conn::WaitForNotification(int timeout_ms) {
  auto drain = [&] {
    bool any = false;
    while (PGnotify* n = Pq().notifies(c_.get())) {
      any = true;
      Pq().freemem(n);
    }
    return any;
  };
  if (Pq().consumeInput(c_.get()) != 1) return Error("wait for notifications", nullptr);
  if (drain()) return true;
  pollfd p{Pq().socket(c_.get()), POLLIN, 0};
  if (p.fd < 0) return Unavailable("PostgreSQL: wait for notifications: no connection");
  int r = poll(&p, 1, timeout_ms);
  if (r < 0 && errno != EINTR) return Internal(std::string("poll: ") + std::strerror(errno));
  if (r > 0 && Pq().consumeInput(c_.get()) != 1) return Error("wait for notifications", nullptr);
  return drain();
}

Status Conn::Run(std::string_view what, const char* sql) {
  ResultPtr r(Pq().exec(c_.get(), sql));
  ExecStatusType st = r ? Pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return Error(what, r.get());
  return Status::Ok();
}

Status Conn::EnsureSchema(const std::string& schema) {
  if (!ValidSchemaName(schema))
    return InvalidArgument("PostgreSQL schema \"" + Printable(schema) + "\": bad name");
  const std::string create_schema = "CREATE SCHEMA IF NOT EXISTS \"" + schema + "\"";
  return Transaction("create the schema", [&]() -> Status {
    RETURN_IF_ERROR(
        Exec("lock the schema", "SELECT pg_advisory_xact_lock($1)", Params().Int64(kSchemaLock)).status());
    RETURN_IF_ERROR(Run("create the schema", create_schema.c_str()));
    RETURN_IF_ERROR(Run("create the tables", kTables));
    ASSIGN_OR_RETURN(Rows inserted_now,
                     Exec("set the schema version",
                          "INSERT INTO schema_version(version) VALUES ($1) ON CONFLICT (one) DO NOTHING "
                          "RETURNING version",
                          Params().Int64(kSchemaVersion)));
    ASSIGN_OR_RETURN(Rows v, Exec("read the schema version", "SELECT version FROM schema_version"));
    int64_t have = v.size() == 1 ? v.Int(0, 0) : 0;
    // Version 2 only added tables (log_meta, submissions), created above. Version 3 checks the
    // rows of taxii_tokens in the database too (a fresh schema gets the checks here). A row that
    // fails them stops the upgrade with PostgreSQL's message: nothing changes. Version 4 only adds
    // tree_heads, created above (a log committed before it has no heads; pg_log.h). Version 5
    // keeps the time added in microseconds (the tables created above already do).
    const bool fresh = have == kSchemaVersion && inserted_now.size() == 1;
    if (have == 1 || have == 2 || fresh) RETURN_IF_ERROR(Run("check the rows of taxii_tokens", kTokenChecks));
    if (have >= 1 && have <= 4)
      RETURN_IF_ERROR(Run("keep the time added in microseconds", kAddedTimesInMicroseconds));
    if ((have >= 1 && have <= 4) || fresh) {
      RETURN_IF_ERROR(Exec("upgrade the schema version", "UPDATE schema_version SET version = $1",
                           Params().Int64(kSchemaVersion))
                          .status());
      have = kSchemaVersion;
    }
    if (have != kSchemaVersion)
      return FailedPrecondition("PostgreSQL schema \"" + schema + "\" is version " + std::to_string(have) +
                                "; this accord reads and writes version " + std::to_string(kSchemaVersion));
    return Status::Ok();
  });
}

Result<std::unique_ptr<Pool>> Pool::Open(std::string conninfo, std::string schema, size_t max, bool create,
                                         int lock_timeout_ms) {
  if (!ValidSchemaName(schema))
    return InvalidArgument(
        "PostgreSQL schema \"" + Printable(schema) +
        "\": want lower-case letters, digits and _ (at most 63, not starting with a digit)");
  // The first connection checks the schema without the lock timeout (EnsureSchema waits for the
  // schema lock and for CREATE INDEX IF NOT EXISTS's table locks behind other processes' writes),
  // then takes it, as every later connection does.
  std::unique_ptr<Pool> pool(new Pool(std::move(conninfo), std::move(schema), max, 0));
  {
    ASSIGN_OR_RETURN(Lease c, pool->Get());
    if (!create) {
      // to_regclass needs no privilege on the table (information_schema would hide one the role
      // cannot read, and call the log absent).
      ASSIGN_OR_RETURN(Rows t, c->Exec("look for the log", "SELECT to_regclass($1) IS NOT NULL",
                                       Params().Text("\"" + pool->schema_ + "\".log_meta")));
      bool has_log = t.size() == 1 && t.Bool(0, 0);
      if (has_log) {
        const std::string rows = "SELECT count(*) FROM \"" + pool->schema_ + "\".log_meta";
        ASSIGN_OR_RETURN(Rows m, c->Exec("read the log's identity", rows));
        has_log = m.Int(0, 0) == 1;
      }
      if (!has_log)
        return NotFound("PostgreSQL schema \"" + pool->schema_ +
                        "\" holds no accord log (is the schema name right? `accord serve --postgres` creates "
                        "the log's)");
    }
    RETURN_IF_ERROR(c->EnsureSchema(pool->schema_));
    if (lock_timeout_ms > 0) {
      RETURN_IF_ERROR(c->Exec("set the lock timeout", "SELECT set_config('lock_timeout', $1, false)",
                              Params().Text(std::to_string(lock_timeout_ms)))
                          .status());
      pool->lock_timeout_ms_ = lock_timeout_ms;
    }
  }
  return pool;
}

Pool::Pool(std::string conninfo, std::string schema, size_t max, int lock_timeout_ms)
    : conninfo_(std::move(conninfo)),
      schema_(std::move(schema)),
      max_(max ? max : 1),
      lock_timeout_ms_(lock_timeout_ms) {}

Pool::Lease::~Lease() {
  if (!c_) return;
  {
    std::lock_guard lock(pool_->mu_);
    if (c_->reusable()) pool_->idle_.push_back(std::move(c_));
    if (c_) pool_->open_--;  // broken: dropped, and another may be made in its place
  }
  pool_->cv_.notify_one();
}

Result<Pool::Lease> Pool::Get() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    open_++;  // a place for the connection made below
  }
  Result<std::unique_ptr<Conn>> c = Conn::Connect(conninfo_, schema_, lock_timeout_ms_);
  if (!c.ok()) {
    {
      std::lock_guard lock(mu_);
      open_--;
    }
    cv_.notify_one();
    return c.status();
  }
  return Lease(this, std::move(c).value());
}

}  // namespace accord::node::pg
