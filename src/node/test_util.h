// Helpers shared by the node's tests (not part of any library): deterministic keys and
// statements signed for real.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/bytes.h"
#include "statement/statement.h"

namespace accord::node::testing {

// The key pair whose seed is 32 bytes of `b`.
inline crypto::Ed25519KeyPair Key(uint8_t b) {
  crypto::Ed25519Seed seed;
  seed.fill(b);
  return crypto::Ed25519FromSeed(seed);
}

inline std::string KeyB64(const crypto::Ed25519PublicKey& k) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(k.data()), k.size()));
}

// The signed statement's bytes (empty, with a test failure, if Sign refuses it).
inline std::string Signed(statement::Kind kind, const crypto::Ed25519KeyPair& key, json::Json body,
                          std::string created = "2026-11-28T10:00:00Z") {
  statement::Statement s;
  s.kind = kind;
  s.author = key.public_key;
  s.created = std::move(created);
  s.body = std::move(body);
  auto out = statement::Sign(s, key);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::string();
}

}  // namespace accord::node::testing
