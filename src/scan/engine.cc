#include "scan/engine.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "core/fs.h"
#include "scan/digest.h"
#include "scan/member_memo.h"
#include "scan/tlsh.h"

namespace accord::scan {
namespace {
constexpr size_t kKeptBuffer = size_t{64} << 20;  // a worker's read buffer over this is freed after use
}  // namespace

bool FileReport::detected() const {
  // Signature hits; limits, encryption and damage are reported but are not detections.
  for (const Finding& f : findings)
    if (f.kind != "limit" && f.kind != "encrypted" && f.kind != "corrupt") return true;
  return false;
}

class Engine::Worker {
 public:
  explicit Worker(const std::vector<std::shared_ptr<const YaraRules>>& yara) {
    for (const auto& r : yara) scanners.push_back(std::make_unique<YaraScanner>(r));
  }
  std::vector<std::unique_ptr<YaraScanner>> scanners;
  TlshHasher tlsh;
  // The file being scanned, reused from file to file. It grows without zero-filling or copying
  // what it held (std::string::resize does both): ReadFd overwrites the bytes it scans.
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;         // of buffer
  size_t read = 0;             // bytes of it read (ReadFile)
  std::optional<Digests> top;  // ContentDigest's digests of them, for the scan to reuse
  std::chrono::steady_clock::time_point deadline;
  // OwnerName, asked once per user and worker (glibc reads /etc/passwd again on every call), and
  // again after kOwnerNamesKept: a long-lived worker (scand's) sees a user renamed.
  const std::string& Owner(uid_t uid) {
    auto now = std::chrono::steady_clock::now();
    if (now - owners_since > kOwnerNamesKept) {
      owners.clear();
      owners_since = now;
    }
    auto it = owners.find(uid);
    if (it == owners.end()) it = owners.emplace(uid, OwnerName(uid)).first;
    return it->second;
  }
  static constexpr std::chrono::seconds kOwnerNamesKept{10};
  std::unordered_map<uid_t, std::string> owners;
  std::chrono::steady_clock::time_point owners_since;
};

Engine::Engine(std::vector<std::shared_ptr<const Database>> dbs,
               std::vector<std::shared_ptr<const YaraRules>> yara, ScanOptions options)
    : dbs_(std::move(dbs)), yara_(std::move(yara)), options_(std::move(options)) {
  for (const auto& db : dbs_) {
    tlsh_ = tlsh_ || db->TlshCount() > 0;
    for (HashKind k : {HashKind::kMd5, HashKind::kSha1, HashKind::kSha256})
      hash_lookups_ = hash_lookups_ || db->HasKind(k);
    for (const Source& src : db->sources())
      if (src.kind == uint32_t(SourceKind::kLogEntry)) log_sources_.insert(src.name);
  }
  if (options_.share_member_scans && !yara_.empty()) member_memo_ = std::make_unique<MemberMemo>();
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;

bool Engine::shares_member_scans() const {
  return member_memo_ != nullptr;
}

uint64_t Engine::shared_member_scans() const {
  return member_memo_ ? member_memo_->shared() : 0;
}

void Engine::Cite(FileReport& report) const {
  if (log_sources_.empty()) return;
  for (Finding& f : report.findings)
    if (f.kind != "limit" && f.kind != "corrupt" && f.kind != "encrypted")
      f.cited = log_sources_.count(f.source) != 0;
}

bool Engine::Wants(HashKind kind) const {
  for (const auto& db : dbs_)
    if (db->HasKind(kind)) return true;
  return false;
}

Engine::WorkerPtr Engine::NewWorker() const {
  return WorkerPtr(new Worker(yara_));
}
void Engine::WorkerDeleter::operator()(Worker* w) const {
  delete w;
}

namespace {
// A database had more TLSH matches for one item than limits::kMaxTlshMatches: the rest are counted.
constexpr std::string_view kTlshMatchesExceeded = "Heuristics.Limits.Exceeded.MaxTlshMatches";

std::string Hex(const uint8_t* p, size_t n) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(p), n));
}

// The name inside its container ("a/b.exe" for "x.zip!a/b.exe"), then its base name and extension.
void NameParts(const std::string& display, YaraExternals& ext) {
  size_t bang = display.rfind('!');
  std::string inner = bang == std::string::npos ? display : display.substr(bang + 1);
  size_t slash = inner.rfind('/');
  ext.filename = slash == std::string::npos ? inner : inner.substr(slash + 1);
  size_t dot = ext.filename.rfind('.');
  ext.extension = dot == std::string::npos || dot == 0 ? "" : ext.filename.substr(dot);
  for (char& c : ext.extension) c = char(std::tolower(static_cast<unsigned char>(c)));
  ext.filepath = bang == std::string::npos ? display : inner;
}
}  // namespace

std::string OwnerName(uid_t uid) {
  struct passwd pw, *out = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out) return pw.pw_name;
  return std::to_string(uid);
}

size_t Engine::signature_count() const {
  size_t n = 0;
  for (const auto& y : yara_) n += y->rule_count();
  for (const auto& db : dbs_) {
    for (HashKind k : {HashKind::kMd5, HashKind::kSha1, HashKind::kSha256}) n += db->SignatureCount(k);
    n += db->TlshCount();
  }
  return n;
}

bool Engine::ScanItem(Worker& w, ByteView data, bool top, const std::string& path, const YaraExternals& ext,
                      FileReport& report) const {
  report.bytes_scanned += data.size();
  // SHA-256 for the top-level file, whose report carries it (unless file_digests is off); MD5
  // and SHA-1 only if signed. Any item is hashed if a database looks digests up, or once a
  // signature matched it (its findings carry the SHA-256: a member's with a database, the top's
  // always): most items are clean.
  Digests d;
  const bool hashed = !dbs_.empty() || top;
  bool have_digests = false;
  if (top && w.top) {
    d = *w.top;
    have_digests = true;
  } else if ((top && options_.file_digests) || hash_lookups_ || tlsh_) {
    d = ComputeDigests(data, Wants(HashKind::kMd5), Wants(HashKind::kSha1));
    have_digests = true;
  }
  if (top && have_digests) report.sha256 = Hex(d.sha256.data(), 32);
  struct {
    HashKind kind;
    bool present;
    ByteView digest;
    const char* label;
  } kinds[] = {
      {HashKind::kMd5, d.has_md5, ByteView(reinterpret_cast<const char*>(d.md5.data()), 16), "md5"},
      {HashKind::kSha1, d.has_sha1, ByteView(reinterpret_cast<const char*>(d.sha1.data()), 20), "sha1"},
      {HashKind::kSha256, have_digests, ByteView(reinterpret_cast<const char*>(d.sha256.data()), 32),
       "sha256"},
  };
  for (const auto& db : dbs_)
    for (const auto& k : kinds)
      if (k.present && db->IsAllowed(k.kind, k.digest, data.size())) return false;  // never reported
  for (const auto& db : dbs_) {
    for (const auto& k : kinds) {
      if (!k.present || !db->HasKind(k.kind)) continue;
      auto matches = db->LookupHash(k.kind, k.digest, data.size());
      if (!matches.ok()) {
        report.findings.push_back(
            {path, "Heuristics.Broken.Database", "corrupt", matches.status().message()});
        continue;
      }
      const auto& sources = db->sources();
      for (const auto& m : *matches)
        report.findings.push_back({path, m.name, k.label,
                                   m.source < sources.size() ? sources[m.source].name : "", std::nullopt,
                                   false, Hex(d.sha256.data(), 32), HexEncode(k.digest)});
    }
  }
  // TLSH: no digest for short or uniform items, and then nothing to match.
  std::optional<TlshDigest> tlsh = tlsh_ ? w.tlsh.Hash(data) : std::nullopt;
  for (const auto& db : dbs_) {
    if (!tlsh || db->TlshCount() == 0) continue;
    Result<TlshLookup> found = db->LookupTlsh(*tlsh);
    if (!found.ok()) {
      report.findings.push_back({path, "Heuristics.Broken.Database", "corrupt", found.status().message()});
      continue;
    }
    const auto& sources = db->sources();
    for (const TlshMatch& m : found->matches) {
      report.findings.push_back({path, m.name, "tlsh",
                                 m.source < sources.size() ? sources[m.source].name : "", m.distance, false,
                                 Hex(d.sha256.data(), 32), tlsh->ToString()});
    }
    if (found->more > 0) {
      report.findings.push_back({path, std::string(kTlshMatchesExceeded), "limit",
                                 db->name() + ": " + std::to_string(found->more) + " more TLSH matches"});
    }
  }
  if (!w.scanners.empty()) {
    YaraExternals e = ext;
    e.filetype = FileTypeOf(data.substr(0, 64));
    bool timed = options_.limits.max_scan_time.count() > 0;
    int left =
        int(std::chrono::duration_cast<std::chrono::seconds>(w.deadline - std::chrono::steady_clock::now())
                .count());
    if (timed && left <= 0) {
      report.findings.push_back({path, std::string(kMaxScanTime), "limit", ""});
      return true;
    }
    // A member with the bytes of one scanned before, and an externals key the rules cannot tell
    // from its: that member's outcomes (scan/member_memo.h).
    std::vector<Result<YaraScanner::Outcome>> outcomes;
    std::string digest;
    bool first = false;
    if (!top && member_memo_) {
      if (!have_digests) {
        d = ComputeDigests(data, false, false);
        have_digests = true;
      }
      digest.assign(reinterpret_cast<const char*>(d.sha256.data()), d.sha256.size());
      MemberMemo::Claim claim = member_memo_->Take(digest, e);
      first = claim.kind == MemberMemo::Claim::Kind::kFirst;
      if (claim.kind == MemberMemo::Claim::Kind::kSeen && claim.outcomes->size() == w.scanners.size()) {
        if (!claim.first_key) {
          claim.first_key = KeyOf(w, claim.first);
          member_memo_->RememberKey(digest, *claim.first_key);
        }
        if (*claim.first_key == KeyOf(w, e)) {
          for (const auto& o : *claim.outcomes) outcomes.emplace_back(o);
          member_memo_->CountShared();
        }
      }
    }
    if (outcomes.empty()) {
      // Whatever happens (an exception out of a scan), the memo's entry for these bytes is
      // completed, kept or not: later members must not wait on it for ever.
      struct Unclaim {
        MemberMemo* memo;
        const std::string& digest;
        bool* pending;
        ~Unclaim() {
          if (*pending) memo->Complete(digest, std::nullopt);
        }
      } unclaim{member_memo_.get(), digest, &first};
      for (auto& scanner : w.scanners)
        outcomes.push_back(scanner->Scan(data, e, timed ? std::max(1, left) : 0));
      if (first) {
        bool reusable = true;
        MemberMemo::Outcomes kept;
        for (const auto& o : outcomes) {
          reusable = reusable && o.ok() && !o->timed_out && !o->clock_dependent;
          if (reusable) kept.push_back(*o);
        }
        member_memo_->Complete(digest, reusable ? std::optional(std::move(kept)) : std::nullopt);
        first = false;
      }
    }
    for (auto& outcome : outcomes) {
      if (!outcome.ok()) {
        report.findings.push_back(
            {path, "Heuristics.Broken.YaraScan", "corrupt", outcome.status().message()});
        continue;
      }
      if (outcome->clock_dependent) report.clock_dependent = true;
      if (hashed && !have_digests && !outcome->matches.empty()) {
        d = ComputeDigests(data, false, false);
        have_digests = true;
        if (top) report.sha256 = Hex(d.sha256.data(), 32);
      }
      for (const auto& m : outcome->matches)
        report.findings.push_back(
            {path, m.rule, "yara", m.source, std::nullopt, false, hashed ? Hex(d.sha256.data(), 32) : ""});
      if (outcome->timed_out) report.findings.push_back({path, std::string(kMaxScanTime), "limit", ""});
      for (const auto& s : outcome->capped)
        report.findings.push_back({path, "Heuristics.Limits.Exceeded.MaxStringMatches", "limit", s});
    }
  }
  return true;
}

FileReport Engine::ScanBuffer(Worker& w, ByteView data, const std::string& display_path) const {
  FileReport report;
  report.path = display_path;
  report.size = data.size();
  w.top.reset();  // digests of another file's bytes (ContentDigest without ScanRead)
  YaraExternals base;
  ScanTree(w, data, display_path, base, report);
  Cite(report);
  return report;
}

FileReport Engine::ScanStream(Worker& w, int fd, const std::string& display_path) const {
  const uint64_t cap = options_.limits.max_file_size;
  FileReport report;
  report.path = display_path;
  std::string data;
  std::unique_ptr<char[]> chunk(new char[1 << 16]);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, chunk.get(), 1 << 16);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a non-blocking descriptor
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n < 0) {
      report.size = total;
      report.error = std::string("read failed: ") + std::strerror(errno);
      return report;
    }
    if (n == 0) break;
    total += uint64_t(n);
    // Past the limit the rest is read and dropped, so that the writer is not cut off (SIGPIPE).
    if (total <= cap) data.append(chunk.get(), size_t(n));
  }
  if (total > cap) {
    report.size = total;
    report.findings.push_back({display_path, std::string(kMaxFileSize), "limit",
                               std::to_string(total) + " bytes, over " + std::to_string(cap)});
    return report;
  }
  return ScanBuffer(w, data, display_path);
}

void Engine::ScanTree(Worker& w, ByteView data, const std::string& display_path, const YaraExternals& top,
                      FileReport& report) const {
  w.deadline = std::chrono::steady_clock::now() + options_.limits.max_scan_time;
  Walker walker(options_.limits);
  WalkStats stats;
  // The allow-listed item being walked (the walk visits an item, then what is inside it): its
  // members are not scanned. The walk's notes are all reported, those about its members too: a
  // limit it uses up (scan size, time) stops the walk for what follows it, which must show.
  int allowed_depth = -1;
  bool first = true;  // the walk visits the buffer itself first
  stats = walker.Walk(
      data, display_path,
      [&](const Item& item) {
        if (allowed_depth >= 0 && item.depth > allowed_depth) return;  // inside it
        allowed_depth = -1;
        YaraExternals ext = top;
        std::string path(item.path);
        if (item.depth > 0) {
          NameParts(path, ext);
          ext.owner.clear();
        }
        const bool is_top = std::exchange(first, false);
        if (!ScanItem(w, item.data, is_top, path, ext, report)) allowed_depth = item.depth;
      },
      [&](const Event& e) {
        const char* kind = e.kind == EventKind::kLimitExceeded ? "limit"
                           : e.kind == EventKind::kEncrypted   ? "encrypted"
                                                               : "corrupt";
        // Damaged and unsupported containers are worth a line, not an alarm: ClamAV reports
        // them only with --alert-broken. They are findings of their own kind in JSON.
        report.findings.push_back({e.path, e.name, kind, e.message});
      });
  if (stats.named_after_top) report.named_after_top = true;
}

namespace {
// File systems whose inode times the kernel keeps on every change (FileReport::kernel_times).
bool KernelKeepsTimes(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<uint32_t>(fs.f_type)) {
    case 0xEF53:      // ext2, ext3, ext4
    case 0x58465342:  // xfs
    case 0x9123683E:  // btrfs
    case 0xF2F52010:  // f2fs
    case 0x2FC12FC1:  // zfs
    case 0xCA451A4E:  // bcachefs
    case 0x3153464A:  // jfs
    case 0x52654973:  // reiserfs
    case 0x3434:      // nilfs2
      return true;
    default:
      return false;
  }
}
}  // namespace

FileReport Engine::ScanFile(Worker& w, const std::string& path) const {
  bool read = false;
  FileReport report = ReadFile(w, path, true, &read);
  if (read) ScanRead(w, report);
  return report;
}

FileReport Engine::ReadFile(Worker& w, const std::string& path, bool named, bool* read) const {
  *read = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (named ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    FileReport report;
    report.path = path;
    report.error = !named && errno == ELOOP ? std::string("cannot open: now a symbolic link, not followed")
                                            : std::string("cannot open: ") + std::strerror(errno);
    return report;
  }
  FileReport report = ReadFd(w, fd, path, read);
  ::close(fd);
  return report;
}

FileReport Engine::ReadFileBeneath(Worker& w, int dirfd, const std::string& rel, const std::string& path,
                                   bool* read) const {
  *read = false;
  int fd = fs::OpenBeneath(dirfd, rel, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    FileReport report;
    report.path = path;
    report.error = errno == ELOOP
                       ? std::string("cannot open: a symbolic link now stands in its path, not followed")
                       : std::string("cannot open: ") + std::strerror(errno);
    return report;
  }
  FileReport report = ReadFd(w, fd, path, read);
  ::close(fd);
  return report;
}

FileReport Engine::ScanFd(Worker& w, int fd, const std::string& path) const {
  bool read = false;
  FileReport report = ReadFd(w, fd, path, &read);
  if (read) ScanRead(w, report);
  return report;
}

FileReport Engine::ReadFd(Worker& w, int fd, const std::string& path, bool* read) const {
  *read = false;
  w.read = 0;
  w.top.reset();
  FileReport report;
  report.path = path;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    report.error = "not a regular file";
    return report;
  }
  report.size = uint64_t(st.st_size);
  report.owner = w.Owner(st.st_uid);
  if (report.size > options_.limits.max_file_size) {
    report.read_stable = true;  // nothing read: the decision rests on this descriptor's size alone
    report.read_stat = st;
    report.kernel_times = KernelKeepsTimes(fd);
    report.findings.push_back(
        {path, std::string(kMaxFileSize), "limit",
         std::to_string(report.size) + " bytes, over " + std::to_string(options_.limits.max_file_size)});
    return report;
  }
  // pread(2) into our own buffer, not mmap: a file truncated while we scan it cannot SIGBUS us,
  // and we scan exactly the bytes we read; pread leaves the descriptor's offset (a client's, for
  // FILDES) where it was. The buffer only grows, at least twofold up to kKeptBuffer (the old one
  // freed first: its bytes are not needed), and only the bytes read are ever scanned.
  if (w.capacity < report.size) {
    size_t capacity = std::max<size_t>(report.size, std::min(2 * w.capacity, kKeptBuffer));
    w.buffer.reset();
    w.capacity = 0;  // (so if the allocation throws: the next file allocates again)
    w.buffer = std::make_unique_for_overwrite<char[]>(capacity);
    w.capacity = capacity;
  }
  size_t got = 0;
  while (got < report.size) {
    ssize_t n = ::pread(fd, w.buffer.get() + got, report.size - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      report.error = std::string("read failed: ") + std::strerror(errno);
      return report;
    }
    if (n == 0) break;  // shrank while we read: scan what there is
    got += size_t(n);
  }
  struct stat after;
  if (::fstat(fd, &after) == 0) {
    report.read_stable =
        after.st_dev == st.st_dev && after.st_ino == st.st_ino && after.st_size == st.st_size &&
        after.st_mtim.tv_sec == st.st_mtim.tv_sec && after.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
        after.st_ctim.tv_sec == st.st_ctim.tv_sec && after.st_ctim.tv_nsec == st.st_ctim.tv_nsec;
    report.read_stat = after;
  }
  report.kernel_times = KernelKeepsTimes(fd);
  report.size = got;
  w.read = got;
  *read = true;
  return report;
}

YaraExternals Engine::TopExternals(const FileReport& report) {
  YaraExternals ext;
  NameParts(report.path, ext);
  ext.filepath = report.path;
  ext.owner = report.owner;
  return ext;
}

std::string Engine::ContentDigest(Worker& w) const {
  w.top = ComputeDigests(ByteView(w.buffer.get(), w.read), Wants(HashKind::kMd5), Wants(HashKind::kSha1));
  return std::string(reinterpret_cast<const char*>(w.top->sha256.data()), w.top->sha256.size());
}

std::string Engine::KeyOf(Worker& w, const YaraExternals& ext) {
  std::string key;
  for (auto& scanner : w.scanners) {
    std::string k = scanner->ExternalsKey(ext);
    key += std::to_string(k.size()) + ":" + k;
  }
  return key;
}

std::string Engine::ExternalsKey(Worker& w, const FileReport& report) const {
  YaraExternals ext = TopExternals(report);
  ext.filetype = FileTypeOf(ByteView(w.buffer.get(), std::min<size_t>(w.read, 64)));
  return KeyOf(w, ext);
}

void Engine::ScanRead(Worker& w, FileReport& report) const {
  ScanTree(w, ByteView(w.buffer.get(), w.read), report.path, TopExternals(report), report);
  Cite(report);
  DropRead(w);
}

void Engine::DropRead(Worker& w) const {
  w.top.reset();
  w.read = 0;
  if (w.capacity > kKeptBuffer) {  // do not keep a huge buffer
    w.buffer.reset();
    w.capacity = 0;
  }
}

bool Engine::PathsCanShareKeys() const {
  constexpr uint8_t kFilepath = 1u << 1;  // kYaraExternals[1]
  static_assert(kYaraExternals[1] == "filepath");
  for (const auto& rules : yara_)
    if (rules->external_uses().opaque & kFilepath) return false;
  return true;
}

}  // namespace accord::scan
