#include "node/sqlite_store.h"

#include <sqlite3.h>

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "core/bytes.h"
#include "core/canonical_json.h"

namespace accord::node {
namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS statements(
  idx INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, added_us INTEGER NOT NULL,
  kind INTEGER NOT NULL, author BLOB NOT NULL, created TEXT NOT NULL, leaf BLOB NOT NULL,
  retracted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS statements_author ON statements(author, idx);
CREATE INDEX IF NOT EXISTS statements_kind ON statements(kind, idx);
CREATE TABLE IF NOT EXISTS digests(digest BLOB NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY(digest, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS participants(
  key BLOB PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL, contact TEXT NOT NULL,
  idx INTEGER NOT NULL, added_us INTEGER NOT NULL, retracted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS taxii_status(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, poster BLOB NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS taxii_status_poster ON taxii_status(poster, seq);
)sql";

constexpr const char* kRecordColumns = "idx, id, added_us, kind, author, created, leaf, retracted";

Status SqlError(sqlite3* db, std::string_view what) {
  return Internal("index database: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// One connection and its prepared statements.
struct Conn {
  sqlite3* db = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts;

  ~Conn() {
    for (auto& [sql, st] : stmts) sqlite3_finalize(st);
    if (db) sqlite3_close_v2(db);
  }
  Result<sqlite3_stmt*> Prepare(const char* sql) {
    auto it = stmts.find(sql);
    if (it != stmts.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
      return SqlError(db, "prepare");
    stmts.emplace(sql, st);
    return st;
  }
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return Internal("index database: " + m);
    }
    return Status::Ok();
  }
};

// An index written before the time added was kept in microseconds has it in milliseconds, in
// columns named added_ms: checked, renamed and scaled in one write transaction (all of it or
// nothing, once, whoever else opens the file).
constexpr const char* kUpgradeAddedTimes = R"sql(
ALTER TABLE statements RENAME COLUMN added_ms TO added_us;
UPDATE statements SET added_us = added_us * 1000;
ALTER TABLE participants RENAME COLUMN added_ms TO added_us;
UPDATE participants SET added_us = added_us * 1000;
)sql";

Status UpgradeAddedTimes(Conn& c) {
  RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(
        sqlite3_stmt * st,
        c.Prepare("SELECT count(*) FROM pragma_table_info('statements') WHERE name = 'added_ms'"));
    if (sqlite3_step(st) != SQLITE_ROW) return SqlError(c.db, "read the columns of statements");
    const bool old = sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    if (old) RETURN_IF_ERROR(c.Exec(kUpgradeAddedTimes));
    return c.Exec("COMMIT");
  }();
  if (!s.ok()) {
    sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
    return Internal("upgrading the time added to microseconds: " + s.message());
  }
  return Status::Ok();
}

Result<std::unique_ptr<Conn>> OpenConn(const std::string& path, bool write) {
  auto c = std::make_unique<Conn>();
  int flags =
      SQLITE_OPEN_NOMUTEX | (write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
  if (sqlite3_open_v2(path.c_str(), &c->db, flags, nullptr) != SQLITE_OK)
    return Internal(path + ": cannot open the index database: " +
                    (c->db ? sqlite3_errmsg(c->db) : std::string("out of memory")));
  sqlite3_busy_timeout(c->db, 10000);
  if (write) {
    RETURN_IF_ERROR(c->Exec(kSchema));
    RETURN_IF_ERROR(UpgradeAddedTimes(*c));
    RETURN_IF_ERROR(c->Exec("PRAGMA synchronous=NORMAL"));
  }
  return c;
}

void BindBlob(sqlite3_stmt* st, int i, ByteView b) {
  sqlite3_bind_blob(st, i, b.data(), int(b.size()), SQLITE_TRANSIENT);
}
void BindText(sqlite3_stmt* st, int i, std::string_view t) {
  sqlite3_bind_text(st, i, t.data(), int(t.size()), SQLITE_TRANSIENT);
}
std::string ColumnBytes(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  int n = sqlite3_column_bytes(st, i);
  return p ? std::string(static_cast<const char*>(p), size_t(n)) : std::string();
}
crypto::Ed25519PublicKey ColumnKey(sqlite3_stmt* st, int i) {
  crypto::Ed25519PublicKey k{};
  std::string b = ColumnBytes(st, i);
  if (b.size() == k.size()) std::memcpy(k.data(), b.data(), k.size());
  return k;
}

Record ReadRecord(sqlite3_stmt* st) {
  Record r;
  r.index = uint64_t(sqlite3_column_int64(st, 0));
  r.id = HexEncode(ColumnBytes(st, 1));
  r.added_us = sqlite3_column_int64(st, 2);
  r.kind = statement::kAllKinds[size_t(sqlite3_column_int(st, 3)) % std::size(statement::kAllKinds)];
  r.author = ColumnKey(st, 4);
  r.created = ColumnBytes(st, 5);
  r.leaf = ColumnBytes(st, 6);
  r.retracted = sqlite3_column_int(st, 7) != 0;
  return r;
}

Participant ReadParticipant(sqlite3_stmt* st) {
  Participant p;
  p.key = ColumnKey(st, 0);
  p.name = ColumnBytes(st, 1);
  p.country = ColumnBytes(st, 2);
  p.contact = ColumnBytes(st, 3);
  p.index = uint64_t(sqlite3_column_int64(st, 4));
  p.added_us = sqlite3_column_int64(st, 5);
  p.retracted = sqlite3_column_int(st, 6) != 0;
  return p;
}

int KindNumber(statement::Kind k) {
  for (size_t i = 0; i < std::size(statement::kAllKinds); ++i)
    if (statement::kAllKinds[i] == k) return int(i);
  return 0;
}

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  std::mutex write_mu;
  std::unique_ptr<Conn> writer;
  // Read connections, opened as threads need them, at most kMaxReaders (each holds two or three
  // file descriptors; a thousand busy HTTP threads would otherwise hold thousands); past it a
  // reader waits for one to come back.
  static constexpr size_t kMaxReaders = 64;
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Conn>> readers;
  size_t open_readers = 0;

  // A read connection for the duration of one call.
  class Lease {
   public:
    Lease(Impl* impl, std::unique_ptr<Conn> c) : impl_(impl), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) {
        for (auto& [sql, st] : c_->stmts) sqlite3_reset(st);  // ends the read snapshot
        {
          std::lock_guard lock(impl_->pool_mu);
          impl_->readers.push_back(std::move(c_));
        }
        impl_->pool_cv.notify_one();
      }
    }
    Conn* operator->() { return c_.get(); }

   private:
    Impl* impl_;
    std::unique_ptr<Conn> c_;
  };
  Result<Lease> Read() {
    {
      std::unique_lock lock(pool_mu);
      pool_cv.wait(lock, [&] { return !readers.empty() || open_readers < kMaxReaders; });
      if (!readers.empty()) {
        auto c = std::move(readers.back());
        readers.pop_back();
        return Lease(this, std::move(c));
      }
      ++open_readers;  // opened below, outside the lock
    }
    Result<std::unique_ptr<Conn>> c = OpenConn(path, false);
    if (!c.ok()) {
      {
        std::lock_guard lock(pool_mu);
        --open_readers;
      }
      pool_cv.notify_one();
      return c.status();
    }
    return Lease(this, std::move(c).value());
  }

  Status AddOne(const Record& r);
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  ASSIGN_OR_RETURN(impl->writer, OpenConn(path, true));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Result<uint64_t> SqliteStore::Size() {
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c->Prepare("SELECT COALESCE(MAX(idx) + 1, 0) FROM statements"));
  if (sqlite3_step(st) != SQLITE_ROW) return SqlError(c->db, "size");
  return uint64_t(sqlite3_column_int64(st, 0));
}

// The rows that one statement adds besides its own: digests, the participant, retractions.
Status SqliteStore::Impl::AddOne(const Record& r) {
  Conn& c = *writer;
  auto id = HexDecode(r.id);
  if (!id || id->size() != 32) return InvalidArgument("index: record id is not a hex SHA-256");
  ASSIGN_OR_RETURN(sqlite3_stmt * st,
                   c.Prepare("INSERT INTO statements(idx, id, added_us, kind, author, created, leaf) "
                             "VALUES (?, ?, MAX(?, COALESCE((SELECT added_us + 1 FROM statements "
                             "ORDER BY idx DESC LIMIT 1), 0)), ?, ?, ?, ?)"));
  sqlite3_bind_int64(st, 1, int64_t(r.index));
  BindBlob(st, 2, *id);
  sqlite3_bind_int64(st, 3, r.added_us);
  sqlite3_bind_int(st, 4, KindNumber(r.kind));
  BindBlob(st, 5, ByteView(reinterpret_cast<const char*>(r.author.data()), r.author.size()));
  BindText(st, 6, r.created);
  BindBlob(st, 7, r.leaf);
  if (sqlite3_step(st) != SQLITE_DONE) return SqlError(c.db, "insert statement " + std::to_string(r.index));

  // The leaf passed validation before it was logged; its body is read without checking again.
  auto doc = json::Json::parse(r.leaf, nullptr, false);
  if (doc.is_discarded() || !doc.contains("statement")) return DataLoss("index: leaf is not a statement");
  const json::Json& body = doc["statement"]["body"];
  auto add_digest = [&](const std::string& hex) -> Status {
    auto d = HexDecode(hex);
    if (!d) return Status::Ok();
    ASSIGN_OR_RETURN(sqlite3_stmt * ds,
                     c.Prepare("INSERT OR IGNORE INTO digests(digest, idx) VALUES (?, ?)"));
    BindBlob(ds, 1, *d);
    sqlite3_bind_int64(ds, 2, int64_t(r.index));
    if (sqlite3_step(ds) != SQLITE_DONE) return SqlError(c.db, "insert digest");
    return Status::Ok();
  };
  switch (r.kind) {
    case statement::Kind::kHashSet:
      for (const auto& e : body["entries"]) RETURN_IF_ERROR(add_digest(e["digest"].get<std::string>()));
      break;
    case statement::Kind::kRelease:
      for (const auto& e : body["files"]) RETURN_IF_ERROR(add_digest(e["sha256"].get<std::string>()));
      break;
    case statement::Kind::kRegistration: {
      ASSIGN_OR_RETURN(sqlite3_stmt * ps,
                       c.Prepare("INSERT INTO participants(key, name, country, contact, idx, added_us) "
                                 "VALUES (?, ?, ?, ?, ?, (SELECT added_us FROM statements WHERE idx = ?))"));
      BindBlob(ps, 1, ByteView(reinterpret_cast<const char*>(r.author.data()), r.author.size()));
      BindText(ps, 2, body["name"].get<std::string>());
      BindText(ps, 3, body["country"].get<std::string>());
      BindText(ps, 4, body["contact"].get<std::string>());
      sqlite3_bind_int64(ps, 5, int64_t(r.index));
      sqlite3_bind_int64(ps, 6, int64_t(r.index));
      if (sqlite3_step(ps) != SQLITE_DONE) return SqlError(c.db, "insert participant");
      break;
    }
    case statement::Kind::kRetraction: {
      int64_t target = body["index"].get<int64_t>();
      ASSIGN_OR_RETURN(sqlite3_stmt * us, c.Prepare("UPDATE statements SET retracted = 1 WHERE idx = ?"));
      sqlite3_bind_int64(us, 1, target);
      if (sqlite3_step(us) != SQLITE_DONE) return SqlError(c.db, "retract");
      ASSIGN_OR_RETURN(sqlite3_stmt * ps, c.Prepare("UPDATE participants SET retracted = 1 WHERE idx = ?"));
      sqlite3_bind_int64(ps, 1, target);
      if (sqlite3_step(ps) != SQLITE_DONE) return SqlError(c.db, "retract participant");
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

Status SqliteStore::Add(const std::vector<Record>& records) {
  if (records.empty()) return Status::Ok();
  std::lock_guard lock(impl_->write_mu);
  Conn& c = *impl_->writer;
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c.Prepare("SELECT COALESCE(MAX(idx) + 1, 0) FROM statements"));
  if (sqlite3_step(st) != SQLITE_ROW) return SqlError(c.db, "size");
  uint64_t size = uint64_t(sqlite3_column_int64(st, 0));
  sqlite3_reset(st);
  for (size_t i = 0; i < records.size(); ++i)
    if (records[i].index != size + i)
      return FailedPrecondition("index: records must continue the index at " + std::to_string(size) +
                                ", got " + std::to_string(records[i].index));
  RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
  for (const Record& r : records) {
    Status s = impl_->AddOne(r);
    if (!s.ok()) {
      (void)c.Exec("ROLLBACK");
      return s;
    }
  }
  Status s = c.Exec("COMMIT");
  if (!s.ok()) (void)c.Exec("ROLLBACK");
  return s;
}

Result<std::optional<Record>> SqliteStore::Get(uint64_t index) {
  static const std::string sql = std::string("SELECT ") + kRecordColumns + " FROM statements WHERE idx = ?";
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c->Prepare(sql.c_str()));
  if (index > uint64_t(INT64_MAX)) return std::optional<Record>();
  sqlite3_bind_int64(st, 1, int64_t(index));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return std::optional<Record>();
  if (rc != SQLITE_ROW) return SqlError(c->db, "get");
  return std::optional<Record>(ReadRecord(st));
}

Result<std::optional<uint64_t>> SqliteStore::FindId(std::string_view id_hex) {
  auto id = HexDecode(id_hex);
  if (!id || id->size() != 32) return InvalidArgument("a statement id is 64 hex digits");
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c->Prepare("SELECT idx FROM statements WHERE id = ?"));
  BindBlob(st, 1, *id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  if (rc != SQLITE_ROW) return SqlError(c->db, "find id");
  return std::optional<uint64_t>(uint64_t(sqlite3_column_int64(st, 0)));
}

Result<std::vector<Record>> SqliteStore::List(const ListQuery& q) {
  // Four shapes of one query, each with its own cached statement (and index).
  static const std::string base =
      std::string("SELECT ") + kRecordColumns + " FROM statements WHERE idx >= ?1 AND added_us > ?2";
  static const std::string all = base + " ORDER BY idx LIMIT ?5";
  static const std::string by_author = base + " AND author = ?3 ORDER BY idx LIMIT ?5";
  static const std::string by_kind = base + " AND kind = ?4 ORDER BY idx LIMIT ?5";
  static const std::string by_both = base + " AND author = ?3 AND kind = ?4 ORDER BY idx LIMIT ?5";
  const std::string& sql = q.author ? (q.kind ? by_both : by_author) : (q.kind ? by_kind : all);
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c->Prepare(sql.c_str()));
  std::vector<Record> out;
  if (q.from_index > uint64_t(INT64_MAX) || q.limit == 0) return out;
  sqlite3_bind_int64(st, 1, int64_t(q.from_index));
  sqlite3_bind_int64(st, 2, q.added_after_us);
  if (q.author) BindBlob(st, 3, ByteView(reinterpret_cast<const char*>(q.author->data()), q.author->size()));
  if (q.kind) sqlite3_bind_int(st, 4, KindNumber(*q.kind));
  sqlite3_bind_int64(st, 5, int64_t(std::min<size_t>(q.limit, size_t(INT32_MAX))));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadRecord(st));
  if (rc != SQLITE_DONE) return SqlError(c->db, "list");
  return out;
}

Result<std::vector<Record>> SqliteStore::FindDigest(std::string_view digest_hex, size_t limit) {
  auto d = HexDecode(digest_hex);
  if (!d || (d->size() != 16 && d->size() != 20 && d->size() != 32))
    return InvalidArgument("a file digest is 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits");
  static const std::string sql = std::string("SELECT ") + kRecordColumns +
                                 " FROM statements WHERE idx IN (SELECT idx FROM digests WHERE digest = ?1) "
                                 "ORDER BY idx LIMIT ?2";
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st, c->Prepare(sql.c_str()));
  BindBlob(st, 1, *d);
  sqlite3_bind_int64(st, 2, int64_t(std::min<size_t>(limit, size_t(INT32_MAX))));
  std::vector<Record> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadRecord(st));
  if (rc != SQLITE_DONE) return SqlError(c->db, "find digest");
  return out;
}

Result<std::vector<Participant>> SqliteStore::Participants() {
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st,
                   c->Prepare("SELECT key, name, country, contact, idx, added_us, retracted "
                              "FROM participants ORDER BY idx"));
  std::vector<Participant> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadParticipant(st));
  if (rc != SQLITE_DONE) return SqlError(c->db, "participants");
  return out;
}

Result<std::optional<Participant>> SqliteStore::GetParticipant(const crypto::Ed25519PublicKey& key) {
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st,
                   c->Prepare("SELECT key, name, country, contact, idx, added_us, retracted "
                              "FROM participants WHERE key = ?"));
  BindBlob(st, 1, ByteView(reinterpret_cast<const char*>(key.data()), key.size()));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return std::optional<Participant>();
  if (rc != SQLITE_ROW) return SqlError(c->db, "participant");
  return std::optional<Participant>(ReadParticipant(st));
}

Status SqliteStore::KeepStatus(std::string_view id, const crypto::Ed25519PublicKey& poster,
                               std::string_view body, const StatusLimits& limits) {
  const ByteView key(reinterpret_cast<const char*>(poster.data()), poster.size());
  std::lock_guard lock(impl_->write_mu);
  Conn& c = *impl_->writer;
  RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
  auto step = [&c](const char* sql, const std::function<void(sqlite3_stmt*)>& bind) -> Status {
    ASSIGN_OR_RETURN(sqlite3_stmt * st, c.Prepare(sql));
    bind(st);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(c.db, "keep a TAXII status");
  };
  Status s = step("INSERT INTO taxii_status(id, poster, body) VALUES (?, ?, ?)", [&](sqlite3_stmt* st) {
    BindText(st, 1, id);
    BindBlob(st, 2, key);
    BindBlob(st, 3, body);
  });
  if (s.ok())
    s = step(
        "DELETE FROM taxii_status WHERE poster = ?1 AND seq NOT IN "
        "(SELECT seq FROM taxii_status WHERE poster = ?1 ORDER BY seq DESC LIMIT ?2)",
        [&](sqlite3_stmt* st) {
          BindBlob(st, 1, key);
          sqlite3_bind_int64(st, 2, int64_t(limits.per_poster));
        });
  if (s.ok())
    s = step(
        "DELETE FROM taxii_status WHERE seq NOT IN (SELECT seq FROM taxii_status ORDER BY seq DESC LIMIT ?)",
        [&](sqlite3_stmt* st) { sqlite3_bind_int64(st, 1, int64_t(limits.kept)); });
  if (s.ok())
    s = step(
        "DELETE FROM taxii_status WHERE seq IN (SELECT seq FROM (SELECT seq, SUM(length(body)) OVER "
        "(ORDER BY seq DESC) AS running FROM taxii_status) WHERE running > ?)",
        [&](sqlite3_stmt* st) { sqlite3_bind_int64(st, 1, int64_t(limits.bytes)); });
  if (s.ok()) s = c.Exec("COMMIT");
  if (!s.ok()) (void)c.Exec("ROLLBACK");
  return s;
}

Result<std::optional<std::string>> SqliteStore::FindStatus(std::string_view id,
                                                           const crypto::Ed25519PublicKey& poster) {
  ASSIGN_OR_RETURN(auto c, impl_->Read());
  ASSIGN_OR_RETURN(sqlite3_stmt * st,
                   c->Prepare("SELECT body FROM taxii_status WHERE id = ? AND poster = ?"));
  BindText(st, 1, id);
  BindBlob(st, 2, ByteView(reinterpret_cast<const char*>(poster.data()), poster.size()));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return SqlError(c->db, "find a TAXII status");
  return std::optional<std::string>(ColumnBytes(st, 0));
}

}  // namespace accord::node
