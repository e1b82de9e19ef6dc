// TAXII tokens: which registered participant a bearer token speaks for, so that the node can
// attest statements on its behalf (TAXII POST, docs/taxii.md). The node's operator issues them
// (`accord taxii-token add DIR --author KEY`); the token itself is shown once and never stored.
// A log on PostgreSQL keeps the same entries in its taxii_tokens table instead (pg_store.h).
//
// The token file (DIR/taxii-tokens, mode 0600) has one line per token:
//   token-line = hex-sha256-of-token SP base64-ed25519-key SP label LF
//   label      = 1*64(%x21-7E)          ; printable, no spaces: who it was issued to
// and '#' comment lines. A token is "accord_" followed by 43 base64url characters (32 random bytes).
// Thread-safety: TokenFile::Authenticate may be called from any number of threads; AddToken and
// RevokeTokens change the file atomically (a temporary file renamed) under a lock (PATH.lock): two
// at once cannot undo each other (the second fails, saying the file is busy).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "crypto/ed25519.h"

namespace accord::node {

inline constexpr std::string_view kTokenFileName = "taxii-tokens";
inline constexpr size_t kMaxTokenFileSize = 1 << 20;

struct TokenEntry {
  std::string sha256_hex;  // of the token's text
  crypto::Ed25519PublicKey author{};
  std::string label;
};

// Whether `token` has the shape NewToken gives ("accord_" and 43 base64url characters): only such
// a string can be one of accord's tokens, so nothing else need be looked up.
bool IsIssuedTokenShape(std::string_view token);

// A new token ("accord_" and 43 base64url characters: 256 random bits) and the hash stored for it
// (lower-case hex SHA-256 of its text).
Result<std::string> NewToken();
std::string TokenHash(std::string_view token);
bool IsTokenLabel(std::string_view label);  // 1-64 printable characters, no spaces

// The entries of a token file's text; InvalidArgument naming the line for anything malformed
// (a file the node cannot read whole is taken as no token at all: fail closed).
Result<std::vector<TokenEntry>> ParseTokenFile(std::string_view text);

// Issues a token for `author`, appends its line to the file at `path` (created if absent), and
// returns the token. InvalidArgument for a label that is not 1-64 printable non-space characters.
Result<std::string> AddToken(const std::string& path, const crypto::Ed25519PublicKey& author,
                             const std::string& label);
// Removes every token of `author`; returns how many there were.
Result<size_t> RevokeTokens(const std::string& path, const crypto::Ed25519PublicKey& author);

// The token of an Authorization header: "Bearer <token>", or "Basic base64(user:password)" whose
// password is the token (TAXII clients speak HTTP Basic); nullopt for anything else.
std::optional<std::string> TokenFromAuthorization(std::string_view header);

// The token file as the node reads it: one stat per authentication, re-read when it changed (size,
// time, inode), so that issuing or revoking a token needs no restart.
class TokenFile {
 public:
  explicit TokenFile(std::string path) : path_(std::move(path)) {}
  // The participant the header's token speaks for; nullopt for no token, an unknown or revoked
  // one, or a token file that cannot be read or parsed (logged once per change on stderr).
  std::optional<crypto::Ed25519PublicKey> Authenticate(std::string_view authorization);

 private:
  void Reload();
  std::string path_;
  std::mutex mu_;
  struct Version {
    uint64_t size = 0, ino = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool exists = false;
    bool operator==(const Version&) const = default;
  } version_;
  std::unordered_map<std::string, crypto::Ed25519PublicKey> by_hash_;
};

}  // namespace accord::node
