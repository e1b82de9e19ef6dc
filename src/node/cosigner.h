// Gathers witnesses' cosignatures for the node's checkpoints and publishes the cosigned
// checkpoint (c2sp.org/tlog-witness, client side).
//
// The log writer, opened with LogOptions::witnessed, keeps its own signed checkpoint in
// DIR/.accord/checkpoint. The Cosigner's thread follows it: for each new checkpoint it sends an
// add-checkpoint request to every witness at once (old size: the size that witness last cosigned,
// or the one it names in a 409; the consistency proof computed from the log's tiles), waits at
// most `timeout` for the answers, and writes DIR/checkpoint (what the read path serves) with the
// log's signature and every cosignature that came back. A witness that is down or slow delays
// publication by at most `timeout`; it is asked again with the next checkpoint, or after
// `retry` if no new one comes. Failures go to standard error, once per change of state.
//
// Thread-safety: the public methods may be called from any thread.
#pragma once

#include <atomic>
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
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds retry{5000};
};

class Cosigner {
 public:
  // Starts the thread. `log` must outlive the Cosigner.
  Cosigner(tlog::LogWriter& log, std::vector<WitnessTarget> witnesses, CosignerOptions options = {});
  ~Cosigner();  // stops the thread (a request in flight finishes first, bounded by the timeout)

  // Waits up to `timeout` until DIR/checkpoint covers `size` entries with every witness's
  // cosignature; returns whether it does.
  bool WaitForCosigned(uint64_t size, std::chrono::milliseconds timeout);
  uint64_t published_size() const { return published_size_.load(); }

 private:
  void Run();
  void Round(const tlog::VerifiedCheckpoint& cp);

  tlog::LogWriter& log_;
  const std::vector<WitnessTarget> witnesses_;
  const CosignerOptions options_;
  // Cosigner thread only.
  std::vector<uint64_t> witness_size_;                // what each witness last cosigned (0: unknown)
  std::vector<std::vector<note::Signature>> cosigs_;  // for the checkpoint of `round_size_`
  std::vector<std::string> last_error_;               // per witness, to report changes only
  uint64_t round_size_ = UINT64_MAX;
  std::string round_raw_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t fully_cosigned_ = 0;  // largest size published with every witness's cosignature
  std::atomic<uint64_t> published_size_{0};
  std::thread thread_;
};

}  // namespace accord::node
