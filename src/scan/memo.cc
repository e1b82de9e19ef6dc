#include "scan/memo.h"

#include <algorithm>

namespace accord::scan {

ScanMemo::ScanMemo(size_t max_entries) : max_entries_(std::max<size_t>(1, max_entries)) {}

size_t ScanMemo::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

void ScanMemo::Answer(const Entry& e, FileReport& report) {
  // Recordable promised every finding's path starts with the first file's, then "!" or nothing.
  const size_t prefix = e.report.path.size();
  report.findings = e.report.findings;
  for (Finding& f : report.findings) f.path = report.path + f.path.substr(prefix);
  report.sha256 = e.report.sha256;
  report.bytes_scanned = e.report.bytes_scanned;
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
    if (!e.key) e.key = key_of(e.report);
    if (!mine) mine = key_of(report);
    if (*e.key != *mine || (e.by_name && Name(e.report.path) != Name(report.path))) continue;
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
  e.report.path = report.path;
  e.report.owner = report.owner;
  e.key = std::move(mine);
  auto it = entries_.insert(entries_.end(), std::move(e));
  by_digest_.emplace(digest, it);
  by_id_.emplace(it->id, it);
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
  if (Recordable(report) && report.path == e.report.path) {
    std::optional<std::string> key = std::move(e.key);
    e.report = report;
    e.key = std::move(key);
    e.done = true;
    e.by_name = report.named_after_top;
    for (Waiter& w : e.waiters) {
      if (e.by_name && Name(w.report.path) != Name(e.report.path)) {
        out.unanswered.push_back(std::move(w));
        continue;
      }
      Answer(e, w.report);
      out.answered.push_back(std::move(w));
    }
    e.waiters.clear();
    Evict();
    return out;
  }
  out.unanswered = std::move(e.waiters);
  auto [first, last] = by_digest_.equal_range(e.digest);
  for (auto d = first; d != last; ++d)
    if (d->second == it) {
      by_digest_.erase(d);
      break;
    }
  by_id_.erase(found);
  entries_.erase(it);
  return out;
}

void ScanMemo::Evict() {
  // The oldest contents first; one being scanned is kept (at most one per thread).
  for (auto it = entries_.begin(); entries_.size() > max_entries_ && it != entries_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    auto [first, last] = by_digest_.equal_range(it->digest);
    for (auto d = first; d != last; ++d)
      if (d->second == it) {
        by_digest_.erase(d);
        break;
      }
    by_id_.erase(it->id);
    it = entries_.erase(it);
  }
}

}  // namespace accord::scan
