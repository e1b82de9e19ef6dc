// Ed25519 (RFC 8032) through libsodium.
// Thread-safety: pure functions; libsodium is initialised once, on first use, thread-safely.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace accord::crypto {

using Ed25519PublicKey = std::array<uint8_t, 32>;
using Ed25519Seed = std::array<uint8_t, 32>;  // the private key, as RFC 8032 defines it
using Ed25519Signature = std::array<uint8_t, 64>;

// A key pair expanded from its seed once, so that signing costs one signature, not a key
// derivation too. Holds secret material: keep it out of logs and core dumps where possible.
struct Ed25519KeyPair {
  Ed25519Seed seed;
  Ed25519PublicKey public_key;
  std::array<uint8_t, 64> secret;  // libsodium's expanded form (seed || public key)
};

Ed25519Seed Ed25519GenerateSeed();  // from the OS's CSPRNG
Ed25519KeyPair Ed25519FromSeed(const Ed25519Seed& seed);
Ed25519Signature Ed25519Sign(const Ed25519KeyPair& key, std::string_view message);
bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message, std::string_view signature);

}  // namespace accord::crypto
