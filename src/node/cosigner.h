// Gathers witnesses' cosignatures for the node's checkpoints and publishes the cosigned
// checkpoint (c2sp.org/tlog-witness, client side).
//
// The log writer, opened with LogOptions::witnessed, keeps its own signed checkpoint in
// DIR/.accord/checkpoint. The Cosigner's thread follows it: for each new checkpoint it sends an
// add-checkpoint request to every witness at once (old size: the size that witness last cosigned,
// or the one it names in a 409; the consistency proof computed from the log's tiles), waits at
// most `timeout` for the answers, and, once at least `quorum` witnesses cosigned it, writes
// DIR/checkpoint (what the read path serves) with the log's signature and every cosignature that
// came back. Until then the previous published checkpoint stays: clients never see a checkpoint
// with fewer cosignatures than the node was told to gather. With n witnesses and a quorum of k,
// any n - k of them may be down and publication waits at most `timeout`; a witness that failed
// is asked again with the next checkpoint, or after `retry` if no new one comes. Each witness's
// cosignature of an unchanged checkpoint is asked for again once it is `refresh` old (witnesses
// give a new timestamp for the same tree); until a new one comes, the old one stays published, so
// a witness that is down costs the others nothing.
// Several processes of one log (PostgreSQL mode, node.h) each run a Cosigner on their own replica:
// same key, same checkpoints, so a witness cosigns each size for all of them; one whose replica is
// behind what a witness already cosigned (a 409 naming a larger size) asks again once it grew.
// A witness's answer counts only if it is cosignature lines by its key for the checkpoint sent,
// dated within limits::kMaxClockSkew of this node's clock; every cosignature is checked again on
// the note before it is published. Failures go to standard error, once per change of state.
//
// Thread-safety: the public methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "crypto/note.h"
#include "tlog/log.h"

namespace accord::node {

struct WitnessTarget {
  note::Verifier key;  // cosignature/v1
  std::string url;     // its add-checkpoint prefix (http[s]://host[:port][/path])
};

struct CosignerOptions {
  size_t quorum = 0;  // cosignatures needed before a checkpoint is published; 0: every witness's
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds retry{5000};
  // An unchanged checkpoint is cosigned again this long after it was last published (0: never),
  // so that the published cosignatures stay fresh while the log is idle and clients that bound
  // their age (`accord update --max-age`) keep accepting it. Until the quorum cosigned it again,
  // the previous cosignatures stay published.
  std::chrono::milliseconds refresh{600000};
  // Several processes of one log (PostgreSQL mode) each cosign their replica: a witness that
  // cosigned a larger tree of it is then normal (another process is ahead), not reported.
  bool shared_log = false;
  // HTTPS witnesses: trust the CA certificates in this PEM file instead of the system's.
  std::string ca_cert;
};

class Cosigner {
 public:
  // Starts the thread. `log` must outlive the Cosigner.
  Cosigner(tlog::LogWriter& log, std::vector<WitnessTarget> witnesses, CosignerOptions options = {});
  ~Cosigner();  // stops the thread (a request in flight finishes first, bounded by the timeout)

 private:
  void Run();
  void Round(const tlog::VerifiedCheckpoint& cp);
  // Witness i has no cosignature of the current checkpoint, or one older than `refresh`.
  bool Due(size_t i, std::chrono::steady_clock::time_point now) const;

  tlog::LogWriter& log_;
  const std::vector<WitnessTarget> witnesses_;
  const CosignerOptions options_;
  // Cosigner thread only.
  std::vector<uint64_t> witness_size_;                // what each witness last cosigned (0: unknown)
  std::vector<std::vector<note::Signature>> cosigs_;  // for the checkpoint `round_raw_`
  std::vector<std::chrono::steady_clock::time_point> cosigned_at_;  // when each of cosigs_ came
  std::vector<std::chrono::steady_clock::time_point> next_ask_;     // not before (after a failure)
  std::vector<std::string> last_error_;                             // per witness, to report changes only
  std::string round_raw_;                                           // the checkpoint being cosigned
  std::string published_raw_;  // the log-signed note that DIR/checkpoint holds, cosigned

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace accord::node
