#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace accord::crypto {

namespace {
void InitOnce() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no usable CSPRNG: nothing safe can be done
}

}  // namespace

Ed25519Seed Ed25519GenerateSeed() {
  InitOnce();
  Ed25519Seed seed;
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

Ed25519KeyPair Ed25519FromSeed(const Ed25519Seed& seed) {
  InitOnce();
  Ed25519KeyPair k;
  k.seed = seed;
  crypto_sign_seed_keypair(k.public_key.data(), k.secret.data(), seed.data());
  return k;
}

Ed25519Signature Ed25519Sign(const Ed25519KeyPair& key, std::string_view message) {
  InitOnce();
  Ed25519Signature sig;
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), key.secret.data());
  return sig;
}

bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message, std::string_view signature) {
  InitOnce();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     key.data()) == 0;
}

}  // namespace accord::crypto
