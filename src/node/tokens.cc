#include "node/tokens.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "core/bytes.h"
#include "core/fs.h"
#include "crypto/sha256.h"

namespace accord::node {
namespace {

constexpr std::string_view kTokenPrefix = "accord_";

std::string Sha256Hex(std::string_view text) {
  auto d = crypto::Sha256(text);
  return HexEncode(ByteView(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string KeyText(const crypto::Ed25519PublicKey& k) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(k.data()), k.size()));
}

bool IsLabel(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string Base64Url(const uint8_t* data, size_t n) {
  std::string b = Base64Encode(ByteView(reinterpret_cast<const char*>(data), n));
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b;
}

std::string FormatLine(const TokenEntry& e) {
  return e.sha256_hex + " " + KeyText(e.author) + " " + e.label + "\n";
}

Result<std::vector<TokenEntry>> ReadEntries(const std::string& path) {
  if (!fs::Exists(path)) return std::vector<TokenEntry>{};
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, kMaxTokenFileSize));
  Result<std::vector<TokenEntry>> e = ParseTokenFile(text);
  if (!e.ok()) return e.status().WithContext(path);
  return e;
}

Status WriteEntries(const std::string& path, const std::vector<TokenEntry>& entries) {
  std::string text = "# accord TAXII tokens: SHA-256 of the token, participant key, label (docs/taxii.md)\n";
  for (const TokenEntry& e : entries) text += FormatLine(e);
  return fs::WriteFileAtomic(path, text, 0600);
}

}  // namespace

Result<std::vector<TokenEntry>> ParseTokenFile(std::string_view text) {
  std::vector<TokenEntry> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos)
      return InvalidArgument("line " + std::to_string(line_no) + ": no final newline");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](std::string_view what) {
      return InvalidArgument("line " + std::to_string(line_no) + ": " + std::string(what) +
                             " (want: hex-sha256 SP base64-key SP label)");
    };
    size_t a = line.find(' ');
    size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) return bad("three fields needed");
    TokenEntry e;
    e.sha256_hex = std::string(line.substr(0, a));
    if (e.sha256_hex.size() != 64) return bad("the token's SHA-256 is not 64 hex digits");
    for (char c : e.sha256_hex)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return bad("the token's SHA-256 is not lower-case hex");
    std::optional<Bytes> key = Base64Decode(line.substr(a + 1, b - a - 1));
    if (!key || key->size() != 32) return bad("not a base64 Ed25519 public key");
    std::copy(key->begin(), key->end(), reinterpret_cast<char*>(e.author.data()));
    e.label = std::string(line.substr(b + 1));
    if (!IsLabel(e.label)) return bad("the label is not 1-64 printable characters without spaces");
    out.push_back(std::move(e));
  }
  return out;
}

bool IsIssuedTokenShape(std::string_view token) {
  if (!token.starts_with(kTokenPrefix) || token.size() != kTokenPrefix.size() + 43) return false;
  return std::all_of(token.begin() + static_cast<std::ptrdiff_t>(kTokenPrefix.size()), token.end(),
                     [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '_';
                     });
}

Result<std::string> NewToken() {
  uint8_t raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Internal("no random bytes for a token");
  return std::string(kTokenPrefix) + Base64Url(raw, sizeof raw);
}

std::string TokenHash(std::string_view token) {
  return Sha256Hex(token);
}

bool IsTokenLabel(std::string_view label) {
  return IsLabel(label);
}

Result<std::string> AddToken(const std::string& path, const crypto::Ed25519PublicKey& author,
                             const std::string& label) {
  if (!IsLabel(label))
    return InvalidArgument("label \"" + Printable(label) + "\": 1-64 printable characters, no spaces");
  ASSIGN_OR_RETURN(fs::FileLock lock, fs::FileLock::Acquire(path + ".lock", "the token file " + path));
  ASSIGN_OR_RETURN(std::vector<TokenEntry> entries, ReadEntries(path));
  ASSIGN_OR_RETURN(std::string token, NewToken());
  entries.push_back({Sha256Hex(token), author, label});
  RETURN_IF_ERROR(WriteEntries(path, entries));
  return token;
}

Result<size_t> RevokeTokens(const std::string& path, const crypto::Ed25519PublicKey& author) {
  ASSIGN_OR_RETURN(fs::FileLock lock, fs::FileLock::Acquire(path + ".lock", "the token file " + path));
  ASSIGN_OR_RETURN(std::vector<TokenEntry> entries, ReadEntries(path));
  size_t before = entries.size();
  std::erase_if(entries, [&](const TokenEntry& e) { return e.author == author; });
  if (entries.size() == before) return size_t{0};
  RETURN_IF_ERROR(WriteEntries(path, entries));
  return before - entries.size();
}

std::optional<std::string> TokenFromAuthorization(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  size_t sp = h.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  std::string scheme(h.substr(0, sp));
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  std::string_view cred = h.substr(sp + 1);
  while (!cred.empty() && cred.front() == ' ') cred.remove_prefix(1);
  std::string token;
  if (scheme == "bearer") {
    token = std::string(cred);
  } else if (scheme == "basic") {
    std::optional<Bytes> decoded = Base64Decode(cred);
    if (!decoded) return std::nullopt;
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    token = decoded->substr(colon + 1);
  } else {
    return std::nullopt;
  }
  if (token.empty() || token.size() > 256) return std::nullopt;
  return token;
}

void TokenFile::Reload() {
  Version v;
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    v.exists = true;
    v.size = uint64_t(st.st_size);
    v.ino = uint64_t(st.st_ino);
    v.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    v.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  }
  if (v == version_) return;
  by_hash_.clear();  // the file changed: its old tokens may be revoked, none is kept
  if (!v.exists) {
    version_ = v;
    return;
  }
  Result<std::vector<TokenEntry>> entries = ReadEntries(path_);
  if (!entries.ok()) {
    // A file that does not parse stays refused until it changes; one that could not be read (out
    // of descriptors, ...) is read again at the next request.
    const bool content = entries.status().code() == Code::kInvalidArgument ||
                         entries.status().code() == Code::kResourceExhausted;
    if (content) version_ = v;
    std::fprintf(stderr, "accord serve: TAXII tokens not read, none accepted%s: %s\n",
                 content ? "" : " (read again at the next request)", entries.status().ToString().c_str());
    return;
  }
  version_ = v;
  for (const TokenEntry& e : *entries) by_hash_[e.sha256_hex] = e.author;
}

std::optional<crypto::Ed25519PublicKey> TokenFile::Authenticate(std::string_view authorization) {
  std::optional<std::string> token = TokenFromAuthorization(authorization);
  if (!token) return std::nullopt;
  const std::string hash = Sha256Hex(*token);
  std::lock_guard lock(mu_);
  Reload();
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

}  // namespace accord::node
