// Trust policies (c2sp.org/tlog-policy): which logs a checkpoint may come from, which witnesses
// may cosign it, and how many cosignatures make it trustworthy (the quorum).
//
// SPEC: c2sp.org/tlog-policy. The file is lines of tokens separated by ASCII spaces and tabs:
//   log <vkey> [<url>]                    a log; its key name is its checkpoint origin
//   witness <name> <vkey> [<url>]         a witness; the vkey has type 0x04 (cosignature/v1)
//   group <name> all|any|<k> <name>...    k of the n members (witnesses or earlier groups)
//   quorum <name>|none                    exactly one
// plus blank lines and comment lines ('#' after optional whitespace). Names are opaque octet
// strings, shared by witnesses and groups; `none` is reserved. A group or the quorum may only name
// what earlier lines defined. Two logs, or two witnesses, with the same public key are refused.
// The parser is strict: every violation is an InvalidArgument naming the line ("policy line 7:
// ..."); counts over limits::kMaxPolicy* are ResourceExhausted. docs/witness.md has the grammar.
//
// Thread-safety: Policy is an immutable value once parsed; the functions are pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"

namespace accord::tlog {

// Whether two verifier keys are the same key under the same name.
inline bool SameVerifier(const note::Verifier& a, const note::Verifier& b) {
  return a.name == b.name && a.type == b.type && a.key_id == b.key_id && a.public_key == b.public_key;
}

struct PolicyLog {
  note::Verifier key;  // Ed25519 (0x01); key.name is the log's origin
  std::string url;     // empty when the line has none

  bool operator==(const PolicyLog& o) const { return SameVerifier(key, o.key) && url == o.url; }
};

struct PolicyWitness {
  std::string name;    // the policy's name for it, not necessarily its key name
  note::Verifier key;  // cosignature/v1 (0x04)
  std::string url;     // its tlog-witness submission prefix, or empty

  bool operator==(const PolicyWitness& o) const {
    return name == o.name && SameVerifier(key, o.key) && url == o.url;
  }
};

// A member of a group, or the quorum: a witness or a group, by index into Policy's vectors.
struct PolicyRef {
  enum class Kind { kWitness, kGroup };
  Kind kind = Kind::kWitness;
  size_t index = 0;

  bool operator==(const PolicyRef&) const = default;
};

struct PolicyGroup {
  std::string name;
  size_t threshold = 1;            // 1 <= threshold <= members.size()
  std::vector<PolicyRef> members;  // each defined before the group, each at most once
  enum class Spelling { kNumber, kAll, kAny };
  Spelling spelling = Spelling::kNumber;  // how the file wrote the threshold (for FormatPolicy)

  bool operator==(const PolicyGroup&) const = default;
};

struct Policy {
  std::vector<PolicyLog> logs;
  std::vector<PolicyWitness> witnesses;
  std::vector<PolicyGroup> groups;  // in file order: a group only refers to earlier ones
  std::optional<PolicyRef> quorum;  // nullopt: `quorum none`, no cosignature needed

  bool operator==(const Policy&) const = default;
};

Result<Policy> ParsePolicy(ByteView text);
// A name a witness or group can have: non-empty, no space, tab, newline or other control
// character, not "none".
bool IsValidPolicyName(std::string_view name);
// The canonical text of a policy: its logs, witnesses, groups and quorum, one per line, single
// spaces, no comments. ParsePolicy(FormatPolicy(p)) == p.
std::string FormatPolicy(const Policy& policy);
// "witness <name> <vkey>[ <url>]\n": the line a policy needs for a witness.
std::string FormatWitnessLine(const PolicyWitness& witness);

// Whether `cosigned` (one flag per policy witness) satisfies the quorum; if not, the error
// (PermissionDenied) says which group or witness fell short and by how much, e.g.
// "quorum not met: group X-and-Y: 1 of the 2 members it needs (not met: Y-witnesses, 0 of 1)".
Status CheckQuorum(const Policy& policy, const std::vector<bool>& cosigned);

struct PolicyCosignature {
  size_t witness = 0;      // index into Policy::witnesses
  uint64_t timestamp = 0;  // POSIX seconds, as the witness signed it
};

struct PolicyCheckpoint {
  VerifiedCheckpoint checkpoint;                // its cosignatures: the policy witnesses' below
  size_t log = 0;                               // index into Policy::logs of the key that signed
  std::vector<PolicyCosignature> cosignatures;  // valid ones by policy witnesses, in note order
};

// Verifies a signed checkpoint note against a policy: it must be signed by a policy log whose key
// name is the checkpoint's origin, and cosigned (cosignature/v1) by policy witnesses that meet the
// quorum. Signatures by keys not in the policy are ignored and count for nothing; a signature by a
// policy key that does not verify rejects the note (PermissionDenied), as an attempt to pass off a
// forged cosignature is never benign. Errors: InvalidArgument (malformed note or checkpoint),
// NotFound (no policy log for the origin), PermissionDenied (signatures, quorum).
Result<PolicyCheckpoint> VerifyCheckpointWithPolicy(const Policy& policy, ByteView signed_note);

// Freshness: whether the quorum is met by cosignatures of `checkpoint` (which
// VerifyCheckpointWithPolicy returned for `policy`) made at most `max_age` seconds before `now`
// (POSIX seconds), or at most limits::kMaxClockSkew after it. A log whose latest cosigned
// checkpoint is older than a client's bound is either idle without refreshing its cosignatures or
// hiding newer checkpoints (a freeze); the client cannot tell which and refuses both.
// PermissionDenied says how old the newest cosignature is.
Status CheckFreshQuorum(const Policy& policy, const PolicyCheckpoint& checkpoint, uint64_t now,
                        uint64_t max_age);

}  // namespace accord::tlog
