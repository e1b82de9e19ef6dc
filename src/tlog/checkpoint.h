// Checkpoints (c2sp.org/tlog-checkpoint): the signed note that commits a log to a tree.
//
//   <origin>\n<tree size, decimal>\n<base64 root hash>\n[<extension line>\n]...
//
// followed by the note's blank line and signatures. The log's own Ed25519 signature is
// mandatory; witnesses add cosignature/v1 lines (c2sp.org/tlog-cosignature).
// Thread-safety: values and pure functions.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/merkle.h"

namespace accord::tlog {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;

  bool operator==(const Checkpoint&) const = default;
};

std::string FormatCheckpoint(const Checkpoint& cp);  // the note text
Result<Checkpoint> ParseCheckpoint(std::string_view text);

struct Cosignature {
  std::string name;        // the witness's key name
  uint64_t timestamp = 0;  // POSIX seconds
};

struct VerifiedCheckpoint {
  Checkpoint checkpoint;
  std::string raw;                        // the signed note exactly as read
  std::vector<Cosignature> cosignatures;  // by the witnesses passed in, verified
};

// Verifies `message` as a checkpoint signed by `log_key` (an Ed25519 verifier) and parses it.
// Cosignatures by `witnesses` are verified and reported; other signatures are ignored.
// A checkpoint whose origin differs from `origin` (when not empty) is rejected.
Result<VerifiedCheckpoint> OpenCheckpoint(ByteView message, const note::Verifier& log_key,
                                          std::span<const note::Verifier> witnesses = {},
                                          std::string_view origin = {});

// Signs a checkpoint with the log's key and returns the whole note.
Result<std::string> SignCheckpoint(const Checkpoint& cp, const note::Signer& log_key);

}  // namespace accord::tlog
