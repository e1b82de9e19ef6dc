// Comparing a packer's stub with the code accord knows: byte patterns whose immediates (the
// addresses and counts that differ from file to file) are left out, and stretches of code known
// by their SHA-256. Shared by the readers of packed programs (UPX aside).
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string_view>

#include "core/bytes.h"
#include "crypto/sha256.h"

namespace accord::scan {

// In a code pattern, a byte that may be anything (an immediate).
inline constexpr int kAnyByte = 0x100;

// `code` starts with `pattern` (kAnyByte matching any byte).
inline bool MatchesCode(ByteView code, std::span<const int> pattern) {
  if (code.size() < pattern.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] != kAnyByte && static_cast<unsigned char>(code[i]) != pattern[i]) return false;
  return true;
}

// The SHA-256 of `code` is `hex` (lower-case).
inline bool HasSha256(ByteView code, std::string_view hex) {
  return HexEncode(crypto::AsView(crypto::Sha256(code))) == hex;
}

}  // namespace accord::scan
