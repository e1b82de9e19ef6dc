// A transparency log witness (c2sp.org/tlog-witness) without its HTTP layer: it follows the logs
// it is configured with, checks that each checkpoint it is shown extends the last one it cosigned
// for that origin, and cosigns it (c2sp.org/tlog-cosignature, cosignature/v1).
//
// SPEC: c2sp.org/tlog-witness, "add-checkpoint". AddCheckpoint answers exactly as the spec says:
//   200  one cosignature line per witness key ("— <name> <base64>\n"), text/plain
//   400  a malformed body, or an old size above the checkpoint's size
//   403  no signature by a key the witness trusts for the origin verifies (or one of them fails)
//   404  the origin is not a log this witness follows
//   409  old size != the size of the last cosigned checkpoint: body "<stored size>\n", content
//        type text/x.tlog.size; or the same size with another root hash (a split view: the body
//        is a text/plain explanation, and both checkpoints are kept in DIR/evidence/)
//   413  a body over limits::kMaxWitnessRequestSize
//   422  the consistency proof does not verify (or is not empty when the old size is 0)
//   500  the state could not be stored; nothing was cosigned
//
// State (docs/witness.md has the grammar): DIR/state/<hex SHA-256 of the origin> holds
// "accord/witness-state@v1\n" and the signed checkpoint last cosigned for that origin, verbatim.
// It is written durably and atomically (temp file, fsync, rename, fsync of the directory) BEFORE
// the cosignature is returned, so a crash leaves the old or the new state and never a state older
// than a checkpoint that was cosigned. A state file that cannot be read or parsed makes Open fail
// (DataLoss): treating it as "never seen" would let the log roll back. DIR/lock is held (flock)
// for the witness's lifetime, so two processes never share one DIR.
//
// Thread-safety: AddCheckpoint may be called from any number of threads. For each origin the
// comparison with the stored state, the write of the new state and the cosignature happen under
// one mutex, so two requests can never both pass against the same old size (the race the spec
// describes). Requests for different origins run in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/fs.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"
#include "tlog/merkle.h"

namespace accord::witness {

inline constexpr std::string_view kSizeContentType = "text/x.tlog.size";
inline constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
inline constexpr std::string_view kStateHeader = "accord/witness-state@v1";

// An add-checkpoint request body:
//   "old " <decimal size> LF *(<base64 hash> LF) LF <signed checkpoint note>
struct AddCheckpointRequest {
  uint64_t old_size = 0;
  std::vector<tlog::Hash> proof;  // at most limits::kMaxWitnessProofLines
  std::string checkpoint;         // the signed note, verbatim
};

// Strict: decimal without leading zeroes, canonical base64 of 32 bytes per proof line, every line
// ending in LF, a checkpoint that parses as a signed note with a checkpoint body. Errors name the
// line; sizes over the limits are ResourceExhausted.
Result<AddCheckpointRequest> ParseAddCheckpointRequest(ByteView body);
std::string FormatAddCheckpointRequest(const AddCheckpointRequest& request);

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
};

struct WitnessOptions {
  std::string dir;   // created if missing
  note::Signer key;  // the witness's cosignature/v1 (0x04) key
  // The logs followed: each checkpoint must be signed by a key whose name is its origin. Several
  // keys may share an origin (a key rotation); any one of them suffices.
  std::vector<note::Verifier> logs;
  // The cosignatures' time, POSIX seconds; defaults to the system clock. For tests.
  std::function<uint64_t()> clock;
};

// What the witness last cosigned for an origin.
struct LogState {
  tlog::Checkpoint checkpoint;
  std::string note;  // the signed checkpoint, as the log sent it
};

class Witness {
 public:
  // Creates DIR if needed, takes DIR/lock, and reads the state of every configured origin.
  static Result<std::unique_ptr<Witness>> Open(WitnessOptions options);

  Response AddCheckpoint(ByteView body);

  // The last cosigned checkpoint of `origin`, or nullopt if none (or not a followed log).
  std::optional<LogState> State(const std::string& origin);
  const note::Signer& key() const { return key_; }

 private:
  struct Origin {
    std::vector<note::Verifier> keys;
    std::string path;  // its state file
    std::mutex mu;     // guards state, and the check-store-cosign sequence
    std::optional<LogState> state;
  };

  Witness(fs::FileLock lock, note::Signer key) : lock_(std::move(lock)), key_(std::move(key)) {}
  void KeepEvidence(const Origin& log, const std::string& signed_note);

  fs::FileLock lock_;
  note::Signer key_;
  std::string dir_;
  std::function<uint64_t()> clock_;
  std::map<std::string, std::unique_ptr<Origin>, std::less<>> origins_;  // fixed after Open
};

}  // namespace accord::witness
