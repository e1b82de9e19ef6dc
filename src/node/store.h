// The node's index of its log: what lookups, TAXII and validation ask, answered without reading
// entry bundles. SqliteStore (sqlite_store.h) is the embedded default.
//
// The index is derived: Add is called only with entries the log has made durable, in index
// order, and an index that lags the log (a crash between the two) is caught up from the entry
// bundles when the node opens (node.h).
// Thread-safety: implementations are safe to call from many threads; Add is called by one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "node/record.h"

namespace accord::node {

struct ListQuery {
  std::optional<crypto::Ed25519PublicKey> author;  // only this author's statements
  std::optional<statement::Kind> kind;             // only this kind
  uint64_t from_index = 0;                         // index >= from_index
  int64_t added_after_us = -1;                     // added_us > added_after_us
  size_t limit = 100;                              // at most this many, in index order
};

// TAXII status resources (taxii.h) kept beside the index: the newest `kept`, of them at most
// `per_poster` of one poster (its oldest go first), at most `bytes` of bodies in all.
struct StatusLimits {
  size_t kept = 0;
  size_t per_poster = 0;
  size_t bytes = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Records held: indices 0 .. size()-1.
  virtual Result<uint64_t> Size() = 0;
  // Indexes `records` (consecutive, starting at Size()) in one transaction: all or nothing. A
  // record's added_us not above the one before it (records of one round share a time; a clock
  // that stepped back; another process's slower clock) is raised to that one + 1: added_us
  // strictly increases with the index, so a TAXII client polling with added_after = the newest
  // date added it saw misses nothing. (n records logged at one time end n - 1 µs ahead of the
  // clock; records logged later than that are not raised.)
  virtual Status Add(const std::vector<Record>& records) = 0;

  virtual Result<std::optional<Record>> Get(uint64_t index) = 0;
  virtual Result<std::optional<uint64_t>> FindId(std::string_view id_hex) = 0;
  virtual Result<std::vector<Record>> List(const ListQuery& query) = 0;
  // Statements that list a file digest (md5, sha1 or sha256; lower-case hex): hash sets and
  // releases, in index order, at most `limit`.
  virtual Result<std::vector<Record>> FindDigest(std::string_view digest_hex, size_t limit) = 0;
  virtual Result<std::vector<Participant>> Participants() = 0;
  virtual Result<std::optional<Participant>> GetParticipant(const crypto::Ed25519PublicKey& key) = 0;

  // TAXII status resources, so that their poster reads them again after a restart and, on
  // PostgreSQL, from any process of the log. KeepStatus stores one (its `id` new) and drops what
  // `limits` no longer admits, in one transaction; FindStatus gives the body of `id` if `poster`
  // posted it. Not derived from the log: an index rebuilt from the log has none. A store that
  // does not keep them answers Unimplemented (the caller then keeps them in memory).
  virtual Status KeepStatus(std::string_view id, const crypto::Ed25519PublicKey& poster,
                            std::string_view body, const StatusLimits& limits) {
    (void)id, (void)poster, (void)body, (void)limits;
    return Unimplemented("this index keeps no TAXII status");
  }
  virtual Result<std::optional<std::string>> FindStatus(std::string_view id,
                                                        const crypto::Ed25519PublicKey& poster) {
    (void)id, (void)poster;
    return Unimplemented("this index keeps no TAXII status");
  }
};

}  // namespace accord::node
