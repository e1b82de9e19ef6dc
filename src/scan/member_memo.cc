#include "scan/member_memo.h"

namespace accord::scan {

namespace {
size_t SizeOf(const YaraExternals& e) {
  return e.filename.size() + e.filepath.size() + e.extension.size() + e.filetype.size() + e.owner.size();
}
size_t SizeOf(const MemberMemo::Outcomes& outcomes) {
  size_t n = 0;
  for (const auto& o : outcomes) {
    n += sizeof(o);
    for (const auto& m : o.matches) n += sizeof(m) + m.rule.size() + m.source.size();
    for (const auto& c : o.capped) n += sizeof(c) + c.size();
  }
  return n;
}
constexpr size_t kEntryOverhead = 160;  // the map node, the digest, the Entry
}  // namespace

MemberMemo::MemberMemo(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

MemberMemo::Claim MemberMemo::Take(const std::string& digest, const YaraExternals& ext) {
  std::lock_guard<std::mutex> l(mu_);
  Claim c;
  auto it = entries_.find(digest);
  if (it == entries_.end()) {
    const size_t size = kEntryOverhead + digest.size() + SizeOf(ext);
    if (entries_.size() >= max_entries_ || bytes_ + size > max_bytes_) return c;
    Entry& e = entries_[digest];
    e.first = ext;
    bytes_ += size;
    c.kind = Claim::Kind::kFirst;
    return c;
  }
  if (!it->second.done || !it->second.outcomes) return c;
  c.kind = Claim::Kind::kSeen;
  c.first = it->second.first;
  c.first_key = it->second.first_key;
  c.outcomes = it->second.outcomes;
  return c;
}

void MemberMemo::Complete(const std::string& digest, std::optional<Outcomes> outcomes) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end() || it->second.done) return;
  it->second.done = true;
  if (!outcomes) return;
  const size_t size = SizeOf(*outcomes);
  if (bytes_ + size > max_bytes_) return;  // not kept: the others are scanned
  bytes_ += size;
  it->second.outcomes = std::make_shared<const Outcomes>(std::move(*outcomes));
}

void MemberMemo::RememberKey(const std::string& digest, const std::string& first_key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end() || it->second.first_key || bytes_ + first_key.size() > max_bytes_) return;
  bytes_ += first_key.size();
  it->second.first_key = first_key;
}

void MemberMemo::CountShared() {
  std::lock_guard<std::mutex> l(mu_);
  ++shared_;
}

uint64_t MemberMemo::shared() const {
  std::lock_guard<std::mutex> l(mu_);
  return shared_;
}

}  // namespace accord::scan
