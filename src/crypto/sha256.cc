#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_* are the lowest-overhead entry points for 65-byte nodes
#include "crypto/sha256.h"

#include <openssl/sha.h>

namespace accord::crypto {

struct Sha256Stream::State {
  SHA256_CTX ctx;
};

Hash Sha256(std::string_view data) {
  Hash out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

Sha256Stream::Sha256Stream() : s_(std::make_unique<State>()) { SHA256_Init(&s_->ctx); }
Sha256Stream::~Sha256Stream() = default;
void Sha256Stream::Update(std::string_view data) { SHA256_Update(&s_->ctx, data.data(), data.size()); }
Hash Sha256Stream::Finish() {
  Hash out;
  SHA256_Final(out.data(), &s_->ctx);
  SHA256_Init(&s_->ctx);
  return out;
}

}  // namespace accord::crypto
