#include "statement/statement.h"

#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>

#include "core/limits.h"
#include "scan/sigfile.h"
#include "scan/tlsh.h"
#include "scan/yara_rules.h"

namespace accord::statement {
namespace {

using json::Json;

constexpr std::string_view kKindNames[] = {"registration", "yara-rule",  "hash-set",      "tlsh-set",
                                           "indicator",    "retraction", "audit-finding", "release"};

std::string KeyText(const crypto::Ed25519PublicKey& k) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(k.data()), k.size()));
}

std::optional<crypto::Ed25519PublicKey> KeyFromText(std::string_view text) {
  std::optional<Bytes> raw = Base64Decode(text);
  if (!raw || raw->size() != 32) return std::nullopt;
  crypto::Ed25519PublicKey k;
  std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(k.data()));
  return k;
}

// Member checks: every object has exactly the members its kind names, no others.
Status ExactMembers(const Json& obj, std::string_view where, std::initializer_list<std::string_view> required,
                    std::initializer_list<std::string_view> optional = {}) {
  if (!obj.is_object()) return InvalidArgument(std::string(where) + ": must be an object");
  for (auto name : required)
    if (!obj.contains(std::string(name)))
      return InvalidArgument(std::string(where) + ": missing member \"" + std::string(name) + "\"");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = std::find(required.begin(), required.end(), it.key()) != required.end() ||
                 std::find(optional.begin(), optional.end(), it.key()) != optional.end();
    if (!known)
      return InvalidArgument(std::string(where) + ": unknown member \"" + Printable(it.key()) + "\"");
  }
  return Status::Ok();
}

Result<std::string> Text(const Json& obj, std::string_view name, std::string_view where, size_t max,
                         bool allow_empty = false) {
  const Json& v = obj.at(std::string(name));
  std::string at = std::string(where) + "." + std::string(name);
  if (!v.is_string()) return InvalidArgument(at + ": must be a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() && !allow_empty) return InvalidArgument(at + ": must not be empty");
  if (s.size() > max)
    return InvalidArgument(at + ": " + std::to_string(s.size()) + " bytes, over the limit of " +
                           std::to_string(max));
  return s;
}

// The optional "log" of a statement that names an index: a checkpoint origin line, as logs take
// them (UTF-8, which a parsed JSON string is, without control characters).
Status LogName(const Json& body) {
  if (!body.contains("log")) return Status::Ok();
  ASSIGN_OR_RETURN(std::string log, Text(body, "log", "body", limits::kMaxTextField));
  for (char c : log)
    if (uint8_t(c) < 0x20 || c == 0x7f)
      return InvalidArgument("body.log: must be a log's origin line (no control characters)");
  return Status::Ok();
}

Result<uint64_t> Index(const Json& obj, std::string_view name, std::string_view where) {
  const Json& v = obj.at(std::string(name));
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    return InvalidArgument(std::string(where) + "." + std::string(name) + ": must be a non-negative integer");
  return uint64_t(v.get<int64_t>());
}

Result<const Json*> List(const Json& obj, std::string_view name, std::string_view where) {
  const Json& v = obj.at(std::string(name));
  std::string at = std::string(where) + "." + std::string(name);
  if (!v.is_array()) return InvalidArgument(at + ": must be an array");
  if (v.empty()) return InvalidArgument(at + ": must not be empty");
  if (v.size() > limits::kMaxEntries)
    return InvalidArgument(at + ": " + std::to_string(v.size()) + " entries, over the limit of " +
                           std::to_string(limits::kMaxEntries));
  return &v;
}

bool IsLowerHex(std::string_view s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The rule names that `source` defines, compiled as `accord scan` compiles rule files.
Result<std::vector<std::string>> CompileYara(const std::string& source) {
  auto names = scan::CompileRuleNames(source, "body.source");
  if (!names.ok() && names.status().code() == Code::kInvalidArgument)
    return InvalidArgument("body.source does not compile: " + names.status().message());
  return names;
}

Status ValidateYara(const Json& body) {
  const bool inline_source = body.is_object() && body.contains("source");
  if (inline_source) {
    RETURN_IF_ERROR(ExactMembers(body, "body", {"source", "rules"}, {"meta"}));
    const Json& src = body.at("source");
    if (src.is_string() && src.get_ref<const std::string&>().size() > ::accord::limits::kMaxEntrySize)
      return ResourceExhausted("body.source: " + std::to_string(src.get_ref<const std::string&>().size()) +
                               " bytes, over the entry limit of " +
                               std::to_string(::accord::limits::kMaxEntrySize) +
                               "; store large content beside the log and reference it with source_ref");
  } else {
    RETURN_IF_ERROR(ExactMembers(body, "body", {"source_ref", "rules"}, {"meta"}));
  }
  ASSIGN_OR_RETURN(const Json* rules, List(body, "rules", "body"));
  std::vector<std::string> listed;
  for (const auto& r : *rules) {
    if (!r.is_string() || r.get_ref<const std::string&>().empty())
      return InvalidArgument("body.rules: each entry must be a rule name");
    listed.push_back(r.get<std::string>());
  }
  std::vector<std::string> sorted = listed;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return InvalidArgument("body.rules: a rule name is listed twice");
  if (body.contains("meta")) {
    const Json& meta = body.at("meta");
    if (!meta.is_object()) return InvalidArgument("body.meta: must be an object of strings");
    for (auto it = meta.begin(); it != meta.end(); ++it) {
      if (!it.value().is_string())
        return InvalidArgument("body.meta." + Printable(it.key()) + ": must be a string");
      if (it.value().get_ref<const std::string&>().size() > limits::kMaxTextField)
        return InvalidArgument("body.meta." + Printable(it.key()) + ": too long");
    }
  }
  if (!inline_source) {
    const Json& ref = body.at("source_ref");
    RETURN_IF_ERROR(ExactMembers(ref, "body.source_ref", {"sha256", "size"}));
    ASSIGN_OR_RETURN(std::string digest, Text(ref, "sha256", "body.source_ref", 64));
    if (!IsLowerHex(digest, 64))
      return InvalidArgument("body.source_ref.sha256: must be 64 lower-case hex digits");
    ASSIGN_OR_RETURN(uint64_t size, Index(ref, "size", "body.source_ref"));
    if (size > limits::kMaxReferencedSize) return InvalidArgument("body.source_ref.size: over the limit");
    // The referenced source is compiled when the content itself arrives (the node, later).
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::string source, Text(body, "source", "body", ::accord::limits::kMaxEntrySize));
  ASSIGN_OR_RETURN(std::vector<std::string> compiled, CompileYara(source));
  std::vector<std::string> compiled_sorted = compiled;
  std::sort(compiled_sorted.begin(), compiled_sorted.end());
  if (compiled_sorted != sorted) {
    std::string names;
    for (const auto& n : compiled) names += (names.empty() ? "" : ", ") + n;
    return InvalidArgument("body.rules: must list exactly the rules the source defines (" + names + ")");
  }
  if (compiled != listed)
    return InvalidArgument("body.rules: must list the rules in the order the source defines them");
  return Status::Ok();
}

Status ValidateHashSet(const Json& body) {
  RETURN_IF_ERROR(ExactMembers(body, "body", {"entries"}));
  ASSIGN_OR_RETURN(const Json* entries, List(body, "entries", "body"));
  size_t i = 0;
  for (const auto& e : *entries) {
    std::string where = "body.entries[" + std::to_string(i++) + "]";
    RETURN_IF_ERROR(ExactMembers(e, where, {"hash", "digest", "size", "name"}));
    ASSIGN_OR_RETURN(std::string hash, Text(e, "hash", where, 16));
    size_t len = hash == "md5" ? 32 : hash == "sha1" ? 40 : hash == "sha256" ? 64 : 0;
    if (len == 0) return InvalidArgument(where + ".hash: must be \"md5\", \"sha1\" or \"sha256\"");
    ASSIGN_OR_RETURN(std::string digest, Text(e, "digest", where, 64));
    if (!IsLowerHex(digest, len))
      return InvalidArgument(where + ".digest: must be " + std::to_string(len) +
                             " lower-case hex digits for " + hash);
    const Json& size = e.at("size");
    if (!size.is_null()) {
      ASSIGN_OR_RETURN(uint64_t n, Index(e, "size", where));
      if (n > scan::limits::kMaxSignedFileSize) return InvalidArgument(where + ".size: over the limit");
    }
    ASSIGN_OR_RETURN(std::string name, Text(e, "name", where, scan::limits::kMaxSignatureNameLength));
    if (!scan::IsValidSignatureName(name))
      return InvalidArgument(where + ".name: not a valid signature name (docs: ClamAV name rules)");
  }
  return Status::Ok();
}

Status ValidateTlshSet(const Json& body) {
  RETURN_IF_ERROR(ExactMembers(body, "body", {"entries"}));
  ASSIGN_OR_RETURN(const Json* entries, List(body, "entries", "body"));
  size_t i = 0;
  for (const auto& e : *entries) {
    std::string where = "body.entries[" + std::to_string(i++) + "]";
    RETURN_IF_ERROR(ExactMembers(e, where, {"tlsh", "threshold", "name"}));
    ASSIGN_OR_RETURN(std::string text, Text(e, "tlsh", where, 80));
    std::optional<scan::TlshDigest> d = scan::ParseTlsh(text);
    if (!d || "T1" + d->ToString() != text)
      return InvalidArgument(where + ".tlsh: must be \"T1\" and 70 upper-case hex digits of a TLSH digest");
    ASSIGN_OR_RETURN(uint64_t threshold, Index(e, "threshold", where));
    if (threshold > scan::kTlshMaxDistance)
      return InvalidArgument(where + ".threshold: over the largest TLSH distance " +
                             std::to_string(scan::kTlshMaxDistance));
    ASSIGN_OR_RETURN(std::string name, Text(e, "name", where, scan::limits::kMaxSignatureNameLength));
    if (!scan::IsValidSignatureName(name))
      return InvalidArgument(where + ".name: not a valid signature name");
  }
  return Status::Ok();
}

Status ValidateRelease(const Json& body) {
  RETURN_IF_ERROR(ExactMembers(body, "body", {"name", "version", "files"}));
  RETURN_IF_ERROR(Text(body, "name", "body", limits::kMaxTextField).status());
  RETURN_IF_ERROR(Text(body, "version", "body", limits::kMaxTextField).status());
  ASSIGN_OR_RETURN(const Json* files, List(body, "files", "body"));
  size_t i = 0;
  for (const auto& f : *files) {
    std::string where = "body.files[" + std::to_string(i++) + "]";
    RETURN_IF_ERROR(ExactMembers(f, where, {"path", "sha256"}));
    RETURN_IF_ERROR(Text(f, "path", where, limits::kMaxTextField).status());
    ASSIGN_OR_RETURN(std::string digest, Text(f, "sha256", where, 64));
    if (!IsLowerHex(digest, 64)) return InvalidArgument(where + ".sha256: must be 64 lower-case hex digits");
  }
  return Status::Ok();
}

bool IsCreated(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ, a real calendar date (no February 30th), seconds up to 60 (leap).
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z')
    return false;
  auto num = [&](size_t at, size_t len, int& out) {
    out = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, se))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[mo - 1] + (mo == 2 && leap ? 1 : 0);
}

std::string SignedMessage(ByteView canonical_statement) {
  std::string out(kSignatureContext);
  out.append(canonical_statement);
  return out;
}

std::string AttestedMessage(ByteView canonical_statement) {
  std::string out(kAttestationContext);
  out.append(canonical_statement);
  return out;
}

Result<Json> StatementJson(const Statement& s) {
  if (!IsCreated(s.created)) return InvalidArgument("created: must be RFC 3339 UTC \"YYYY-MM-DDTHH:MM:SSZ\"");
  Json st = Json::object();
  st["accord"] = std::string(kFormat);
  st["kind"] = std::string(KindName(s.kind));
  st["author"] = KeyText(s.author);
  st["created"] = s.created;
  st["tlp"] = "clear";
  st["body"] = s.body;
  return st;
}

}  // namespace

std::string_view KindName(Kind kind) {
  return kKindNames[static_cast<int>(kind)];
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i)
    if (kKindNames[i] == name) return static_cast<Kind>(i);
  return std::nullopt;
}

std::string FormatCreated(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status ValidateBody(Kind kind, const Json& body, const crypto::Ed25519PublicKey& author) {
  switch (kind) {
    case Kind::kRegistration: {
      RETURN_IF_ERROR(ExactMembers(body, "body", {"name", "country", "contact", "key"}));
      RETURN_IF_ERROR(Text(body, "name", "body", limits::kMaxTextField).status());
      ASSIGN_OR_RETURN(std::string country, Text(body, "country", "body", 2));
      if (country.size() != 2 || !std::isupper(uint8_t(country[0])) || !std::isupper(uint8_t(country[1])))
        return InvalidArgument("body.country: must be an ISO 3166-1 alpha-2 code (two upper-case letters)");
      RETURN_IF_ERROR(Text(body, "contact", "body", limits::kMaxTextField).status());
      ASSIGN_OR_RETURN(std::string key, Text(body, "key", "body", 64));
      std::optional<crypto::Ed25519PublicKey> k = KeyFromText(key);
      if (!k) return InvalidArgument("body.key: must be a base64 Ed25519 public key (32 bytes)");
      if (*k != author)
        return InvalidArgument("body.key: a registration must be signed by the key it registers");
      return Status::Ok();
    }
    case Kind::kYaraRule:
      return ValidateYara(body);
    case Kind::kHashSet:
      return ValidateHashSet(body);
    case Kind::kTlshSet:
      return ValidateTlshSet(body);
    case Kind::kIndicator: {
      // The STIX 2.1 pattern grammar is not checked yet: only that the pattern is present.
      RETURN_IF_ERROR(ExactMembers(body, "body", {"pattern"}, {"description"}));
      RETURN_IF_ERROR(Text(body, "pattern", "body", limits::kMaxLongText).status());
      if (body.contains("description"))
        RETURN_IF_ERROR(Text(body, "description", "body", limits::kMaxLongText).status());
      return Status::Ok();
    }
    case Kind::kRetraction: {
      RETURN_IF_ERROR(ExactMembers(body, "body", {"index"}, {"log", "reason"}));
      RETURN_IF_ERROR(Index(body, "index", "body").status());
      RETURN_IF_ERROR(LogName(body));
      if (body.contains("reason"))
        RETURN_IF_ERROR(Text(body, "reason", "body", limits::kMaxLongText).status());
      return Status::Ok();
    }
    case Kind::kAuditFinding: {
      RETURN_IF_ERROR(ExactMembers(body, "body", {"about", "verdict", "text"}, {"log"}));
      RETURN_IF_ERROR(Index(body, "about", "body").status());
      RETURN_IF_ERROR(LogName(body));
      ASSIGN_OR_RETURN(std::string verdict, Text(body, "verdict", "body", 32));
      if (verdict != "confirmed" && verdict != "disputed" && verdict != "false-positive" &&
          verdict != "harmful")
        return InvalidArgument(
            "body.verdict: must be \"confirmed\", \"disputed\", \"false-positive\" or \"harmful\"");
      RETURN_IF_ERROR(Text(body, "text", "body", limits::kMaxLongText).status());
      return Status::Ok();
    }
    case Kind::kRelease:
      return ValidateRelease(body);
  }
  return InvalidArgument("unknown kind");
}

namespace {

// The whole signed (or attested) object: {"<member>":{"alg","key"?,"sig"},"statement":...}.
Result<Bytes> Seal(const Statement& s, const crypto::Ed25519KeyPair& key, bool attest) {
  RETURN_IF_ERROR(ValidateBody(s.kind, s.body, s.author));
  ASSIGN_OR_RETURN(Json st, StatementJson(s));
  ASSIGN_OR_RETURN(Bytes canonical, json::Serialize(st));
  crypto::Ed25519Signature sig =
      crypto::Ed25519Sign(key, attest ? AttestedMessage(canonical) : SignedMessage(canonical));
  Json whole = Json::object();
  whole["statement"] = std::move(st);
  Json seal = {{"alg", "ed25519"},
               {"sig", Base64Encode(ByteView(reinterpret_cast<const char*>(sig.data()), sig.size()))}};
  if (attest) seal["key"] = KeyText(key.public_key);
  whole[attest ? "attestation" : "signature"] = std::move(seal);
  ASSIGN_OR_RETURN(Bytes out, json::Serialize(whole));
  if (out.size() > ::accord::limits::kMaxEntrySize)
    return ResourceExhausted("signed statement of " + std::to_string(out.size()) +
                             " bytes, over the limit of " + std::to_string(::accord::limits::kMaxEntrySize) +
                             " (64 KiB - 1); store large content beside the log and reference its SHA-256");
  return out;
}

}  // namespace

Result<Bytes> Sign(const Statement& s, const crypto::Ed25519KeyPair& key) {
  if (s.author != key.public_key) return InvalidArgument("author: must be the signing key's public key");
  return Seal(s, key, false);
}

bool MayBeAttested(Kind kind) {
  return kind == Kind::kYaraRule || kind == Kind::kHashSet || kind == Kind::kTlshSet ||
         kind == Kind::kIndicator;
}

Result<Bytes> Attest(const Statement& s, const crypto::Ed25519KeyPair& key) {
  if (!MayBeAttested(s.kind))
    return InvalidArgument("a " + std::string(KindName(s.kind)) + " statement must be signed by its author");
  return Seal(s, key, true);
}

Result<SignedStatement> Parse(ByteView bytes) {
  if (bytes.size() > ::accord::limits::kMaxEntrySize)
    return ResourceExhausted("statement of " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                             std::to_string(::accord::limits::kMaxEntrySize) + " (64 KiB - 1)");
  Result<Json> parsed = json::ParseCanonical(bytes);
  if (!parsed.ok()) {  // nesting past the parser's depth is a malformed statement, not a large one
    if (parsed.status().code() == Code::kResourceExhausted) return InvalidArgument(parsed.status().message());
    return parsed.status();
  }
  Json whole = std::move(parsed).value();
  if (!whole.is_object()) return InvalidArgument("signed statement: must be a JSON object");
  const bool attested = whole.contains("attestation");
  const char* seal_name = attested ? "attestation" : "signature";
  RETURN_IF_ERROR(ExactMembers(whole, "signed statement", {"statement", seal_name}));
  Json& st = whole.at("statement");
  RETURN_IF_ERROR(ExactMembers(st, "statement", {"accord", "kind", "author", "created", "tlp", "body"}));
  ASSIGN_OR_RETURN(std::string format, Text(st, "accord", "statement", 64));
  if (format != kFormat)
    return InvalidArgument("statement.accord: \"" + Printable(format) + "\", want \"statement/v1\"");
  ASSIGN_OR_RETURN(std::string tlp, Text(st, "tlp", "statement", 64, true));
  if (tlp != "clear")
    return FailedPrecondition("statement.tlp: \"" + Printable(tlp) +
                              "\": this public log accepts TLP:CLEAR only (\"clear\")");
  ASSIGN_OR_RETURN(std::string kind_name, Text(st, "kind", "statement", 64));
  std::optional<Kind> kind = KindFromName(kind_name);
  if (!kind) return InvalidArgument("statement.kind: unknown kind \"" + Printable(kind_name) + "\"");
  ASSIGN_OR_RETURN(std::string author, Text(st, "author", "statement", 64));
  std::optional<crypto::Ed25519PublicKey> key = KeyFromText(author);
  if (!key) return InvalidArgument("statement.author: must be a base64 Ed25519 public key (32 bytes)");
  ASSIGN_OR_RETURN(std::string created, Text(st, "created", "statement", 64));
  if (!IsCreated(created))
    return InvalidArgument("statement.created: must be RFC 3339 UTC \"YYYY-MM-DDTHH:MM:SSZ\"");

  const Json& sig = whole.at(seal_name);
  if (attested) {
    RETURN_IF_ERROR(ExactMembers(sig, seal_name, {"alg", "key", "sig"}));
  } else {
    RETURN_IF_ERROR(ExactMembers(sig, seal_name, {"alg", "sig"}));
  }
  const std::string where(seal_name);
  ASSIGN_OR_RETURN(std::string alg, Text(sig, "alg", where, 64));
  if (alg != "ed25519") return InvalidArgument(where + ".alg: \"" + Printable(alg) + "\", want \"ed25519\"");
  ASSIGN_OR_RETURN(std::string sig_text, Text(sig, "sig", where, 128));
  std::optional<Bytes> sig_raw = Base64Decode(sig_text);
  if (!sig_raw || sig_raw->size() != 64)
    return InvalidArgument(where + ".sig: must be a base64 Ed25519 signature");
  std::optional<crypto::Ed25519PublicKey> attester;
  if (attested) {
    ASSIGN_OR_RETURN(std::string attester_text, Text(sig, "key", where, 64));
    attester = KeyFromText(attester_text);
    if (!attester) return InvalidArgument("attestation.key: must be a base64 Ed25519 public key (32 bytes)");
    if (!MayBeAttested(*kind))
      return InvalidArgument("attestation: a " + std::string(KindName(*kind)) +
                             " statement must be signed by its author, not attested by a node");
  }
  // The bytes are canonical, so the statement's canonical form is their own text after
  // {"<seal>":<seal object>,"statement": and before the final }: no second serialization
  // ("attestation" and "signature" both sort before "statement").
  ASSIGN_OR_RETURN(Bytes canonical_signature, json::Serialize(sig));
  const size_t at =
      2 + where.size() + 2 + canonical_signature.size() + std::string_view(R"(,"statement":)").size();
  if (bytes.size() < at + 2 || bytes.substr(at - 13, 13) != R"(,"statement":)")
    return Internal("canonical statement layout");  // cannot happen after ParseCanonical
  ByteView canonical_statement = bytes.substr(at, bytes.size() - at - 1);
  if (attested) {
    if (!crypto::Ed25519Verify(*attester, AttestedMessage(canonical_statement), *sig_raw))
      return PermissionDenied("attestation does not verify with the key it names");
  } else if (!crypto::Ed25519Verify(*key, SignedMessage(canonical_statement), *sig_raw)) {
    return PermissionDenied("signature does not verify with the author's key");
  }

  SignedStatement out;
  RETURN_IF_ERROR(ValidateBody(*kind, st.at("body"), *key));
  out.statement.kind = *kind;
  out.statement.author = *key;
  out.statement.created = created;
  out.statement.body = std::move(st.at("body"));
  std::copy(sig_raw->begin(), sig_raw->end(), reinterpret_cast<char*>(out.signature.data()));
  out.attested_by = attester;
  out.canonical = Bytes(bytes);
  return out;
}

Status Validate(const SignedStatement& s, const Registry& registry) {
  const auto& author = s.statement.author;
  const std::string who = "author " + KeyText(author);
  if (s.attested_by && !registry.IsAttester(*s.attested_by))
    return PermissionDenied(
        "attested by " + KeyText(*s.attested_by) +
        ", which is not this log's node key: a log takes only its own node's attestations");
  if (registry.IsKeyRetracted(author)) return PermissionDenied(who + ": the key has been retracted");
  if (s.statement.kind == Kind::kRegistration) {
    if (registry.IsRegistered(author)) return AlreadyExists(who + ": already registered");
    return Status::Ok();
  }
  if (!registry.IsRegistered(author))
    return PermissionDenied(who + ": not registered; an author's first statement must be its registration");
  const Json& body = s.statement.body;
  // A statement that names an index and the log it is in holds in that log only: copied into
  // another, it would name whatever statement has that index there.
  if (auto log = body.find("log"); log != body.end() && !registry.LogOrigin().empty() &&
                                   log->get_ref<const std::string&>() != registry.LogOrigin())
    return FailedPrecondition("body.log: names the log \"" + log->get<std::string>() + "\"; this is \"" +
                              std::string(registry.LogOrigin()) + "\"");
  switch (s.statement.kind) {
    case Kind::kYaraRule:
      for (const auto& r : body.at("rules"))
        if (registry.HasRuleName(author, r.get_ref<const std::string&>()))
          return AlreadyExists(who + ": already published a rule named \"" + r.get<std::string>() + "\"");
      break;
    case Kind::kRetraction: {
      uint64_t index = uint64_t(body.at("index").get<int64_t>());
      std::optional<crypto::Ed25519PublicKey> of = registry.AuthorOf(index);
      if (!of) return NotFound("body.index: no statement at index " + std::to_string(index));
      if (*of != author)
        return FailedPrecondition("body.index: statement " + std::to_string(index) +
                                  " is not the author's own");
      // Once is final: a second retraction would revoke the same objects again.
      if (registry.IsRetracted(index))
        return AlreadyExists("body.index: statement " + std::to_string(index) + " is already retracted");
      break;
    }
    case Kind::kAuditFinding: {
      uint64_t index = uint64_t(body.at("about").get<int64_t>());
      if (!registry.AuthorOf(index))
        return NotFound("body.about: no statement at index " + std::to_string(index));
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

namespace {
std::string KeyBytes(const crypto::Ed25519PublicKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}
}  // namespace

void MemoryRegistry::Apply(uint64_t index, const SignedStatement& s) {
  const std::string author = KeyBytes(s.statement.author);
  authors_[index] = s.statement.author;
  switch (s.statement.kind) {
    case Kind::kRegistration:
      registrations_.emplace(author, index);
      break;
    case Kind::kYaraRule: {
      auto& names = rules_of_[index];
      for (const auto& r : s.statement.body.at("rules")) {
        names.push_back(r.get<std::string>());
        rules_.insert(author + '\0' + names.back());
      }
      break;
    }
    case Kind::kRetraction: {
      uint64_t target = uint64_t(s.statement.body.at("index").get<int64_t>());
      retracted_.insert(target);
      if (auto it = rules_of_.find(target); it != rules_of_.end()) {
        for (const auto& n : it->second) rules_.erase(author + '\0' + n);
        rules_of_.erase(it);
      }
      break;
    }
    default:
      break;
  }
}

bool MemoryRegistry::IsRegistered(const crypto::Ed25519PublicKey& key) const {
  return registrations_.count(KeyBytes(key)) != 0;
}

bool MemoryRegistry::IsKeyRetracted(const crypto::Ed25519PublicKey& key) const {
  // Retracting one's registration retracts the key.
  auto it = registrations_.find(KeyBytes(key));
  return it != registrations_.end() && retracted_.count(it->second) != 0;
}

bool MemoryRegistry::HasRuleName(const crypto::Ed25519PublicKey& author, std::string_view rule) const {
  return rules_.count(KeyBytes(author) + '\0' + std::string(rule)) != 0;
}

std::optional<crypto::Ed25519PublicKey> MemoryRegistry::AuthorOf(uint64_t index) const {
  auto it = authors_.find(index);
  if (it == authors_.end()) return std::nullopt;
  return it->second;
}

bool MemoryRegistry::IsRetracted(uint64_t index) const {
  return retracted_.count(index) != 0;
}

Result<std::vector<std::string>> YaraRuleNames(const std::string& source) {
  return CompileYara(source);
}

}  // namespace accord::statement
