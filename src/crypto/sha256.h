// SHA-256 (FIPS 180-4) through OpenSSL, which uses the CPU's SHA extensions where present.
// Thread-safety: pure functions; Sha256Stream is a value owned by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

namespace accord::crypto {

using Hash = std::array<uint8_t, 32>;

Hash Sha256(std::string_view data);

// Incremental hashing, for data that arrives in pieces (a leaf prefix and its entry).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  Hash Finish();  // the stream is reset and can be reused

 private:
  struct State;
  std::unique_ptr<State> s_;
};

inline std::string_view AsView(const Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

}  // namespace accord::crypto
