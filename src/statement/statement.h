// Statements: what accord's exchange log records. A statement is a small JSON object in RFC 8785
// canonical form, signed with its author's Ed25519 key; the log's leaf is the canonical bytes of
// the signed object. The format is written down in docs/statement-format.md.
//
//   {"signature":{"alg":"ed25519","sig":<base64 64 bytes>},
//    "statement":{"accord":"statement/v1","author":<base64 32-byte Ed25519 public key>,
//                 "body":{...},"created":"YYYY-MM-DDTHH:MM:SSZ","kind":<kind>,"tlp":"clear"}}
//
// The signature covers kSignatureContext || canonical bytes of "statement" (domain separation:
// no other accord signature can be mistaken for a statement's).
//
// A node-attested statement (TAXII POST, docs/taxii.md) has "attestation" instead of "signature":
//   {"attestation":{"alg":"ed25519","key":<base64 node key>,"sig":<base64>},"statement":{...}}
// The node signs kAttestationContext || canonical "statement" with its log key, on behalf of the
// registered author its TAXII token names; the author did not sign it. Only yara-rule, hash-set,
// tlsh-set and indicator statements may be attested, and a Registry accepts only the attesting
// keys it names (IsAttester: a log takes only its own node's attestations).
//
// Parse checks everything that the bytes alone determine (canonical form, size, shape, kind,
// TLP, body syntax including that YARA source compiles, signature). Validate adds what needs
// the log's state, through a Registry. Nothing is logged before both pass.
// Thread-safety: values and pure functions; a Registry implementation states its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/status.h"
#include "crypto/ed25519.h"

namespace accord::statement {

inline constexpr std::string_view kFormat = "statement/v1";
inline constexpr std::string_view kSignatureContext = "accord statement/v1\n";
inline constexpr std::string_view kAttestationContext = "accord attested-statement/v1\n";

namespace limits {
// A signed statement is one log entry (core/limits.h kMaxEntrySize).
inline constexpr size_t kMaxTextField = 1024;      // names, contacts, versions, paths
inline constexpr size_t kMaxLongText = 16 * 1024;  // audit finding text, indicator pattern
inline constexpr size_t kMaxEntries = 2048;        // hash-set, tlsh-set, release files, rule names
inline constexpr uint64_t kMaxReferencedSize = uint64_t{1} << 30;  // content stored beside the log
}  // namespace limits

enum class Kind {
  kRegistration,
  kYaraRule,
  kHashSet,
  kTlshSet,
  kIndicator,
  kRetraction,
  kAuditFinding,
  kRelease
};
std::string_view KindName(Kind kind);  // "registration", "yara-rule", ...
std::optional<Kind> KindFromName(std::string_view name);
inline constexpr Kind kAllKinds[] = {Kind::kRegistration, Kind::kYaraRule,  Kind::kHashSet,
                                     Kind::kTlshSet,      Kind::kIndicator, Kind::kRetraction,
                                     Kind::kAuditFinding, Kind::kRelease};

// What an author says, before signing.
struct Statement {
  Kind kind = Kind::kRegistration;
  crypto::Ed25519PublicKey author{};
  std::string created;  // RFC 3339 UTC, seconds precision: "2026-11-28T10:00:00Z"
  json::Json body = json::Json::object();
};

struct SignedStatement {
  Statement statement;
  crypto::Ed25519Signature signature{};  // the author's, or the attesting node's
  // Set for a node-attested statement: the node key that signed it on the author's behalf.
  std::optional<crypto::Ed25519PublicKey> attested_by;
  Bytes canonical;  // the whole signed object: the log leaf
};

// "YYYY-MM-DDTHH:MM:SSZ" of `unix_seconds`.
std::string FormatCreated(int64_t unix_seconds);

// Checks `s` (body included, YARA compiled) and returns the canonical signed bytes.
// InvalidArgument for a bad statement; ResourceExhausted when the result is over 64 KiB.
Result<Bytes> Sign(const Statement& s, const crypto::Ed25519KeyPair& key);

// A node-attested statement: `s` made on its author's behalf, signed with the node's `key`.
// InvalidArgument for a bad statement or a kind that only its author may sign.
Result<Bytes> Attest(const Statement& s, const crypto::Ed25519KeyPair& key);

// Whether `kind` may be node-attested (yara-rule, hash-set, tlsh-set, indicator).
bool MayBeAttested(Kind kind);

// Strict: `bytes` MUST be canonical, at most ::accord::limits::kMaxEntrySize (else
// ResourceExhausted), of a known kind, with a well-formed body (else InvalidArgument, nesting too
// deep included), TLP:CLEAR (else FailedPrecondition: well-formed, but not what this log takes),
// and a valid signature (else PermissionDenied). A node-attested statement parses with `attested_by` set (its
// attestation verified with the key it names; whether that key counts is Validate's question).
Result<SignedStatement> Parse(ByteView bytes);

// The rule names a YARA source defines, in order, compiled as a yara-rule body's source is
// (InvalidArgument "body.source does not compile: body.source:LINE: message" otherwise).
Result<std::vector<std::string>> YaraRuleNames(const std::string& source);

// Body checks alone (Parse and Sign run them).
Status ValidateBody(Kind kind, const json::Json& body, const crypto::Ed25519PublicKey& author);

// The log's state as validation needs it. Implementations answer from the log (the node, later)
// or from memory (tests: MemoryRegistry).
class Registry {
 public:
  virtual ~Registry() = default;
  // Whether `key` has a registration in the log, and whether that key has been retracted.
  virtual bool IsRegistered(const crypto::Ed25519PublicKey& key) const = 0;
  virtual bool IsKeyRetracted(const crypto::Ed25519PublicKey& key) const = 0;
  // Whether `author` already published a YARA rule named `rule` (and did not retract it).
  virtual bool HasRuleName(const crypto::Ed25519PublicKey& author, std::string_view rule) const = 0;
  // The author of the statement at log index `index`, nullopt if there is none.
  virtual std::optional<crypto::Ed25519PublicKey> AuthorOf(uint64_t index) const = 0;
  // Whether a retraction in the log already names statement `index`.
  virtual bool IsRetracted(uint64_t index) const = 0;
  // The log's checkpoint origin: a retraction or audit finding whose "log" names another origin
  // is refused. Empty: not checked.
  virtual std::string_view LogOrigin() const { return {}; }
  // Whether node-attested statements signed by `key` belong in this log (its node's key).
  // None by default: a registry that names no attester refuses every attested statement.
  virtual bool IsAttester(const crypto::Ed25519PublicKey& key) const {
    (void)key;
    return false;
  }
};

// Checks what needs the log's state: the author is registered (or this is its registration,
// and it is not registered yet), the key is not retracted, YARA rule names are new for the
// author, a retraction retracts the author's own statement and one not retracted yet (else
// AlreadyExists), an audit finding is about an existing statement, a retraction or audit finding
// that names its log names this one, a node-attested statement is attested by a key the registry
// accepts.
// `s` MUST come from Parse. PermissionDenied / FailedPrecondition /
// AlreadyExists / NotFound with a message saying which check failed.
Status Validate(const SignedStatement& s, const Registry& registry);

// A Registry in memory, for tests and tools (`accord update` validates whole logs with it):
// Apply records a statement that passed Validate. Lookups are hash lookups; memory is about 100
// bytes per statement plus the rule names.
class MemoryRegistry : public Registry {
 public:
  void Apply(uint64_t index, const SignedStatement& s);
  // Accepts attestations by `key` (the log's own key; see Registry::IsAttester).
  void SetAttester(const crypto::Ed25519PublicKey& key) { attester_ = key; }
  // Refuses statements that name another log (see Registry::LogOrigin).
  void SetLogOrigin(std::string origin) { origin_ = std::move(origin); }
  std::string_view LogOrigin() const override { return origin_; }
  bool IsAttester(const crypto::Ed25519PublicKey& key) const override {
    return attester_ && *attester_ == key;
  }
  bool IsRegistered(const crypto::Ed25519PublicKey& key) const override;
  bool IsKeyRetracted(const crypto::Ed25519PublicKey& key) const override;
  bool HasRuleName(const crypto::Ed25519PublicKey& author, std::string_view rule) const override;
  std::optional<crypto::Ed25519PublicKey> AuthorOf(uint64_t index) const override;
  // Whether a retraction applied so far names statement `index`.
  bool IsRetracted(uint64_t index) const override;

 private:
  std::unordered_map<std::string, uint64_t> registrations_;  // key bytes -> its registration
  std::unordered_map<uint64_t, crypto::Ed25519PublicKey> authors_;
  std::unordered_map<uint64_t, std::vector<std::string>> rules_of_;  // yara-rule statement -> names
  std::unordered_set<std::string> rules_;                            // key bytes NUL rule name
  std::unordered_set<uint64_t> retracted_;
  std::optional<crypto::Ed25519PublicKey> attester_;
  std::string origin_;
};

}  // namespace accord::statement
