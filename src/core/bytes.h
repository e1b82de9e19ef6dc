// Byte strings and their text encodings: hex and standard base64 (RFC 4648 section 4).
//
// Decoders are strict: they reject whitespace, missing or extra padding, non-canonical trailing
// bits and characters outside the alphabet, so one value has exactly one spelling. That matters
// for signed text, where two spellings of the same hash would be two different notes.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace accord {

// Raw bytes travel as std::string (owning) and std::string_view (borrowed).
using Bytes = std::string;
using ByteView = std::string_view;

// The value of one hex digit (either case) or base64 character (standard alphabet), or -1; for
// the lenient decoders of outside formats (MIME) that must skip what the strict ones refuse.
int HexDigitValue(char c);
int Base64DigitValue(char c);

std::string HexEncode(ByteView data);
std::optional<Bytes> HexDecode(std::string_view hex);  // lower or upper case, even length

std::string Base64Encode(ByteView data);
std::optional<Bytes> Base64Decode(std::string_view text);  // strict, padded

// A URL's %XX escapes decoded (RFC 3986 section 2.1), and '+' as a space when `plus_is_space`
// (query strings, application/x-www-form-urlencoded); nullopt for a '%' without two hex digits.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// Big-endian integer helpers for wire formats.
inline void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
inline void PutU32(Bytes& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutU64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint32_t GetU32(ByteView b) {  // requires b.size() >= 4
  return (uint32_t(uint8_t(b[0])) << 24) | (uint32_t(uint8_t(b[1])) << 16) | (uint32_t(uint8_t(b[2])) << 8) |
         uint32_t(uint8_t(b[3]));
}
inline uint64_t GetU64(ByteView b) {  // requires b.size() >= 8
  return (uint64_t(GetU32(b)) << 32) | GetU32(b.substr(4));
}

// Parses a decimal uint64 with no sign, no leading zeroes (except "0") and no overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s);

// "0x1f": a number in hex, for addresses and offsets in error messages.
std::string HexNumber(uint64_t v);

// Escapes a byte string for an error message: printable ASCII kept, others as \xNN, cut at max.
std::string Printable(ByteView data, size_t max = 80);

}  // namespace accord

namespace accord {
// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// True if `s` (valid UTF-8) contains a Unicode White_Space character.
bool ContainsUnicodeSpace(std::string_view s);
}  // namespace accord
