#include "node/pg_store.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "node/pg.h"

namespace accord::node {
namespace {

using pg::Params;
using pg::Rows;

const std::string kRecordSelect =
    "SELECT idx, id, added_us, kind, author, created, leaf, retracted FROM statements ";
const std::string kParticipantSelect =
    "SELECT key, name, country, contact, idx, added_us, retracted FROM participants ";
const std::string kSize = "SELECT COALESCE(MAX(idx) + 1, 0) FROM statements";

ByteView KeyBytes(const crypto::Ed25519PublicKey& k) {
  return ByteView(reinterpret_cast<const char*>(k.data()), k.size());
}

crypto::Ed25519PublicKey KeyAt(const Rows& rows, int row, int col) {
  crypto::Ed25519PublicKey k{};
  std::string b = rows.Bytes(row, col);
  if (b.size() == k.size()) std::memcpy(k.data(), b.data(), k.size());
  return k;
}

// The same numbering as SqliteStore: a kind's position in kAllKinds.
int64_t KindNumber(statement::Kind k) {
  const auto* it = std::find(std::begin(statement::kAllKinds), std::end(statement::kAllKinds), k);
  return it == std::end(statement::kAllKinds) ? 0 : it - std::begin(statement::kAllKinds);
}

std::vector<Record> RecordsOf(const Rows& rows) {
  std::vector<Record> out;
  for (int i = 0; i < rows.size(); ++i) {
    Record r;
    r.index = uint64_t(rows.Int(i, 0));
    r.id = HexEncode(rows.Bytes(i, 1));
    r.added_us = rows.Int(i, 2);
    r.kind = statement::kAllKinds[size_t(rows.Int(i, 3)) % std::size(statement::kAllKinds)];
    r.author = KeyAt(rows, i, 4);
    r.created = rows.Bytes(i, 5);
    r.leaf = rows.Bytes(i, 6);
    r.retracted = rows.Bool(i, 7);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Participant> ParticipantsOf(const Rows& rows) {
  std::vector<Participant> out;
  for (int i = 0; i < rows.size(); ++i)
    out.push_back(Participant{KeyAt(rows, i, 0), rows.Bytes(i, 1), rows.Bytes(i, 2), rows.Bytes(i, 3),
                              uint64_t(rows.Int(i, 4)), rows.Int(i, 5), rows.Bool(i, 6)});
  return out;
}

int64_t Limit(size_t limit) {
  return int64_t(std::min<size_t>(limit, size_t(INT32_MAX)));
}

std::string StringMember(const json::Json& obj, const char* name) {
  if (!obj.is_object()) return "";
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// What a statement adds to the index besides its own row, read from its body (which passed
// validation before it was logged).
struct Derived {
  std::vector<std::string> digests;  // raw bytes of the file digests it lists
  bool registers = false;            // name, country, contact below
  std::string name, country, contact;
  std::optional<int64_t> retracts;  // the index it retracts
};

Result<Derived> Derive(const Record& r) {
  auto doc = json::Json::parse(r.leaf, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("statement"))
    return DataLoss("index: leaf " + std::to_string(r.index) + " is not a statement");
  const json::Json& st = doc["statement"];
  static const json::Json kNone = json::Json::object();
  const json::Json& body = st.is_object() && st.contains("body") ? st["body"] : kNone;
  Derived d;
  auto digests = [&](const char* list, const char* member) {
    if (!body.contains(list) || !body[list].is_array()) return;
    for (const auto& e : body[list])
      if (auto raw = HexDecode(StringMember(e, member)); raw && !raw->empty()) d.digests.push_back(*raw);
  };
  switch (r.kind) {
    case statement::Kind::kHashSet:
      digests("entries", "digest");
      break;
    case statement::Kind::kRelease:
      digests("files", "sha256");
      break;
    case statement::Kind::kRegistration:
      d.registers = true;
      d.name = StringMember(body, "name");
      d.country = StringMember(body, "country");
      d.contact = StringMember(body, "contact");
      break;
    case statement::Kind::kRetraction:
      if (body.contains("index") && body["index"].is_number_unsigned())
        d.retracts = body["index"].get<int64_t>();
      break;
    default:
      break;
  }
  return d;
}

}  // namespace

struct PgStore::Impl {
  explicit Impl(std::unique_ptr<pg::Pool> p) : pool(std::move(p)) {}
  std::unique_ptr<pg::Pool> pool;
  std::mutex write_mu;

  // Runs one query that answers Records.
  Result<std::vector<Record>> Records(std::string_view what, const std::string& sql, const Params& p) {
    ASSIGN_OR_RETURN(auto c, pool->Get());
    ASSIGN_OR_RETURN(Rows rows, c->Exec(what, sql, p));
    return RecordsOf(rows);
  }
};

PgStore::PgStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const PgStoreOptions& options) {
  ASSIGN_OR_RETURN(auto pool,
                   pg::Pool::Open(options.conninfo, options.schema, options.max_connections, options.create));
  return std::unique_ptr<PgStore>(new PgStore(std::make_unique<Impl>(std::move(pool))));
}

Result<uint64_t> PgStore::Size() {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("size", kSize));
  return uint64_t(rows.Int(0, 0));
}

Status PgIndexCommands(const std::vector<Record>& records, std::vector<pg::Conn::Command>& commands) {
  static const std::string insert_statement =
      "INSERT INTO statements(idx, id, added_us, kind, author, created, leaf) VALUES ($1, $2, "
      "GREATEST($3, COALESCE((SELECT added_us + 1 FROM statements ORDER BY idx DESC LIMIT 1), 0)), $4, $5, "
      "$6, "
      "$7)";
  static const std::string insert_digest =
      "INSERT INTO digests(digest, idx) VALUES ($1, $2) ON CONFLICT DO NOTHING";
  static const std::string insert_participant =
      "INSERT INTO participants(key, name, country, contact, idx, added_us) VALUES ($1, $2, $3, $4, $5, "
      "(SELECT added_us FROM statements WHERE idx = $5))";
  static const std::string retract = "UPDATE statements SET retracted = true WHERE idx = $1";
  static const std::string retract_participant = "UPDATE participants SET retracted = true WHERE idx = $1";
  for (const Record& r : records) {
    auto id = HexDecode(r.id);
    if (!id || id->size() != 32) return InvalidArgument("index: record id is not a hex SHA-256");
    ASSIGN_OR_RETURN(Derived d, Derive(r));
    const std::string at = " " + std::to_string(r.index);
    const auto index = int64_t(r.index);
    commands.push_back({"insert statement" + at, &insert_statement,
                        Params()
                            .Int64(index)
                            .Bytes(*id)
                            .Int64(r.added_us)
                            .Int64(KindNumber(r.kind))
                            .Bytes(KeyBytes(r.author))
                            .Bytes(r.created)
                            .Bytes(r.leaf)});
    for (const std::string& digest : d.digests)
      commands.push_back({"insert digest" + at, &insert_digest, Params().Bytes(digest).Int64(index)});
    if (d.registers)
      commands.push_back(
          {"insert participant" + at, &insert_participant,
           Params().Bytes(KeyBytes(r.author)).Bytes(d.name).Bytes(d.country).Bytes(d.contact).Int64(index)});
    if (d.retracts) {
      commands.push_back({"retract" + at, &retract, Params().Int64(*d.retracts)});
      commands.push_back({"retract participant" + at, &retract_participant, Params().Int64(*d.retracts)});
    }
  }
  return Status::Ok();
}

Status PgStore::Add(const std::vector<Record>& records) {
  if (records.empty()) return Status::Ok();
  // Every row the batch adds, worked out before the table is locked.
  std::vector<pg::Conn::Command> commands;
  RETURN_IF_ERROR(PgIndexCommands(records, commands));
  std::lock_guard lock(impl_->write_mu);
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  return c->Transaction("add", [&]() -> Status {
    // Readers go on; another writer (this process or another) waits until COMMIT, then sees
    // the new size.
    RETURN_IF_ERROR(c->Run("lock the index", "LOCK TABLE statements IN SHARE ROW EXCLUSIVE MODE"));
    ASSIGN_OR_RETURN(Rows rows, c->Exec("size", kSize));
    uint64_t size = uint64_t(rows.Int(0, 0));
    for (size_t i = 0; i < records.size(); ++i)
      if (records[i].index != size + i)
        return FailedPrecondition("index: records must continue the index at " + std::to_string(size) +
                                  ", got " + std::to_string(records[i].index));
    return c->ExecMany(commands);
  });
}

Result<std::optional<Record>> PgStore::Get(uint64_t index) {
  if (index > uint64_t(INT64_MAX)) return std::optional<Record>();
  static const std::string sql = kRecordSelect + "WHERE idx = $1";
  ASSIGN_OR_RETURN(auto found, impl_->Records("get", sql, Params().Int64(int64_t(index))));
  if (found.empty()) return std::optional<Record>();
  return std::optional<Record>(std::move(found[0]));
}

Result<std::optional<uint64_t>> PgStore::FindId(std::string_view id_hex) {
  auto id = HexDecode(id_hex);
  if (!id || id->size() != 32) return InvalidArgument("a statement id is 64 hex digits");
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows,
                   c->Exec("find id", "SELECT idx FROM statements WHERE id = $1", Params().Bytes(*id)));
  if (rows.size() == 0) return std::optional<uint64_t>();
  return std::optional<uint64_t>(uint64_t(rows.Int(0, 0)));
}

Result<std::vector<Record>> PgStore::List(const ListQuery& q) {
  if (q.from_index > uint64_t(INT64_MAX) || q.limit == 0) return std::vector<Record>();
  // Four shapes of one query, each prepared once per connection (and each with its index).
  static const std::string base = kRecordSelect + "WHERE idx >= $1 AND added_us > $2";
  static const std::string all = base + " ORDER BY idx LIMIT $3";
  static const std::string by_author = base + " AND author = $3 ORDER BY idx LIMIT $4";
  static const std::string by_kind = base + " AND kind = $3 ORDER BY idx LIMIT $4";
  static const std::string by_both = base + " AND author = $3 AND kind = $4 ORDER BY idx LIMIT $5";
  const std::string& sql = q.author ? (q.kind ? by_both : by_author) : (q.kind ? by_kind : all);
  Params p;
  p.Int64(int64_t(q.from_index)).Int64(q.added_after_us);
  if (q.author) p.Bytes(KeyBytes(*q.author));
  if (q.kind) p.Int64(KindNumber(*q.kind));
  p.Int64(Limit(q.limit));
  return impl_->Records("list", sql, p);
}

Result<std::vector<Record>> PgStore::FindDigest(std::string_view digest_hex, size_t limit) {
  auto d = HexDecode(digest_hex);
  if (!d || (d->size() != 16 && d->size() != 20 && d->size() != 32))
    return InvalidArgument("a file digest is 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits");
  static const std::string sql =
      kRecordSelect + "WHERE idx IN (SELECT idx FROM digests WHERE digest = $1) ORDER BY idx LIMIT $2";
  return impl_->Records("find digest", sql, Params().Bytes(*d).Int64(Limit(limit)));
}

Result<std::vector<Participant>> PgStore::Participants() {
  static const std::string sql = kParticipantSelect + "ORDER BY idx";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("participants", sql));
  return ParticipantsOf(rows);
}

Result<std::optional<Participant>> PgStore::GetParticipant(const crypto::Ed25519PublicKey& key) {
  static const std::string sql = kParticipantSelect + "WHERE key = $1";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("participant", sql, Params().Bytes(KeyBytes(key))));
  std::vector<Participant> found = ParticipantsOf(rows);
  if (found.empty()) return std::optional<Participant>();
  return std::optional<Participant>(std::move(found[0]));
}

Status PgStore::AddToken(const TokenEntry& e) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("add a TAXII token",
                                      "INSERT INTO taxii_tokens(sha256, author, label) VALUES ($1, $2, $3) "
                                      "ON CONFLICT (sha256) DO NOTHING",
                                      Params().Text(e.sha256_hex).Bytes(KeyBytes(e.author)).Text(e.label)));
  if (rows.Affected() == 0) return AlreadyExists("a token with this hash exists");
  return Status::Ok();
}

Result<size_t> PgStore::RevokeTokens(const crypto::Ed25519PublicKey& author) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("revoke TAXII tokens", "DELETE FROM taxii_tokens WHERE author = $1",
                                      Params().Bytes(KeyBytes(author))));
  return size_t(rows.Affected());
}

Result<std::vector<TokenEntry>> PgStore::Tokens() {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("list TAXII tokens",
                                      "SELECT sha256, author, label FROM taxii_tokens ORDER BY added_at"));
  std::vector<TokenEntry> out;
  for (int i = 0; i < rows.size(); ++i)
    out.push_back({rows.Bytes(i, 0), KeyAt(rows, i, 1), rows.Bytes(i, 2)});
  return out;
}

Result<std::optional<crypto::Ed25519PublicKey>> PgStore::FindToken(std::string_view sha256_hex) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows,
                   c->Exec("find a TAXII token", "SELECT author FROM taxii_tokens WHERE sha256 = $1",
                           Params().Text(std::string(sha256_hex))));
  if (rows.size() != 1) return std::optional<crypto::Ed25519PublicKey>();
  return std::optional<crypto::Ed25519PublicKey>(KeyAt(rows, 0, 0));
}

namespace {
constexpr int64_t kTaxiiStatusLock = 0x61636f7264535453;  // "acordSTS"
}  // namespace

Status PgStore::KeepStatus(std::string_view id, const crypto::Ed25519PublicKey& poster, std::string_view body,
                           const StatusLimits& limits) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  const std::string key(KeyBytes(poster));
  return c->Transaction("keep a TAXII status", [&]() -> Status {
    // One writer at a time (every process of the log): the deletes below would otherwise lock rows
    // in different orders in two transactions and deadlock, and the limits be loose. Each delete sees
    // the rows committed before the lock (read committed: Conn::Connect pins it).
    RETURN_IF_ERROR(c->Exec("lock the TAXII statuses", "SELECT pg_advisory_xact_lock($1)",
                            Params().Int64(kTaxiiStatusLock))
                        .status());
    RETURN_IF_ERROR(c->Exec("keep a TAXII status",
                            "INSERT INTO taxii_status(id, poster, body) VALUES ($1, $2, $3)",
                            Params().Text(id).Bytes(key).Bytes(body))
                        .status());
    RETURN_IF_ERROR(c->Exec("drop a poster's oldest TAXII statuses",
                            "DELETE FROM taxii_status WHERE poster = $1 AND seq NOT IN "
                            "(SELECT seq FROM taxii_status WHERE poster = $1 ORDER BY seq DESC LIMIT $2)",
                            Params().Bytes(key).Int64(int64_t(limits.per_poster)))
                        .status());
    RETURN_IF_ERROR(c->Exec("drop the oldest TAXII statuses",
                            "DELETE FROM taxii_status WHERE seq NOT IN "
                            "(SELECT seq FROM taxii_status ORDER BY seq DESC LIMIT $1)",
                            Params().Int64(int64_t(limits.kept)))
                        .status());
    return c
        ->Exec("drop TAXII statuses over the byte limit",
               "DELETE FROM taxii_status WHERE seq IN (SELECT seq FROM (SELECT seq, SUM(length(body)) OVER "
               "(ORDER BY seq DESC) AS running FROM taxii_status) AS r WHERE running > $1)",
               Params().Int64(int64_t(limits.bytes)))
        .status();
  });
}

Result<std::optional<std::string>> PgStore::FindStatus(std::string_view id,
                                                       const crypto::Ed25519PublicKey& poster) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(
      Rows rows, c->Exec("find a TAXII status", "SELECT body FROM taxii_status WHERE id = $1 AND poster = $2",
                         Params().Text(id).Bytes(KeyBytes(poster))));
  if (rows.size() != 1) return std::optional<std::string>();
  return std::optional<std::string>(rows.Bytes(0, 0));
}

}  // namespace accord::node
