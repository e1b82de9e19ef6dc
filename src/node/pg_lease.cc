#include "node/pg_lease.h"

#include "core/bytes.h"
#include "node/pg.h"

namespace accord::node {
namespace {

using pg::Params;
using pg::Rows;

constexpr size_t kMaxHolder = 256;

Status CheckHolder(std::string_view holder) {
  if (holder.empty() || holder.size() > kMaxHolder || !IsValidUtf8(holder))
    return InvalidArgument("lease holder \"" + Printable(holder) + "\": want 1 to " +
                           std::to_string(kMaxHolder) + " bytes of UTF-8");
  for (char c : holder)
    if (uint8_t(c) < 0x20 || c == 0x7f)
      return InvalidArgument("lease holder \"" + Printable(holder) + "\": no control characters");
  return Status::Ok();
}

Status CheckTtl(std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return InvalidArgument("lease time to live: want a positive duration");
  return Status::Ok();
}

// The database's clock decides expiry (pg_lease.h); `expires_at > clock_timestamp()` is "held".
const std::string kAcquire =
    "INSERT INTO leases(name, holder, epoch, expires_at) "
    "VALUES ($1, $2, 1, clock_timestamp() + $3::float8 * interval '1 millisecond') "
    "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, epoch = leases.epoch + 1, "
    "  expires_at = EXCLUDED.expires_at "
    "WHERE leases.holder = '' OR leases.holder = EXCLUDED.holder OR leases.expires_at <= clock_timestamp() "
    "RETURNING epoch";
const std::string kRenew =
    "UPDATE leases SET expires_at = clock_timestamp() + $4::float8 * interval '1 millisecond' "
    "WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()";
const std::string kRelease =
    "UPDATE leases SET holder = '', expires_at = clock_timestamp() "
    "WHERE name = $1 AND holder = $2 AND epoch = $3";
const std::string kCurrent =
    "SELECT CASE WHEN expires_at > clock_timestamp() THEN holder ELSE '' END, epoch, "
    "  GREATEST(0, EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000)::int8 "
    "FROM leases WHERE name = $1";

}  // namespace

struct PgLease::Impl {
  std::string name;
  std::unique_ptr<pg::Pool> pool;  // one connection, remade if it breaks
};

PgLease::PgLease(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgLease::~PgLease() = default;

Result<std::unique_ptr<PgLease>> PgLease::Open(const PgLeaseOptions& options) {
  if (options.name.empty() || options.name.size() > kMaxHolder || !IsValidUtf8(options.name))
    return InvalidArgument("lease name \"" + Printable(options.name) + "\": want 1 to 256 bytes of UTF-8");
  // The lease's connection waits at most kLeaseLockTimeoutMs for a row lock (a holder stopped in
  // the middle of its commit holds the lease row until the server ends its session).
  ASSIGN_OR_RETURN(auto pool,
                   pg::Pool::Open(options.conninfo, options.schema, 1, true, pg::kLeaseLockTimeoutMs));
  return std::unique_ptr<PgLease>(new PgLease(std::make_unique<Impl>(Impl{options.name, std::move(pool)})));
}

Result<uint64_t> PgLease::Acquire(std::string_view holder, std::chrono::milliseconds ttl) {
  RETURN_IF_ERROR(CheckHolder(holder));
  RETURN_IF_ERROR(CheckTtl(ttl));
  {
    ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
    ASSIGN_OR_RETURN(Rows rows, c->Exec("acquire lease", kAcquire,
                                        Params().Text(impl_->name).Text(holder).Int64(ttl.count())));
    if (rows.size() == 1) return uint64_t(rows.Int(0, 0));
  }
  ASSIGN_OR_RETURN(LeaseInfo now, Current());
  return FailedPrecondition("lease \"" + impl_->name + "\" is held by \"" + Printable(now.holder) +
                            "\" (epoch " + std::to_string(now.epoch) + ") for another " +
                            std::to_string(now.remaining_ms) + " ms");
}

Status PgLease::Renew(std::string_view holder, uint64_t epoch, std::chrono::milliseconds ttl) {
  RETURN_IF_ERROR(CheckHolder(holder));
  RETURN_IF_ERROR(CheckTtl(ttl));
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows,
                   c->Exec("renew lease", kRenew,
                           Params().Text(impl_->name).Text(holder).Int64(int64_t(epoch)).Int64(ttl.count())));
  if (rows.Affected() != 1)
    return FailedPrecondition("lease \"" + impl_->name + "\": \"" + Printable(holder) +
                              "\" no longer holds it at epoch " + std::to_string(epoch) +
                              " (it expired or was taken)");
  return Status::Ok();
}

Status PgLease::Release(std::string_view holder, uint64_t epoch) {
  RETURN_IF_ERROR(CheckHolder(holder));
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  return c->Exec("release lease", kRelease, Params().Text(impl_->name).Text(holder).Int64(int64_t(epoch)))
      .status();
}

Result<LeaseInfo> PgLease::Current() {
  ASSIGN_OR_RETURN(auto c, impl_->pool->Get());
  ASSIGN_OR_RETURN(Rows rows, c->Exec("read lease", kCurrent, Params().Text(impl_->name)));
  LeaseInfo info;
  if (rows.size() == 1) {
    info.holder = rows.Bytes(0, 0);
    info.epoch = uint64_t(rows.Int(0, 1));
    info.remaining_ms = info.holder.empty() ? 0 : rows.Int(0, 2);
  }
  return info;
}

}  // namespace accord::node
