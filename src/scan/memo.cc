#include "scan/memo.h"

#include <algorithm>

#include "core/bytes.h"

namespace accord::scan {

void SizeCensus::Add(uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = counts_.find(size);
  if (it == counts_.end()) {
    if (counts_.size() < accord::limits::kMaxSizeCensusSizes) counts_.emplace(size, 1);
  } else if (it->second < UINT32_MAX) {
    ++it->second;
  }
}

void SizeCensus::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  finished_ = true;
}

bool SizeCensus::Unique(uint64_t size) const {
  std::lock_guard<std::mutex> l(mu_);
  if (!finished_) return false;
  auto it = counts_.find(size);
  return it != counts_.end() && it->second == 1;
}

ScanMemo::ScanMemo(size_t max_entries, size_t max_bytes)
    : max_entries_(std::max<size_t>(1, max_entries)), max_bytes_(max_bytes) {}

size_t ScanMemo::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

size_t ScanMemo::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

size_t ScanMemo::Cost(const Entry& e) {
  // The list node, the two index nodes, and the heap behind the strings (short ones included).
  size_t n =
      sizeof(Entry) + 128 + e.digest.size() + e.path.size() + e.owner.size() + (e.key ? e.key->size() : 0);
  for (const Finding& f : e.findings)
    n += sizeof(Finding) + f.path.size() + f.name.size() + f.kind.size() + f.source.size() +
         f.item_sha256.size() + f.item_digest.size();
  return n;
}

void ScanMemo::Answer(const Entry& e, FileReport& report) {
  report.findings = e.findings;
  for (Finding& f : report.findings) f.path.insert(0, report.path);
  report.sha256 = HexEncode(e.digest);
  report.bytes_scanned = e.bytes_scanned;
  report.clock_dependent = false;
  report.error.clear();
}

namespace {
std::string_view Name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
}  // namespace

ScanMemo::Claim ScanMemo::Take(const std::string& digest, FileReport& report, const FileStamp& stamp,
                               const std::function<std::string(const FileReport&)>& key_of,
                               uint64_t* ticket) {
  std::lock_guard<std::mutex> l(mu_);
  *ticket = 0;
  auto [first, last] = by_digest_.equal_range(digest);
  std::optional<std::string> mine;
  size_t variants = 0;
  for (auto it = first; it != last; ++it, ++variants) {
    Entry& e = *it->second;
    if (!e.key) {
      FileReport first;
      first.path = e.path;
      first.owner = e.owner;
      e.key = key_of(first);
    }
    if (!mine) mine = key_of(report);
    if (*e.key != *mine || (e.by_name && Name(e.path) != Name(report.path))) continue;
    if (e.done) {
      Answer(e, report);
      return Claim::kAnswered;
    }
    e.waiters.push_back({std::move(report), stamp});
    return Claim::kWaiting;
  }
  if (variants >= accord::limits::kMaxScanMemoVariants) return Claim::kScan;  // kept nowhere
  Entry e;
  e.id = next_id_++;
  e.digest = digest;
  e.path = report.path;
  e.owner = report.owner;
  e.key = std::move(mine);
  e.cost = Cost(e);
  // Indexed whole or not at all: an entry found by its digest without a ticket would keep its
  // waiters waiting for ever (an allocation that fails here is the caller's exception).
  auto it = entries_.insert(entries_.end(), std::move(e));
  try {
    auto d = by_digest_.emplace(digest, it);
    try {
      by_id_.emplace(it->id, it);
    } catch (...) {
      by_digest_.erase(d);
      throw;
    }
  } catch (...) {
    entries_.erase(it);
    throw;
  }
  bytes_ += it->cost;
  *ticket = it->id;
  Evict();
  return Claim::kScan;
}

ScanMemo::Completed ScanMemo::Complete(uint64_t ticket, const FileReport& report) {
  std::lock_guard<std::mutex> l(mu_);
  Completed out;
  auto found = by_id_.find(ticket);
  if (found == by_id_.end()) return out;
  auto it = found->second;
  Entry& e = *it;
  // Kept if it may be (as the scan cache would), as the first file's, and not too large.
  bool keep = Recordable(report) && report.path == e.path && report.sha256 == HexEncode(e.digest);
  if (keep) {
    e.bytes_scanned = report.bytes_scanned;
    e.by_name = report.named_after_top;
    e.findings = report.findings;
    // Recordable promised every finding's path starts with the first file's, then "!" or nothing.
    for (Finding& f : e.findings) f.path.erase(0, e.path.size());
    bytes_ -= e.cost;
    e.cost = Cost(e);
    bytes_ += e.cost;
    keep = e.cost <= max_bytes_ / 64;
  }
  if (keep) {
    // Room for every waiter first: past this point nothing allocates but Answer, and a waiter
    // it cannot answer is handed back to be scanned.
    out.answered.reserve(e.waiters.size());
    out.unanswered.reserve(e.waiters.size());
    e.done = true;
    for (Waiter& w : e.waiters) {
      if (e.by_name && Name(w.report.path) != Name(e.path)) {
        out.unanswered.push_back(std::move(w));
        continue;
      }
      try {
        Answer(e, w.report);
      } catch (const std::exception&) {
        out.unanswered.push_back(std::move(w));
        continue;
      }
      out.answered.push_back(std::move(w));
    }
    e.waiters.clear();
    Evict();
    return out;
  }
  out.unanswered = std::move(e.waiters);
  Forget(it);
  return out;
}

std::list<ScanMemo::Entry>::iterator ScanMemo::Forget(std::list<Entry>::iterator it) {
  auto [first, last] = by_digest_.equal_range(it->digest);
  for (auto d = first; d != last; ++d)
    if (d->second == it) {
      by_digest_.erase(d);
      break;
    }
  by_id_.erase(it->id);
  bytes_ -= it->cost;
  return entries_.erase(it);
}

void ScanMemo::Evict() {
  // The oldest contents first; one being scanned is kept (at most one per thread).
  for (auto it = entries_.begin();
       (entries_.size() > max_entries_ || bytes_ > max_bytes_) && it != entries_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it = Forget(it);
  }
}

}  // namespace accord::scan
