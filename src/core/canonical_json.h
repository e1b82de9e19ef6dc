// Canonical JSON: a strict parser for outside bytes and an RFC 8785 (JCS) serializer.
// SPEC: RFC 8785 (JSON Canonicalization Scheme), RFC 7493 (I-JSON).
//
// accord signs JSON, so one value must have exactly one byte spelling. The parser accepts only:
//   - valid UTF-8 (no lone surrogates, raw or escaped);
//   - objects without duplicate member names (I-JSON);
//   - integers in +-(2^53-1), written without fraction or exponent, and not "-0". accord's
//     formats need no other numbers, which sidesteps ECMAScript's double formatting (RFC 8785
//     section 3.2.2.3); anything else is refused with a message saying so;
//   - at most limits::kMaxJsonDepth nested arrays/objects and limits::kMaxJsonSize bytes.
// Serialize writes RFC 8785 bytes: no whitespace, members sorted by their UTF-16 code units,
// strings escaped as JCS requires (\" \\ \b \f \n \r \t, \u00xx for other controls, the rest
// literal UTF-8), integers in plain decimal.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::json {

using Json = nlohmann::json;

// Parses `text` strictly (above). Errors are InvalidArgument with the byte offset
// ("offset 12: duplicate member name \"a\""), ResourceExhausted for the size and depth limits.
Result<Json> Parse(ByteView text);
// The same with another size limit than limits::kMaxJsonSize (documents that carry statements).
Result<Json> Parse(ByteView text, size_t max_size);

// The RFC 8785 bytes of `value`. `value` MUST hold only what Parse accepts (null, booleans,
// integers in range, valid UTF-8 strings, arrays, objects); otherwise InvalidArgument.
Result<std::string> Serialize(const Json& value);

// Parse, then require that `text` is already canonical (Serialize(Parse(text)) == text).
Result<Json> ParseCanonical(ByteView text);

inline constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

}  // namespace accord::json
