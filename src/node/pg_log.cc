#include "node/pg_log.h"

#include "node/pg_store.h"

namespace accord::node {
namespace {

using pg::Params;
using pg::Rows;

const std::string kSize = "SELECT COALESCE(MAX(idx) + 1, 0) FROM statements";
const std::string kNotify = "SELECT pg_notify($1, '')";

}  // namespace

struct PgLog::Impl {
  std::string schema, channel;
  std::string conninfo;
  std::unique_ptr<pg::Pool> pool;
};

PgLog::PgLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgLog::~PgLog() = default;

Result<std::unique_ptr<PgLog>> PgLog::Open(const PgLogOptions& options) {
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->pool, pg::Pool::Open(options.conninfo, options.schema, options.max_connections));
  impl->schema = options.schema;
  impl->conninfo = options.conninfo;
  // Channels are per database and at most 63 bytes; a shared prefix only wakes others for nothing.
  impl->channel = options.schema.substr(0, 48) + "_accord_log";
  return std::unique_ptr<PgLog>(new PgLog(std::move(impl)));
}

Status PgLog::Claim(const std::string& origin, const std::string& verifier_key) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  RETURN_IF_ERROR(c->Exec("claim the log",
                          "INSERT INTO log_meta(origin, vkey) VALUES ($1, $2) ON CONFLICT (one) DO NOTHING",
                          Params().Text(origin).Text(verifier_key))
                      .status());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("read the log's identity", "SELECT origin, vkey FROM log_meta"));
  if (rows.size() != 1) return Internal("PostgreSQL: log_meta has no row");
  std::string have_origin = rows.Bytes(0, 0), have_key = rows.Bytes(0, 1);
  if (have_origin != origin)
    return FailedPrecondition("PostgreSQL schema \"" + impl_->schema + "\" holds the log \"" + have_origin +
                              "\", not \"" + origin + "\"");
  if (have_key != verifier_key)
    return FailedPrecondition("PostgreSQL schema \"" + impl_->schema + "\" holds a log signed by " +
                              have_key + ", not by " + verifier_key +
                              ": every process of one log needs the same node.key");
  return Status::Ok();
}

Result<uint64_t> PgLog::Size() {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("log size", kSize));
  return uint64_t(rows.Int(0, 0));
}

Result<std::vector<std::string>> PgLog::Entries(uint64_t from, size_t limit) {
  if (from > uint64_t(INT64_MAX)) return std::vector<std::string>();
  static const std::string sql = "SELECT idx, leaf FROM statements WHERE idx >= $1 ORDER BY idx LIMIT $2";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows,
                   c->Exec("read entries", sql, Params().Int64(int64_t(from)).Int64(int64_t(limit))));
  std::vector<std::string> out;
  for (int i = 0; i < rows.size(); ++i) {
    if (uint64_t(rows.Int(i, 0)) != from + uint64_t(i))
      return DataLoss("PostgreSQL: the log has no entry " + std::to_string(from + uint64_t(i)) + " but has " +
                      std::to_string(rows.Int(i, 0)));
    out.push_back(rows.Bytes(i, 1));
  }
  return out;
}

Result<std::vector<int64_t>> PgLog::Enqueue(std::string_view owner, std::span<const ByteView> leaves) {
  static const std::string sql = "INSERT INTO submissions(owner, leaf) VALUES ($1, $2) RETURNING id";
  std::vector<int64_t> ids;
  if (leaves.empty()) return ids;
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  RETURN_IF_ERROR(c->Transaction("submit", [&]() -> Status {
    for (ByteView leaf : leaves) {
      ASSIGN_OR_RETURN(Rows rows, c->Exec("submit", sql, Params().Text(owner).Bytes(leaf)));
      ids.push_back(rows.Int(0, 0));
    }
    return c->Exec("notify", kNotify, Params().Text(impl_->channel)).status();
  }));
  return ids;
}

Result<std::vector<Submission>> PgLog::Waiting(size_t limit) {
  static const std::string sql = "SELECT id, leaf FROM submissions WHERE NOT done ORDER BY id LIMIT $1";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("read submissions", sql, Params().Int64(int64_t(limit))));
  std::vector<Submission> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(Submission{rows.Int(i, 0), rows.Bytes(i, 1)});
  return out;
}

Result<std::vector<Outcome>> PgLog::TakeOutcomes(std::string_view owner) {
  static const std::string sql =
      "DELETE FROM submissions WHERE owner = $1 AND done RETURNING id, code, message, idx, duplicate";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("take outcomes", sql, Params().Text(owner)));
  std::vector<Outcome> out;
  for (int i = 0; i < rows.size(); ++i) {
    Outcome o;
    o.id = rows.Int(i, 0);
    int64_t code = rows.Int(i, 1);
    if (code != 0) {
      Code c = code > 0 && code <= int64_t(Code::kUnimplemented) ? Code(code) : Code::kInternal;
      o.status = Status(c, rows.Bytes(i, 2));
    }
    o.index = uint64_t(rows.Int(i, 3));
    o.duplicate = rows.Bool(i, 4);
    out.push_back(std::move(o));
  }
  return out;
}

Status PgLog::PurgeOutcomes(int64_t minutes) {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  return c
      ->Exec("purge outcomes",
             "DELETE FROM submissions WHERE done AND added_at < clock_timestamp() - $1::float8 * interval '1 "
             "minute'",
             Params().Int64(minutes))
      .status();
}

Status PgLog::Commit(const Fence& fence, const std::vector<Record>& records, const Roots& roots,
                     const std::vector<Outcome>& outcomes) {
  if (!records.empty() && (roots.from.size() != 32 || roots.to.size() != 32))
    return InvalidArgument(
        "a commit of entries needs the roots of the trees it continues and ends: nothing committed");
  // The lease row stays locked until COMMIT: a new holder's Acquire waits for it, then sees these
  // entries. Renewing (or not: + 0 ms keeps expires_at as the check found it) is the same UPDATE.
  static const std::string fence_sql =
      "UPDATE leases SET expires_at = GREATEST(expires_at, clock_timestamp() + $4::float8 * interval '1 "
      "millisecond') WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp() "
      "RETURNING epoch";
  static const std::string outcome_sql =
      "UPDATE submissions SET done = true, code = $2, message = $3, idx = $4, duplicate = $5 <> 0 "
      "WHERE id = $1 AND NOT done";
  std::vector<pg::Conn::Command> commands;
  RETURN_IF_ERROR(PgIndexCommands(records, commands));
  for (const Outcome& o : outcomes)
    commands.push_back({"outcome " + std::to_string(o.id), &outcome_sql,
                        Params()
                            .Int64(o.id)
                            .Int64(int64_t(o.status.code()))
                            .Bytes(o.status.message())
                            .Int64(int64_t(o.index))
                            .Int64(o.duplicate ? 1 : 0)});
  static const std::string head_sql = "INSERT INTO tree_heads(size, root) VALUES ($1, $2)";
  if (!records.empty())
    commands.push_back(
        {"tree head", &head_sql, Params().Int64(int64_t(records.back().index + 1)).Bytes(roots.to)});
  commands.push_back({"notify", &kNotify, Params().Text(impl_->channel)});
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  return c->Transaction("commit", [&]() -> Status {
    ASSIGN_OR_RETURN(Rows held, c->Exec("check the lease", fence_sql,
                                        Params()
                                            .Text(fence.lease)
                                            .Text(fence.holder)
                                            .Int64(int64_t(fence.epoch))
                                            .Int64(fence.renew.count())));
    if (held.size() != 1)
      return FailedPrecondition("lease \"" + fence.lease + "\" is no longer held by \"" + fence.holder +
                                "\" at epoch " + std::to_string(fence.epoch) + ": nothing committed");
    if (!records.empty()) {
      const uint64_t first = records.front().index;
      ASSIGN_OR_RETURN(Rows size, c->Exec("log size", kSize));
      if (uint64_t(size.Int(0, 0)) != first)
        return FailedPrecondition("the log has " + std::to_string(size.Int(0, 0)) + " entries, not " +
                                  std::to_string(first) + ": nothing committed");
      // The tree this commit continues is the one PostgreSQL recorded at its size, and no head is
      // recorded beyond it (a caller whose replica holds entries PostgreSQL lost, with others
      // committed in their place, would sign a second tree of the log).
      static const std::string head_at =
          "SELECT size, root FROM tree_heads WHERE size >= $1 ORDER BY size DESC LIMIT 1";
      ASSIGN_OR_RETURN(Rows head, c->Exec("tree head", head_at, Params().Int64(int64_t(first))));
      if (head.size() == 1 && uint64_t(head.Int(0, 0)) > first)
        return DataLoss("PostgreSQL records a tree head of " + std::to_string(head.Int(0, 0)) +
                        " entries but holds " + std::to_string(first) + ": nothing committed");
      if (head.size() == 1 && head.Bytes(0, 1) != roots.from)
        return DataLoss("the tree of " + std::to_string(first) +
                        " entries this commit continues is not PostgreSQL's: nothing committed");
    }
    return c->ExecMany(commands);
  });
}

Result<std::optional<TreeHead>> PgLog::HeadAfter(uint64_t size, uint64_t span) {
  static const std::string sql =
      "(SELECT size, root FROM tree_heads WHERE size > $1 AND size <= $2 ORDER BY size DESC LIMIT 1) "
      "UNION ALL (SELECT size, root FROM tree_heads WHERE size > $1 ORDER BY size LIMIT 1)";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows,
                   c->Exec("tree head", sql, Params().Int64(int64_t(size)).Int64(int64_t(size + span))));
  // Up to two rows, in no promised order: the largest within the span wins, else the one beyond.
  std::optional<TreeHead> best;
  for (int i = 0; i < rows.size(); ++i) {
    TreeHead h{uint64_t(rows.Int(i, 0)), rows.Bytes(i, 1)};
    if (h.size <= size || h.root.size() != 32) return DataLoss("PostgreSQL: a malformed tree head");
    bool within = h.size - size <= span;
    if (!best || (within && (best->size - size > span || h.size > best->size)) ||
        (!within && best->size - size > span && h.size < best->size))
      best = std::move(h);
  }
  return best;
}

Result<std::optional<TreeHead>> PgLog::HeadAtMost(uint64_t size) {
  static const std::string sql =
      "SELECT size, root FROM tree_heads WHERE size <= $1 ORDER BY size DESC LIMIT 1";
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("tree head", sql, Params().Int64(int64_t(size))));
  if (rows.size() == 0) return std::optional<TreeHead>();
  TreeHead h{uint64_t(rows.Int(0, 0)), rows.Bytes(0, 1)};
  if (h.size == 0 || h.size > size || h.root.size() != 32)
    return DataLoss("PostgreSQL: a malformed tree head");
  return std::optional<TreeHead>(std::move(h));
}

Result<std::unique_ptr<pg::Conn>> PgLog::Listen() {
  ASSIGN_OR_RETURN(auto c, pg::Conn::Connect(impl_->conninfo, impl_->schema));
  // The channel is made of the schema's name (checked by Pool::Open) and a fixed suffix.
  const std::string sql = "LISTEN \"" + impl_->channel + "\"";
  RETURN_IF_ERROR(c->Run("listen", sql.c_str()));
  return c;
}

}  // namespace accord::node
