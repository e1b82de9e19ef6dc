#include "node/cosigner.h"

#include <cstdio>
#include <future>

#include "core/fs.h"
#include "core/limits.h"
#include "core/thread_name.h"
#include "crypto/note.h"
#include "tlog/merkle.h"
#include "tlog/tile.h"
#include "witness/client.h"

namespace accord::node {

Cosigner::Cosigner(tlog::LogWriter& log, std::vector<WitnessTarget> witnesses, CosignerOptions options)
    : log_(log),
      witnesses_(std::move(witnesses)),
      options_(options),
      witness_size_(witnesses_.size(), 0),
      cosigs_(witnesses_.size()),
      cosigned_at_(witnesses_.size()),
      next_ask_(witnesses_.size()),
      last_error_(witnesses_.size()) {
  thread_ = std::thread([this] {
    NameThisThread("log-cosigner");
    Run();
  });
}

Cosigner::~Cosigner() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Cosigner::Due(size_t i, std::chrono::steady_clock::time_point now) const {
  return cosigs_[i].empty() || (options_.refresh.count() > 0 && now - cosigned_at_[i] >= options_.refresh);
}

void Cosigner::Run() {
  auto next_retry = std::chrono::steady_clock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
    }
    tlog::VerifiedCheckpoint cp = log_.checkpoint();
    const auto now = std::chrono::steady_clock::now();
    bool fresh = cp.raw != round_raw_;
    // A witness to ask: it has not cosigned this checkpoint, or its cosignature is `refresh` old
    // (an idle log stays fresh for clients' --max-age); not before its retry time after a failure.
    bool ask = false;
    for (size_t i = 0; i < witnesses_.size(); ++i) ask = ask || (Due(i, now) && now >= next_ask_[i]);
    bool unpublished = published_raw_ != round_raw_;  // too few cosignatures, or a write failed
    if (fresh || ask || (unpublished && now >= next_retry)) {
      Round(cp);
      next_retry = std::chrono::steady_clock::now() + options_.retry;
      continue;
    }
    // Nothing to do: wait for a new checkpoint (or the retry time, or stop).
    auto r = log_.WaitForGrowth(cp.checkpoint.size, std::chrono::milliseconds(200));
    if (!r.ok()) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::milliseconds(200), [&] { return stop_; });
    }
  }
}

void Cosigner::Round(const tlog::VerifiedCheckpoint& cp) {
  const uint64_t n = cp.checkpoint.size;
  const auto start = std::chrono::steady_clock::now();
  if (cp.raw != round_raw_) {
    for (auto& c : cosigs_) c.clear();
    for (auto& t : next_ask_) t = {};
    round_raw_ = cp.raw;
  }
  // Each witness that has not cosigned this checkpoint yet or whose cosignature is due for a
  // refresh, all at once.
  std::vector<std::future<witness::CosignResult>> asks(witnesses_.size());
  const std::string dir = log_.dir();
  for (size_t i = 0; i < witnesses_.size(); ++i) {
    if (!Due(i, start) || start < next_ask_[i]) continue;
    asks[i] = std::async(std::launch::async, [this, i, n, &cp, &dir] {
      uint64_t old = witness_size_[i] <= n ? witness_size_[i] : 0;
      witness::CosignResult r;
      for (int attempt = 0; attempt < 2; ++attempt) {
        std::vector<tlog::Hash> proof;
        if (old > 0 && old < n) {
          tlog::DirTileReader reader(dir);
          tlog::TileHashSource hashes(reader, n);
          Result<std::vector<tlog::Hash>> p = tlog::ProveConsistency(hashes, old, n);
          if (!p.ok()) {
            r.status = p.status().WithContext("consistency proof from " + std::to_string(old));
            return r;
          }
          proof = std::move(p).value();
        }
        r = witness::RequestCosignature(witnesses_[i].url, witnesses_[i].key, old, proof, cp.raw,
                                        options_.timeout, options_.ca_cert);
        // 409 with the witness's size: it saw another size of this log; prove from there.
        if (r.status.code() == Code::kFailedPrecondition && r.witness_size && *r.witness_size <= n &&
            *r.witness_size != old) {
          old = *r.witness_size;
          continue;
        }
        break;
      }
      if (r.ok()) r.witness_size = n;
      // A cosignature dated far from now (a witness's clock that is off, or an old answer replayed
      // over plain HTTP) would be refused by clients that bound the age of cosignatures, and could
      // replace a newer one: that witness failed.
      const uint64_t now_s = uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
      for (size_t k = 0; r.ok() && k < r.timestamps.size(); ++k) {
        const uint64_t t = r.timestamps[k];
        if (t + limits::kMaxClockSkew >= now_s && t <= now_s + limits::kMaxClockSkew) continue;
        r.status = PermissionDenied("its cosignature is dated " + std::to_string(t) + ", " +
                                    std::to_string(t > now_s ? t - now_s : now_s - t) + " s " +
                                    (t > now_s ? "after" : "before") + " this node's clock (at most " +
                                    std::to_string(limits::kMaxClockSkew) + " s either way)");
        r.cosignatures.clear();
      }
      return r;
    });
  }
  for (size_t i = 0; i < witnesses_.size(); ++i) {
    if (!asks[i].valid()) continue;
    witness::CosignResult r = asks[i].get();
    const std::string& name = witnesses_[i].key.name;
    if (r.ok()) {
      witness_size_[i] = n;
      cosigs_[i] = std::move(r.cosignatures);
      cosigned_at_[i] = std::chrono::steady_clock::now();
      if (!last_error_[i].empty())
        std::fprintf(stderr, "accord: witness %s: cosigning again\n", name.c_str());
      last_error_[i].clear();
    } else {
      // An older cosignature of this checkpoint, if any, stays: it is still valid.
      next_ask_[i] = std::chrono::steady_clock::now() + options_.retry;
      if (r.witness_size) witness_size_[i] = *r.witness_size;
      if (options_.shared_log && r.witness_size && *r.witness_size > n) {
        // The witness cosigned a larger tree of this log: another process of it (PostgreSQL mode)
        // whose replica is ahead of this one. Not a failure: asked again when this replica has
        // grown (a new checkpoint clears next_ask_).
        continue;
      }
      std::string e = r.status.ToString();
      if (e != last_error_[i])
        std::fprintf(stderr, "accord: witness %s (%s): checkpoint %llu not cosigned: %s\n", name.c_str(),
                     witnesses_[i].url.c_str(), (unsigned long long)n, e.c_str());
      last_error_[i] = std::move(e);
    }
  }
  std::vector<note::Signature> all;
  size_t cosigned = 0;
  for (const auto& c : cosigs_) {
    all.insert(all.end(), c.begin(), c.end());
    cosigned += c.empty() ? 0 : 1;
  }
  const size_t needed =
      options_.quorum == 0 ? witnesses_.size() : std::min(options_.quorum, witnesses_.size());
  if (cosigned < needed) return;  // the previous checkpoint stays published; asked again later
  Result<std::string> published = witness::AddCosignatures(cp.raw, all);
  Status st = published.status();
  if (st.ok()) {
    // Every cosignature must verify over the published note: a client whose policy names a
    // witness refuses the whole note when that witness's signature on it fails.
    std::vector<note::Verifier> keys;
    for (const auto& w : witnesses_) keys.push_back(w.key);
    if (Result<note::OpenedNote> check = note::Open(*published, keys); !check.ok())
      st = Internal("the cosigned checkpoint does not verify: " + check.status().message());
  }
  if (st.ok()) st = fs::WriteFileAtomic(fs::JoinPath(log_.dir(), "checkpoint"), *published);
  if (!st.ok()) {
    std::fprintf(stderr, "accord: publishing the cosigned checkpoint %llu: %s\n", (unsigned long long)n,
                 st.ToString().c_str());
    return;
  }
  published_raw_ = cp.raw;
}

}  // namespace accord::node
