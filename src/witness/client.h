// The client side of c2sp.org/tlog-witness: a log (the node) sends a new checkpoint with a
// consistency proof to a witness and gets its cosignature back.
//
// SPEC: c2sp.org/tlog-witness, "add-checkpoint". The caller keeps, per witness, the size the
// witness last cosigned. On a 409 with a text/x.tlog.size body the witness says which size that
// is (`witness_size`): build a proof from that size and ask again. A 409 without that body is a
// split view (the witness cosigned another root at this size), which retrying cannot fix.
// Cosignature lines that are not by `witness` (name and key ID) are ignored, as the spec asks; one
// by `witness` that does not verify over the checkpoint is an error.
//
// Thread-safety: RequestCosignature is a pure function of its arguments (one HTTP connection per
// call) and may run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/note.h"
#include "tlog/merkle.h"

namespace accord::witness {

struct CosignResult {
  // OK with at least one cosignature, or why not:
  //   Unavailable         no HTTP answer (connection refused, timeout) or a 5xx: retry later
  //   FailedPrecondition  409 with the witness's size (witness_size is set): resend from it
  //   AlreadyExists       409 without a size: the witness cosigned another root at this size
  //   NotFound            404: the witness does not follow this log
  //   PermissionDenied    403, or a cosignature by `witness` that does not verify, or none at all,
  //                       or an answer that is not signature lines for this checkpoint
  //   InvalidArgument     400, 413 or 422: the request was wrong (a bug of the caller)
  //   Internal            any other answer
  Status status;
  int http_status = 0;                        // 0 when no HTTP answer came
  std::optional<uint64_t> witness_size;       // 409 with text/x.tlog.size
  std::vector<note::Signature> cosignatures;  // by `witness`, verified over the checkpoint
  std::vector<uint64_t> timestamps;           // of each cosignature, POSIX seconds

  bool ok() const { return status.ok(); }
};

// POSTs an add-checkpoint request to `<url>/add-checkpoint` (url: the witness's submission
// prefix, http:// or https://, with or without a path) and verifies the answer against the
// witness's cosignature/v1 verifier key. `checkpoint` is the signed note as the log publishes it.
// `timeout` bounds the whole exchange, from connecting to the last byte of the answer (a witness
// that trickles its answer is cut off at it: Unavailable). HTTPS: the witness's certificate must
// chain to the system's CAs, or, when `ca_cert` names a PEM file, to the certificates in it
// instead (a witness on a private CA or a self-signed certificate).
[[nodiscard]] CosignResult RequestCosignature(const std::string& url, const note::Verifier& witness,
                                              uint64_t old_size, std::span<const tlog::Hash> proof,
                                              ByteView checkpoint, std::chrono::milliseconds timeout,
                                              const std::string& ca_cert = "");

// Adds the cosignatures to a signed checkpoint note: one that has a signature from the same
// (name, key ID) already replaces it (a witness's newer cosignature of the same checkpoint, with a
// newer timestamp), the others are appended. The result is the note to publish.
Result<std::string> AddCosignatures(ByteView checkpoint, std::span<const note::Signature> cosignatures);

}  // namespace accord::witness
