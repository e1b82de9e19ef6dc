// What the node knows about each logged statement, as its index (store.h) keeps it: the leaf
// itself plus the fields that lookups and TAXII filter on. The log (tlog/log.h) is the source of
// truth; a Record is derived from its entry and can always be rebuilt from the entry bundles.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/ed25519.h"
#include "statement/statement.h"

namespace accord::node {

struct Record {
  uint64_t index = 0;    // the log index of the leaf
  std::string id;        // lower-case hex SHA-256 of the leaf: the statement's id
  int64_t added_us = 0;  // when this node logged it (Unix time, microseconds, UTC)
  std::string leaf;      // the signed statement's canonical bytes (the log entry)
  statement::Kind kind = statement::Kind::kRegistration;
  crypto::Ed25519PublicKey author{};
  std::string created;     // the statement's own "created" (the author's clock)
  bool retracted = false;  // a later retraction by its author names this index
};

// A registered author, from its registration statement.
struct Participant {
  crypto::Ed25519PublicKey key{};
  std::string name;
  std::string country;  // ISO 3166-1 alpha-2
  std::string contact;
  uint64_t index = 0;      // of the registration
  int64_t added_us = 0;    // when the registration was logged
  bool retracted = false;  // the author retracted its registration (its key)
};

}  // namespace accord::node
