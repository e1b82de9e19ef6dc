// A lease in PostgreSQL: at most one holder at a time of a named role (the node's sequencer),
// for a time to live that the holder renews. The building block of "one sequencer at a time" when
// several node processes share one database (docs/node.md, "PostgreSQL").
//
// Each successful Acquire bumps the lease's epoch: a fencing token that only grows. A holder
// MUST attach its epoch to what it writes under the lease, and the store MUST refuse writes whose
// epoch is not the current one, because a holder can be paused (GC, swap, a network partition)
// past its expiry and wake up believing it still holds the lease.
// Expiry is judged by the database server's clock, so holders on machines whose clocks disagree
// still agree on who holds it. A holder whose lease expired has lost it: Renew then fails even if
// nobody took it meanwhile, and it must Acquire again (with a new epoch).
// The lease is a row of the table `leases` (name PK, holder, epoch, expires_at) in the same
// PostgreSQL schema as the index (pg_store.h).
// Thread-safety: every method may be called from any thread (one connection, one call at a
// time). Two PgLease objects are two connections, as two processes would be.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace accord::node {

struct PgLeaseOptions {
  std::string conninfo;            // a libpq connection string or URI (pg_store.h)
  std::string schema = "accord";   // created if absent, as by PgStore
  std::string name = "sequencer";  // which lease
};

struct LeaseInfo {
  std::string holder;        // "" if nobody holds it (never acquired, released or expired)
  uint64_t epoch = 0;        // the latest epoch granted (0: never acquired)
  int64_t remaining_ms = 0;  // until it expires, if held
};

class PgLease {
 public:
  static Result<std::unique_ptr<PgLease>> Open(const PgLeaseOptions& options);
  ~PgLease();

  // Takes the lease for `holder` (MUST be unique per process incarnation, e.g. host, pid and a
  // random part) for `ttl` if nobody holds it, its holder let it expire or released it, or
  // `holder` itself holds it; returns the new epoch. FailedPrecondition, naming the holder, if
  // another holds it. Of holders that race, exactly one gets it.
  Result<uint64_t> Acquire(std::string_view holder, std::chrono::milliseconds ttl);
  // Extends the lease to `ttl` from now; FailedPrecondition if `holder` no longer holds it at
  // `epoch` (it expired, or another took it).
  Status Renew(std::string_view holder, uint64_t epoch, std::chrono::milliseconds ttl);
  // Gives the lease up at once, if `holder` still holds it at `epoch` (OK either way).
  Status Release(std::string_view holder, uint64_t epoch);
  Result<LeaseInfo> Current();

  struct Impl;

 private:
  explicit PgLease(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::node
