// The digests a scan needs of one buffer, computed in one pass (OpenSSL; SHA-NI where present).
// Thread-safety: pure function.
#pragma once

#include <array>
#include <cstdint>

#include "core/bytes.h"

namespace accord::scan {

struct Digests {
  bool has_md5 = false, has_sha1 = false;
  std::array<uint8_t, 16> md5{};
  std::array<uint8_t, 20> sha1{};
  std::array<uint8_t, 32> sha256{};  // always computed: reports carry it
};

// Computes SHA-256, and MD5 / SHA-1 only when asked (they cost as much again each).
Digests ComputeDigests(ByteView data, bool md5, bool sha1);

}  // namespace accord::scan
