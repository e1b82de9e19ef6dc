#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_* are the lowest-overhead entry points for 65-byte nodes
#include "crypto/sha256.h"

#include <openssl/sha.h>

namespace accord::crypto {

struct Sha256Stream::State {
  SHA256_CTX ctx;
};

Hash Sha256(std::string_view data) {
  // The SHA256_* calls go straight to the (SHA-NI) block function; OpenSSL 3's one-shot SHA256()
  // fetches an EVP method on every call, which costs more than hashing a 65-byte tree node.
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Sha256Stream::Sha256Stream() : s_(std::make_unique<State>()) {
  SHA256_Init(&s_->ctx);
}
Sha256Stream::~Sha256Stream() = default;
void Sha256Stream::Update(std::string_view data) {
  SHA256_Update(&s_->ctx, data.data(), data.size());
}
Hash Sha256Stream::Finish() {
  Hash out;
  SHA256_Final(out.data(), &s_->ctx);
  SHA256_Init(&s_->ctx);
  return out;
}

}  // namespace accord::crypto
