// Canonical Huffman codes (RFC 1951 §3.2.2): codes of each length numbered consecutively, shorter
// codes first, symbols of one length in symbol order. Decoded one bit at a time, first bit the
// code's most significant, which serves deflate64 and implode (scan/zip_legacy.h) and ARJ
// (scan/arj.h) alike; the caller supplies the bits in its format's order.
// Thread-safety: a built table is read-only.
#pragma once

#include <array>
#include <cstdint>

namespace accord::scan {

inline constexpr int kMaxHuffmanBits = 16;
inline constexpr int kMaxHuffmanSymbols = 512;

class Huffman {
 public:
  // Builds the code from one length per symbol (0 = symbol unused, at most kMaxHuffmanBits; at
  // most kMaxHuffmanSymbols symbols). False when a length is out of range or the lengths
  // over-subscribe the code space (more codes than fit: no such code exists). An incomplete code
  // builds; its unused codes fail to decode. No allocation.
  bool Build(const uint8_t* lengths, int symbols) {
    if (symbols < 0 || symbols > kMaxHuffmanSymbols) return false;
    count_.fill(0);
    for (int s = 0; s < symbols; ++s) {
      if (lengths[s] > kMaxHuffmanBits) return false;
      ++count_[lengths[s]];
    }
    int left = 1;
    for (int len = 1; len <= kMaxHuffmanBits; ++len) {
      left = (left << 1) - count_[len];
      if (left < 0) return false;
    }
    std::array<int, kMaxHuffmanBits + 2> offset{};
    for (int len = 1; len <= kMaxHuffmanBits; ++len) offset[len + 1] = offset[len] + count_[len];
    for (int s = 0; s < symbols; ++s) {
      if (lengths[s] != 0) symbol_[static_cast<size_t>(offset[lengths[s]]++)] = static_cast<uint16_t>(s);
    }
    return true;
  }

  // The next symbol; `next_bit()` returns 0 or 1, or a negative value when the input is
  // exhausted. -1: input exhausted; -2: a code the table does not have.
  template <typename NextBit>
  int Decode(NextBit&& next_bit) const {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= kMaxHuffmanBits; ++len) {
      int bit = next_bit();
      if (bit < 0) return -1;
      code |= bit;
      int count = count_[len];
      if (code - first < count) return symbol_[static_cast<size_t>(index + code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return -2;
  }

 private:
  std::array<int, kMaxHuffmanBits + 1> count_{};
  std::array<uint16_t, kMaxHuffmanSymbols> symbol_{};
};

}  // namespace accord::scan
