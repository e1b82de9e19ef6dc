#include "scan/database.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <tuple>

#include "core/fs.h"
#include "crypto/sha256.h"

namespace accord::scan {

// --- The format (docs/scan-database.md) ------------------------------------------------------------
namespace {

constexpr std::string_view kMagic = "ACCORDDB";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 56;        // magic, version, section count, file size, SHA-256
constexpr size_t kHashedPrefix = 24;      // the header bytes before the SHA-256 field
constexpr size_t kSectionEntrySize = 24;  // type u32, reserved u32, offset u64, size u64
constexpr size_t kTableHeaderSize = 16;   // count u64, bucket bits u32, reserved u32
constexpr uint32_t kMaxBucketBits = 24;
constexpr uint32_t kMaxSections = 16;
constexpr uint32_t kAnySize = 0xFFFFFFFF;
constexpr size_t kLabelHeaderSize = 6;  // source u32, name length u16
constexpr size_t kTlshHeaderSize = 16;  // count u64, max threshold u32, reserved u32
constexpr size_t kTlshIndexSize = 257 * 4;
constexpr size_t kTlshRecordSize = kTlshDigestSize + 6;  // digest, threshold u16, label u32

enum SectionType : uint32_t {
  kSources = 1,
  kLabels = 2,
  kDetectMd5 = 3,  // kDetectMd5 + HashKind
  kAllowMd5 = 6,   // kAllowMd5 + HashKind
  kYara = 9,
  kTlsh = 10,
  kProvenance = 11,
};
constexpr uint32_t kLastSectionType = kProvenance;

void PutLE32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLE16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void PutLE64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void SetLE64(Bytes& out, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
// Callers check bounds first.
uint32_t LE32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}
uint16_t LE16(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint16_t>(u[0] | u[1] << 8);
}
uint64_t LE64(const char* p) {
  return uint64_t(LE32(p)) | uint64_t(LE32(p + 4)) << 32;
}

// The top `bits` bits of a digest (at least 3 bytes long).
uint32_t Bucket(const char* digest, uint32_t bits) {
  if (bits == 0) return 0;
  const auto* u = reinterpret_cast<const uint8_t*>(digest);
  uint32_t top24 = uint32_t(u[0]) << 16 | uint32_t(u[1]) << 8 | u[2];
  return top24 >> (24 - bits);
}

uint32_t BucketBitsFor(uint64_t count) {
  if (count < 64) return 0;
  // About eight records per bucket, so that a bucket's records share a page; at most 2^20 buckets
  // (a 4 MiB index, 0.4 bytes per signature at 10 million).
  return std::min<uint32_t>(20, static_cast<uint32_t>(std::bit_width(count) - 1) - 3);
}

bool IsValidSourceName(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxSourceNameLength) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return IsValidUtf8(name);
}

std::string Count(uint64_t n) {
  return std::to_string(n);
}

}  // namespace

Source SignatureFileSource(std::string_view name, ByteView content) {
  crypto::Hash h = crypto::Sha256(content);
  return Source{
      static_cast<uint32_t>(SourceKind::kSignatureFile), std::string(name), {Bytes(crypto::AsView(h))}};
}

// --- Builder -----------------------------------------------------------------------------------------

namespace {

template <size_t N>
struct Record {
  std::array<uint8_t, N> digest;
  uint32_t size;   // kAnySize for any
  uint32_t label;  // offset into the label section
  uint32_t seq;    // order of addition; the builder's only, not written
};

// Label offsets keyed by their encoded bytes (source, length, name), open addressing: 4 bytes a slot,
// instead of a node per name, so ten million distinct names cost the builder ~64 MiB here.
class LabelTable {
 public:
  // The offset of `encoded` in `labels`, appending it if new; nullopt if the label section is full.
  std::optional<uint32_t> Intern(Bytes& labels, std::string_view encoded) {
    if ((used_ + 1) * 2 > slots_.size()) Grow(labels);
    size_t mask = slots_.size() - 1;
    for (size_t i = std::hash<std::string_view>{}(encoded)&mask;; i = (i + 1) & mask) {
      uint32_t s = slots_[i];
      if (s == 0) {
        if (labels.size() + encoded.size() > limits::kMaxLabelBytes) return std::nullopt;
        uint32_t off = static_cast<uint32_t>(labels.size());
        labels.append(encoded);
        slots_[i] = off + 1;
        ++used_;
        return off;
      }
      if (At(labels, s - 1) == encoded) return s - 1;
    }
  }

 private:
  static std::string_view At(std::string_view labels, uint32_t off) {
    return labels.substr(off, kLabelHeaderSize + LE16(labels.data() + off + 4));
  }
  void Grow(std::string_view labels) {
    std::vector<uint32_t> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), 0);
    size_t mask = slots_.size() - 1;
    for (uint32_t s : old) {
      if (s == 0) continue;
      size_t i = std::hash<std::string_view>{}(At(labels, s - 1)) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<uint32_t> slots_;
  size_t used_ = 0;
};

template <size_t N>
struct TableBuilder {
  std::vector<Record<N>> records;

  // Sorts by (digest, size), the most recently added first within that (a later line overrides an
  // earlier one in ClamAV, which reports only the last); collapses records equal in digest, size and
  // label, keeping the latest; refuses a digest with too many records.
  Status Finish(std::string_view what) {
    auto same = [](const Record<N>& a, const Record<N>& b) {
      return a.digest == b.digest && a.size == b.size && a.label == b.label;
    };
    std::sort(records.begin(), records.end(), [](const Record<N>& a, const Record<N>& b) {
      return std::tie(a.digest, a.size, a.label, b.seq) < std::tie(b.digest, b.size, b.label, a.seq);
    });
    records.erase(std::unique(records.begin(), records.end(), same), records.end());
    for (size_t i = 0; i < records.size();) {
      size_t j = i + 1;
      while (j < records.size() && records[j].digest == records[i].digest) ++j;
      if (j - i > limits::kMaxRecordsPerDigest) {
        return ResourceExhausted(
            std::string(what) + " " +
            HexEncode(ByteView(reinterpret_cast<const char*>(records[i].digest.data()), N)) + ": " +
            Count(j - i) + " signatures, limit kMaxRecordsPerDigest " + Count(limits::kMaxRecordsPerDigest));
      }
      if (j - i > 1) {
        std::sort(records.begin() + i, records.begin() + j, [](const Record<N>& a, const Record<N>& b) {
          return std::tie(a.size, b.seq) < std::tie(b.size, a.seq);
        });
      }
      i = j;
    }
    return Status::Ok();
  }

  void Serialize(Bytes& out) const {
    uint64_t count = records.size();
    uint32_t bits = BucketBitsFor(count);
    PutLE64(out, count);
    PutLE32(out, bits);
    PutLE32(out, 0);
    uint64_t buckets = uint64_t{1} << bits;
    size_t r = 0;
    for (uint64_t b = 0; b <= buckets; ++b) {
      while (r < records.size() && Bucket(reinterpret_cast<const char*>(records[r].digest.data()), bits) < b)
        ++r;
      PutLE32(out, static_cast<uint32_t>(b == buckets ? records.size() : r));
    }
    for (const Record<N>& rec : records) {
      out.append(reinterpret_cast<const char*>(rec.digest.data()), N);
      PutLE32(out, rec.size);
      PutLE32(out, rec.label);
    }
  }
};

}  // namespace

struct DatabaseBuilder::State {
  std::vector<Source> sources;
  Bytes labels;
  LabelTable label_table;
  Bytes scratch;  // one encoded label, reused
  // [role][kind]: detect = 0, allow = 1.
  TableBuilder<16> md5[2];
  TableBuilder<20> sha1[2];
  TableBuilder<32> sha256[2];
  struct TlshRecord {
    TlshDigest digest;
    uint16_t threshold;
    uint32_t label;
  };
  std::vector<TlshRecord> tlsh;
  std::vector<bool> dropped;  // by source index (DropSource)

  // The source a label belongs to.
  uint32_t SourceOf(uint32_t label) const { return LE32(labels.data() + label); }
  // The label for (source, name), interned.
  Result<uint32_t> Label(uint32_t source, std::string_view name);
};

Result<uint32_t> DatabaseBuilder::State::Label(uint32_t source, std::string_view name) {
  scratch.clear();
  PutLE32(scratch, source);
  PutLE16(scratch, static_cast<uint16_t>(name.size()));
  scratch.append(name);
  std::optional<uint32_t> label = label_table.Intern(labels, scratch);
  if (!label) {
    return ResourceExhausted("signature " + std::string(name) + ": names exceed kMaxLabelBytes " +
                             Count(limits::kMaxLabelBytes));
  }
  return *label;
}

DatabaseBuilder::DatabaseBuilder() : s_(std::make_unique<State>()) {}
DatabaseBuilder::~DatabaseBuilder() = default;

Result<uint32_t> DatabaseBuilder::AddSource(Source source) {
  if (s_->sources.size() >= limits::kMaxSources) {
    return ResourceExhausted("source " + Printable(source.name) + ": more than kMaxSources " +
                             Count(limits::kMaxSources));
  }
  if (!IsValidSourceName(source.name)) {
    return InvalidArgument("source name " + Printable(source.name) +
                           " is empty, too long, not UTF-8 or has a control character");
  }
  if (source.fields.size() > limits::kMaxSourceFields) {
    return ResourceExhausted("source " + source.name + ": " + Count(source.fields.size()) +
                             " fields, limit kMaxSourceFields " + Count(limits::kMaxSourceFields));
  }
  for (const Bytes& f : source.fields) {
    if (f.size() > limits::kMaxSourceFieldSize) {
      return ResourceExhausted("source " + source.name + ": field of " + Count(f.size()) +
                               " bytes, limit kMaxSourceFieldSize " + Count(limits::kMaxSourceFieldSize));
    }
  }
  s_->sources.push_back(std::move(source));
  return static_cast<uint32_t>(s_->sources.size() - 1);
}

Status DatabaseBuilder::AddHash(uint32_t source, const HashSignature& sig) {
  return Add(HashFileRole::kDetect, source, sig.kind, sig.digest, sig.size, sig.name);
}

Status DatabaseBuilder::AddAllowed(uint32_t source, const HashSignature& sig) {
  return Add(HashFileRole::kAllow, source, sig.kind, sig.digest, sig.size, sig.name);
}

Status DatabaseBuilder::Add(HashFileRole role, uint32_t source, HashKind kind, ByteView digest,
                            std::optional<uint64_t> size, std::string_view name) {
  if (source >= s_->sources.size()) {
    return InvalidArgument("signature " + Printable(name) + ": no source " + Count(source));
  }
  if (static_cast<size_t>(kind) >= kHashKindCount || digest.size() != DigestLength(kind)) {
    return InvalidArgument("signature " + Printable(name) + ": digest of " + Count(digest.size()) +
                           " bytes for " + std::string(HashKindName(kind)));
  }
  if (!IsValidSignatureName(name)) {
    return InvalidArgument("signature name " + Printable(name) +
                           " is empty, too long, not UTF-8, has a control character or edge space");
  }
  if (size && *size > limits::kMaxSignedFileSize) {
    return InvalidArgument("signature " + std::string(name) + ": size " + Count(*size) +
                           " above kMaxSignedFileSize");
  }
  ASSIGN_OR_RETURN(uint32_t label, s_->Label(source, name));
  uint32_t size32 = size ? static_cast<uint32_t>(*size) : kAnySize;
  int r = role == HashFileRole::kDetect ? 0 : 1;
  auto add = [&](auto& table) -> Status {
    if (table.records.size() >= limits::kMaxTableRecords) {
      return ResourceExhausted("signature " + std::string(name) + ": more than kMaxTableRecords " +
                               Count(limits::kMaxTableRecords) + " " + std::string(HashKindName(kind)));
    }
    auto& rec = table.records.emplace_back();
    std::memcpy(rec.digest.data(), digest.data(), digest.size());
    rec.size = size32;
    rec.label = label;
    rec.seq = static_cast<uint32_t>(table.records.size() - 1);
    return Status::Ok();
  };
  switch (kind) {
    case HashKind::kMd5:
      return add(s_->md5[r]);
    case HashKind::kSha1:
      return add(s_->sha1[r]);
    case HashKind::kSha256:
      return add(s_->sha256[r]);
  }
  return Internal("unreachable");
}

Status DatabaseBuilder::AddTlsh(uint32_t source, const TlshSignature& sig) {
  if (source >= s_->sources.size()) {
    return InvalidArgument("signature " + Printable(sig.name) + ": no source " + Count(source));
  }
  if (!IsValidSignatureName(sig.name)) {
    return InvalidArgument("signature name " + Printable(sig.name) +
                           " is empty, too long, not UTF-8, has a control character or edge space");
  }
  if (sig.threshold > limits::kMaxTlshThreshold) {
    return InvalidArgument("signature " + sig.name + ": threshold " + Count(sig.threshold) +
                           " above kMaxTlshThreshold " + Count(limits::kMaxTlshThreshold));
  }
  if (s_->tlsh.size() >= limits::kMaxTableRecords) {
    return ResourceExhausted("signature " + sig.name + ": more than kMaxTableRecords " +
                             Count(limits::kMaxTableRecords) + " TLSH");
  }
  ASSIGN_OR_RETURN(uint32_t label, s_->Label(source, sig.name));
  s_->tlsh.push_back({sig.digest, static_cast<uint16_t>(sig.threshold), label});
  return Status::Ok();
}

namespace {

// The order of TLSH records: length code, then digest, threshold and label.
template <typename R>
bool TlshLess(const R& a, const R& b) {
  uint8_t la = a.digest.length_code(), lb = b.digest.length_code();
  return std::tie(la, a.digest.bytes, a.threshold, a.label) <
         std::tie(lb, b.digest.bytes, b.threshold, b.label);
}

}  // namespace

Status DatabaseBuilder::DropSource(uint32_t source) {
  if (source >= s_->sources.size()) return InvalidArgument("no source " + Count(source));
  if (s_->dropped.size() < s_->sources.size()) s_->dropped.resize(s_->sources.size(), false);
  s_->dropped[source] = true;
  return Status::Ok();
}

Result<Bytes> DatabaseBuilder::Build() {
  State& s = *s_;
  if (std::find(s.dropped.begin(), s.dropped.end(), true) != s.dropped.end()) {
    auto gone = [&s](uint32_t label) {
      uint32_t src = s.SourceOf(label);
      return src < s.dropped.size() && s.dropped[src];
    };
    auto drop = [&](auto& table) {
      std::erase_if(table.records, [&](const auto& r) { return gone(r.label); });
    };
    for (int r = 0; r < 2; ++r) {
      drop(s.md5[r]);
      drop(s.sha1[r]);
      drop(s.sha256[r]);
    }
    std::erase_if(s.tlsh, [&](const State::TlshRecord& r) { return gone(r.label); });
  }
  {
    using R = State::TlshRecord;
    std::sort(s.tlsh.begin(), s.tlsh.end(), TlshLess<R>);
    s.tlsh.erase(std::unique(s.tlsh.begin(), s.tlsh.end(),
                             [](const R& a, const R& b) {
                               return a.digest == b.digest && a.threshold == b.threshold &&
                                      a.label == b.label;
                             }),
                 s.tlsh.end());
  }
  for (int r = 0; r < 2; ++r) {
    std::string what = r == 0 ? "detection" : "allow-list";
    RETURN_IF_ERROR(s.md5[r].Finish(what + " MD5"));
    RETURN_IF_ERROR(s.sha1[r].Finish(what + " SHA-1"));
    RETURN_IF_ERROR(s.sha256[r].Finish(what + " SHA-256"));
  }

  // Sections are serialized one after another, each 8-aligned; the table is patched afterwards.
  struct Entry {
    uint32_t type;
    uint64_t offset, size;
  };
  std::vector<Entry> entries;
  Bytes out;
  auto section = [&](uint32_t type, const std::function<void(Bytes&)>& write) {
    while (out.size() % 8 != 0) out.push_back('\0');
    size_t start = out.size();
    write(out);
    entries.push_back({type, start, out.size() - start});
  };
  std::vector<std::pair<uint32_t, std::function<void(Bytes&)>>> plan;
  plan.emplace_back(kSources, [&](Bytes& o) {
    PutLE32(o, static_cast<uint32_t>(s.sources.size()));
    for (const Source& src : s.sources) {
      PutLE32(o, src.kind);
      PutLE32(o, static_cast<uint32_t>(src.name.size()));
      o.append(src.name);
      PutLE32(o, static_cast<uint32_t>(src.fields.size()));
      for (const Bytes& f : src.fields) {
        PutLE32(o, static_cast<uint32_t>(f.size()));
        o.append(f);
      }
    }
  });
  plan.emplace_back(kLabels, [&](Bytes& o) { o.append(s.labels); });
  for (int r = 0; r < 2; ++r) {
    uint32_t base = r == 0 ? kDetectMd5 : kAllowMd5;
    if (!s.md5[r].records.empty()) plan.emplace_back(base + 0, [&, r](Bytes& o) { s.md5[r].Serialize(o); });
    if (!s.sha1[r].records.empty()) plan.emplace_back(base + 1, [&, r](Bytes& o) { s.sha1[r].Serialize(o); });
    if (!s.sha256[r].records.empty()) {
      plan.emplace_back(base + 2, [&, r](Bytes& o) { s.sha256[r].Serialize(o); });
    }
  }
  if (!yara_.empty()) plan.emplace_back(kYara, [&](Bytes& o) { o.append(yara_); });
  if (!provenance_.empty()) plan.emplace_back(kProvenance, [&](Bytes& o) { o.append(provenance_); });
  if (!s.tlsh.empty()) {
    plan.emplace_back(kTlsh, [&](Bytes& o) {
      uint16_t max_threshold = 0;
      for (const auto& r : s.tlsh) max_threshold = std::max(max_threshold, r.threshold);
      PutLE64(o, s.tlsh.size());
      PutLE32(o, max_threshold);
      PutLE32(o, 0);
      size_t r = 0;
      for (uint32_t l = 0; l <= 256; ++l) {
        while (r < s.tlsh.size() && s.tlsh[r].digest.length_code() < l) ++r;
        PutLE32(o, static_cast<uint32_t>(r));
      }
      for (const auto& rec : s.tlsh) {
        o.append(rec.digest.view());
        PutLE16(o, rec.threshold);
        PutLE32(o, rec.label);
      }
    });
  }

  size_t table_end = kHeaderSize + plan.size() * kSectionEntrySize;
  uint64_t estimate = table_end + s.labels.size() + yara_.size() + provenance_.size() + kTlshHeaderSize +
                      kTlshIndexSize + s.tlsh.size() * kTlshRecordSize + 4096;
  for (int r = 0; r < 2; ++r) {
    estimate += s.md5[r].records.size() * 24 + s.sha1[r].records.size() * 28 +
                s.sha256[r].records.size() * 40 + 3 * ((uint64_t{4} << 20) + 64);
  }
  out.reserve(estimate);
  out.append(kMagic);
  PutLE32(out, kVersion);
  PutLE32(out, static_cast<uint32_t>(plan.size()));
  PutLE64(out, 0);       // file size, patched below
  out.append(32, '\0');  // SHA-256, patched below
  out.append(plan.size() * kSectionEntrySize, '\0');
  for (auto& [type, write] : plan) section(type, write);

  if (out.size() > limits::kMaxDatabaseFileSize) {
    return ResourceExhausted("database of " + Count(out.size()) + " bytes, limit kMaxDatabaseFileSize " +
                             Count(limits::kMaxDatabaseFileSize));
  }
  SetLE64(out, 16, out.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    size_t at = kHeaderSize + i * kSectionEntrySize;
    Bytes e;
    PutLE32(e, entries[i].type);
    PutLE32(e, 0);
    PutLE64(e, entries[i].offset);
    PutLE64(e, entries[i].size);
    out.replace(at, kSectionEntrySize, e);
  }
  crypto::Sha256Stream h;
  h.Update(ByteView(out).substr(0, kHashedPrefix));
  h.Update(ByteView(out).substr(kHeaderSize));
  crypto::Hash digest = h.Finish();
  out.replace(kHashedPrefix, 32, crypto::AsView(digest));
  return out;
}

Status DatabaseBuilder::Write(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes image, Build());
  return fs::WriteFileAtomic(path, image).WithContext("write database");
}

Status AddHashFile(DatabaseBuilder& builder, const std::string& path) {
  std::optional<HashFileRole> role = HashFileRoleFor(path);
  if (!role) return InvalidArgument(path + ": not a hash signature file (.hdb, .hsb, .fp or .sfp)");
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxSignatureFileSize));
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  ASSIGN_OR_RETURN(uint32_t source, builder.AddSource(SignatureFileSource(base, text)));
  return ForEachHashSignature(text, path, [&](HashSignature&& sig) {
    return builder.Add(*role, source, sig.kind, sig.digest, sig.size, sig.name);
  });
}

Status AddTlshFile(DatabaseBuilder& builder, const std::string& path) {
  if (!IsTlshSignatureFile(path)) return InvalidArgument(path + ": not a TLSH signature file (.tlsh)");
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxSignatureFileSize));
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  ASSIGN_OR_RETURN(uint32_t source, builder.AddSource(SignatureFileSource(base, text)));
  return ForEachTlshSignature(text, path, [&](TlshSignature&& sig) { return builder.AddTlsh(source, sig); });
}

// --- Reader ------------------------------------------------------------------------------------------

struct Database::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

Database::~Database() = default;

void Database::ReleasePages(ByteView part) const {
  const auto first = reinterpret_cast<uintptr_t>(part.data());
  const auto image = reinterpret_cast<uintptr_t>(image_.data());
  if (mapping_ == nullptr || part.empty() || first < image || part.size() > image_.size() ||
      first - image > image_.size() - part.size())
    return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (first + page - 1) & ~(page - 1);  // whole pages only: the neighbours stay
  const uintptr_t end = (first + part.size()) & ~(page - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<std::shared_ptr<const Database>> Database::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    Status st(e == ENOENT   ? Code::kNotFound
              : e == EACCES ? Code::kPermissionDenied
                            : Code::kInternal,
              "open " + path + ": " + std::strerror(e));
    return st;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Internal("stat " + path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderSize) {
    ::close(fd);
    return DataLoss(path + ": " + Count(size) + " bytes, too short for an accord database header");
  }
  if (size > limits::kMaxDatabaseFileSize) {
    ::close(fd);
    return ResourceExhausted(path + ": " + Count(size) + " bytes, limit kMaxDatabaseFileSize " +
                             Count(limits::kMaxDatabaseFileSize));
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return Internal("mmap " + path + ": " + std::strerror(e));
  // Lookups jump around; readahead would only fill memory with pages nobody reads.
  (void)::madvise(addr, size, MADV_RANDOM);
  std::unique_ptr<Database> db(new Database());
  db->mapping_ = std::make_unique<Mapping>();
  db->mapping_->addr = addr;
  db->mapping_->size = size;
  db->name_ = path;
  db->image_ = ByteView(static_cast<const char*>(addr), size);
  return Init(std::move(db));
}

Result<std::shared_ptr<const Database>> Database::OpenBytes(Bytes image, std::string name) {
  if (image.size() > limits::kMaxDatabaseFileSize) {
    return ResourceExhausted(name + ": " + Count(image.size()) + " bytes, limit kMaxDatabaseFileSize");
  }
  std::unique_ptr<Database> db(new Database());
  db->name_ = std::move(name);
  db->owned_ = std::move(image);
  db->image_ = db->owned_;
  return Init(std::move(db));
}

namespace {

// Reads a section front to back; every read checks the bytes remain.
class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool U32(uint32_t* v) {
    if (b_.size() < 4) return false;
    *v = LE32(b_.data());
    b_.remove_prefix(4);
    return true;
  }
  bool Take(size_t n, ByteView* v) {
    if (b_.size() < n) return false;
    *v = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  bool empty() const { return b_.empty(); }

 private:
  ByteView b_;
};

Result<std::vector<Source>> ParseSources(ByteView section, const std::string& where) {
  Reader r(section);
  uint32_t count;
  if (!r.U32(&count)) return DataLoss(where + ": source table truncated");
  if (count > limits::kMaxSources) {
    return DataLoss(where + ": " + Count(count) + " sources, limit kMaxSources " +
                    Count(limits::kMaxSources));
  }
  std::vector<Source> out;
  for (uint32_t i = 0; i < count; ++i) {
    std::string at = where + ": source " + Count(i);
    Source s;
    uint32_t name_len, fields;
    ByteView name;
    if (!r.U32(&s.kind) || !r.U32(&name_len) || name_len > limits::kMaxSourceNameLength ||
        !r.Take(name_len, &name) || !r.U32(&fields)) {
      return DataLoss(at + ": truncated or over-long name");
    }
    if (!IsValidSourceName(name)) return DataLoss(at + ": bad name " + Printable(name));
    s.name = std::string(name);
    if (fields > limits::kMaxSourceFields) {
      return DataLoss(at + ": " + Count(fields) + " fields, limit kMaxSourceFields");
    }
    for (uint32_t f = 0; f < fields; ++f) {
      uint32_t len;
      ByteView v;
      if (!r.U32(&len) || len > limits::kMaxSourceFieldSize || !r.Take(len, &v)) {
        return DataLoss(at + ": field " + Count(f) + " truncated or over-long");
      }
      s.fields.emplace_back(v);
    }
    out.push_back(std::move(s));
  }
  if (!r.empty()) return DataLoss(where + ": bytes after the last source");
  return out;
}

}  // namespace

ByteView Database::header_sha256() const {
  return image_.substr(kHashedPrefix, 32);
}

Result<std::shared_ptr<const Database>> Database::Init(std::unique_ptr<Database> db) {
  const std::string& name = db->name_;
  ByteView img = db->image_;
  if (img.size() < kHeaderSize || img.substr(0, kMagic.size()) != kMagic) {
    return DataLoss(name + ": not an accord database (no ACCORDDB magic)");
  }
  uint32_t version = LE32(img.data() + 8);
  if (version != kVersion) {
    return DataLoss(name + ": format version " + Count(version) + ", this accord reads " + Count(kVersion));
  }
  uint32_t sections = LE32(img.data() + 12);
  uint64_t file_size = LE64(img.data() + 16);
  if (file_size != img.size()) {
    return DataLoss(name + ": header says " + Count(file_size) + " bytes, file has " + Count(img.size()) +
                    " (truncated or appended to)");
  }
  if (sections > kMaxSections || kHeaderSize + uint64_t{sections} * kSectionEntrySize > img.size()) {
    return DataLoss(name + ": section table of " + Count(sections) + " entries does not fit");
  }
  const uint64_t table_end = kHeaderSize + uint64_t{sections} * kSectionEntrySize;

  std::array<std::optional<ByteView>, kLastSectionType + 1> found{};
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (uint32_t i = 0; i < sections; ++i) {
    const char* e = img.data() + kHeaderSize + i * kSectionEntrySize;
    uint32_t type = LE32(e), reserved = LE32(e + 4);
    uint64_t offset = LE64(e + 8), size = LE64(e + 16);
    std::string at = name + ": section " + Count(i) + " (type " + Count(type) + ")";
    if (type == 0 || type > kLastSectionType || reserved != 0) {
      return DataLoss(at + ": unknown type or flags (written by a newer accord?)");
    }
    if (found[type]) return DataLoss(at + ": appears twice");
    if (offset < table_end || offset > img.size() || size > img.size() - offset) {
      return DataLoss(at + ": bytes [" + Count(offset) + ", +" + Count(size) + ") outside the file's " +
                      Count(table_end) + ".." + Count(img.size()));
    }
    found[type] = img.substr(offset, size);
    extents.emplace_back(offset, size);
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i - 1].first + extents[i - 1].second > extents[i].first) {
      return DataLoss(name + ": sections overlap at offset " + Count(extents[i].first));
    }
  }
  if (!found[kSources] || !found[kLabels]) return DataLoss(name + ": no source or name section");

  ASSIGN_OR_RETURN(db->sources_, ParseSources(*found[kSources], name));
  db->labels_ = *found[kLabels];
  if (db->labels_.size() > limits::kMaxLabelBytes) {
    return DataLoss(name + ": name section of " + Count(db->labels_.size()) + " bytes, limit kMaxLabelBytes");
  }
  if (found[kYara]) db->yara_ = *found[kYara];
  if (found[kProvenance]) db->provenance_ = *found[kProvenance];
  if (found[kTlsh]) {
    ByteView sec = *found[kTlsh];
    std::string at = name + ": TLSH table";
    TlshTable& t = db->tlsh_;
    if (sec.size() < kTlshHeaderSize) return DataLoss(at + ": truncated header");
    t.count = LE64(sec.data());
    t.max_threshold = LE32(sec.data() + 8);
    if (t.count > limits::kMaxTableRecords || t.max_threshold > limits::kMaxTlshThreshold ||
        LE32(sec.data() + 12) != 0) {
      return DataLoss(at + ": " + Count(t.count) + " records, threshold up to " + Count(t.max_threshold) +
                      ": beyond kMaxTableRecords or kMaxTlshThreshold, or flags set");
    }
    uint64_t want = kTlshHeaderSize + kTlshIndexSize + t.count * kTlshRecordSize;
    if (sec.size() != want) {
      return DataLoss(at + ": " + Count(sec.size()) + " bytes, want " + Count(want) + " for " +
                      Count(t.count) + " records");
    }
    t.index = sec.substr(kTlshHeaderSize, kTlshIndexSize);
    t.records = sec.substr(kTlshHeaderSize + kTlshIndexSize);
  }

  for (int role = 0; role < 2; ++role) {
    for (int k = 0; k < kHashKindCount; ++k) {
      uint32_t type = (role == 0 ? kDetectMd5 : kAllowMd5) + k;
      Table& t = (role == 0 ? db->detect_ : db->allow_)[k];
      t.digest_size = DigestLength(static_cast<HashKind>(k));
      t.record_size = t.digest_size + 8;
      if (!found[type]) continue;
      ByteView sec = *found[type];
      std::string at = name + ": " + (role == 0 ? "detection " : "allow-list ") +
                       std::string(HashKindName(static_cast<HashKind>(k))) + " table";
      if (sec.size() < kTableHeaderSize) return DataLoss(at + ": truncated header");
      t.count = LE64(sec.data());
      t.bits = LE32(sec.data() + 8);
      if (t.count > limits::kMaxTableRecords || t.bits > kMaxBucketBits || LE32(sec.data() + 12) != 0) {
        return DataLoss(at + ": " + Count(t.count) + " records, " + Count(t.bits) +
                        " bucket bits: beyond kMaxTableRecords or " + Count(kMaxBucketBits) + " bits");
      }
      uint64_t index_size = ((uint64_t{1} << t.bits) + 1) * 4;
      uint64_t want = kTableHeaderSize + index_size + t.count * t.record_size;
      if (sec.size() != want) {
        return DataLoss(at + ": " + Count(sec.size()) + " bytes, want " + Count(want) + " for " +
                        Count(t.count) + " records");
      }
      t.index = sec.substr(kTableHeaderSize, index_size);
      t.records = sec.substr(kTableHeaderSize + index_size);
    }
  }
  return std::shared_ptr<const Database>(db.release());
}

// Finds `digest`'s records; appends matches for `file_size` to *out, or with out == nullptr stops at
// the first and sets *any. Every read is within t.records and labels_, whatever the file holds.
Status Database::Lookup(const Table& t, ByteView digest, uint64_t file_size, std::vector<Match>* out,
                        bool* any) const {
  if (t.count == 0) return Status::Ok();
  const size_t n = t.digest_size, rs = t.record_size;
  uint32_t b = Bucket(digest.data(), t.bits);
  uint64_t hi = std::min<uint64_t>(LE32(t.index.data() + 4 * (size_t{b} + 1)), t.count);
  uint64_t lo = std::min<uint64_t>(LE32(t.index.data() + 4 * size_t{b}), hi);
  const char* recs = t.records.data();
  while (lo < hi) {  // lower bound
    uint64_t mid = lo + (hi - lo) / 2;
    if (std::memcmp(recs + mid * rs, digest.data(), n) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  for (uint64_t i = lo, seen = 0; i < t.count && std::memcmp(recs + i * rs, digest.data(), n) == 0; ++i) {
    if (++seen > limits::kMaxRecordsPerDigest) {
      return DataLoss(name_ + ": more than kMaxRecordsPerDigest records for " + HexEncode(digest));
    }
    const char* rec = recs + i * rs;
    uint32_t size = LE32(rec + n);
    if (size != kAnySize && size != file_size) continue;
    if (out == nullptr) {
      *any = true;
      return Status::Ok();
    }
    uint32_t label = LE32(rec + n + 4);
    if (labels_.size() < kLabelHeaderSize || label > labels_.size() - kLabelHeaderSize) {
      return DataLoss(name_ + ": record " + Count(i) + " for " + HexEncode(digest) + " names label " +
                      Count(label) + " outside the name section");
    }
    uint32_t source = LE32(labels_.data() + label);
    uint16_t len = LE16(labels_.data() + label + 4);
    ByteView sig_name = labels_.substr(label + kLabelHeaderSize, len);
    if (sig_name.size() != len || source >= sources_.size() || !IsValidSignatureName(sig_name)) {
      return DataLoss(name_ + ": record " + Count(i) + " for " + HexEncode(digest) + ": bad label at " +
                      Count(label));
    }
    out->push_back(Match{std::string(sig_name), source,
                         size == kAnySize ? std::nullopt : std::optional<uint64_t>(size)});
  }
  return Status::Ok();
}

Result<std::vector<Match>> Database::LookupHash(HashKind kind, ByteView digest, uint64_t file_size) const {
  auto k = static_cast<size_t>(kind);
  if (k >= kHashKindCount || digest.size() != DigestLength(kind)) {
    return InvalidArgument("lookup: digest of " + Count(digest.size()) + " bytes for " +
                           std::string(HashKindName(kind)));
  }
  std::vector<Match> out;
  RETURN_IF_ERROR(Lookup(detect_[k], digest, file_size, &out, nullptr));
  return out;
}

bool Database::IsAllowed(HashKind kind, ByteView digest, uint64_t file_size) const {
  auto k = static_cast<size_t>(kind);
  if (k >= kHashKindCount || digest.size() != DigestLength(kind)) return false;
  bool any = false;
  if (!Lookup(allow_[k], digest, file_size, nullptr, &any).ok()) return false;
  return any;
}

Result<std::pair<ByteView, uint32_t>> Database::LabelAt(uint32_t label, const std::string& what) const {
  if (labels_.size() < kLabelHeaderSize || label > labels_.size() - kLabelHeaderSize) {
    return DataLoss(name_ + ": " + what + " names label " + Count(label) + " outside the name section");
  }
  uint32_t source = LE32(labels_.data() + label);
  uint16_t len = LE16(labels_.data() + label + 4);
  ByteView sig_name = labels_.substr(label + kLabelHeaderSize, len);
  if (sig_name.size() != len || source >= sources_.size() || !IsValidSignatureName(sig_name)) {
    return DataLoss(name_ + ": " + what + ": bad label at " + Count(label));
  }
  return std::make_pair(sig_name, source);
}

Result<TlshLookup> Database::LookupTlsh(const TlshDigest& digest) const {
  TlshLookup out;
  const TlshTable& t = tlsh_;
  if (t.count == 0) return out;
  // Length codes whose distance alone stays within the largest threshold: |dl| <= reach.
  uint32_t reach = 0;
  while (reach < 128 && TlshLengthDistance(reach + 1) <= t.max_threshold) ++reach;
  const uint32_t l0 = digest.length_code();
  // Candidates as (distance, record), the nearest kMaxTlshMatches kept in a max-heap.
  std::vector<std::pair<uint32_t, uint64_t>> heap;
  const char* recs = t.records.data();
  auto visit = [&](uint32_t l) -> Status {
    uint64_t hi = std::min<uint64_t>(LE32(t.index.data() + 4 * (l + 1)), t.count);
    uint64_t lo = std::min<uint64_t>(LE32(t.index.data() + 4 * l), hi);
    for (uint64_t i = lo; i < hi; ++i) {
      const char* rec = recs + i * kTlshRecordSize;
      TlshDigest d = *TlshDigestFromBytes(ByteView(rec, kTlshDigestSize));
      uint32_t threshold = LE16(rec + kTlshDigestSize);
      if (threshold > t.max_threshold) {  // the window above would not have been wide enough
        return DataLoss(name_ + ": TLSH record " + Count(i) + " has threshold " + Count(threshold) +
                        ", above the table's " + Count(t.max_threshold));
      }
      if (TlshHeaderDistance(digest, d) > threshold) continue;
      uint32_t distance = TlshDistance(digest, d);
      if (distance > threshold) continue;
      std::pair<uint32_t, uint64_t> c{distance, i};
      if (heap.size() < limits::kMaxTlshMatches) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end());
      } else {
        ++out.more;
        if (c < heap.front()) {
          std::pop_heap(heap.begin(), heap.end());
          heap.back() = c;
          std::push_heap(heap.begin(), heap.end());
        }
      }
    }
    return Status::Ok();
  };
  if (reach >= 128) {
    for (uint32_t l = 0; l < 256; ++l) RETURN_IF_ERROR(visit(l));
  } else {
    for (uint32_t d = 0; d <= 2 * reach; ++d) RETURN_IF_ERROR(visit((l0 + 256 - reach + d) & 0xff));
  }
  std::sort(heap.begin(), heap.end());
  for (const auto& [distance, i] : heap) {
    const char* rec = recs + i * kTlshRecordSize;
    ASSIGN_OR_RETURN(auto label, LabelAt(LE32(rec + kTlshDigestSize + 2), "TLSH record " + Count(i)));
    out.matches.push_back(
        TlshMatch{std::string(label.first), label.second, distance, uint32_t{LE16(rec + kTlshDigestSize)}});
  }
  return out;
}

bool Database::HasKind(HashKind kind) const {
  return SignatureCount(kind) > 0 || AllowedCount(kind) > 0;
}

uint64_t Database::SignatureCount(HashKind kind) const {
  auto k = static_cast<size_t>(kind);
  return k < kHashKindCount ? detect_[k].count : 0;
}

uint64_t Database::AllowedCount(HashKind kind) const {
  auto k = static_cast<size_t>(kind);
  return k < kHashKindCount ? allow_[k].count : 0;
}

Status Database::VerifyTable(const Table& t, std::string_view what,
                             const std::vector<bool>& label_starts) const {
  const size_t n = t.digest_size, rs = t.record_size;
  const char* recs = t.records.data();
  std::string at = name_ + ": " + std::string(what);
  // Sorted by (digest, size); within one (digest, size), no label twice.
  std::vector<uint32_t> run_labels;
  for (uint64_t i = 0, run_start = 0; i < t.count; ++i) {
    const char* rec = recs + i * rs;
    uint32_t label = LE32(rec + n + 4);
    if (label >= label_starts.size() || !label_starts[label]) {
      return DataLoss(at + ": record " + Count(i) + " names " + Count(label) + ", not the start of a name");
    }
    if (i > 0) {
      const char* prev = rec - rs;
      int c = std::memcmp(prev, rec, n);
      if (c > 0 || (c == 0 && LE32(prev + n) > LE32(rec + n))) {
        return DataLoss(at + ": records " + Count(i - 1) + " and " + Count(i) + " out of order");
      }
      if (c != 0) run_start = i;
    }
    if (i - run_start >= limits::kMaxRecordsPerDigest) {
      return DataLoss(at + ": more than kMaxRecordsPerDigest records at " + Count(i));
    }
    if (i + 1 == t.count || std::memcmp(rec, rec + rs, n + 4) != 0) {  // end of a (digest, size) run
      run_labels.clear();
      for (uint64_t j = i; j + 1 > 0 && std::memcmp(recs + j * rs, rec, n + 4) == 0; --j) {
        run_labels.push_back(LE32(recs + j * rs + n + 4));
      }
      std::sort(run_labels.begin(), run_labels.end());
      if (std::adjacent_find(run_labels.begin(), run_labels.end()) != run_labels.end()) {
        return DataLoss(at + ": record " + Count(i) + ": the same signature twice");
      }
    }
  }
  uint64_t buckets = uint64_t{1} << t.bits;
  uint64_t r = 0;
  for (uint64_t b = 0; b <= buckets; ++b) {
    while (r < t.count && Bucket(recs + r * rs, t.bits) < b) ++r;
    uint64_t want = b == buckets ? t.count : r;
    if (t.count > 0 && LE32(t.index.data() + 4 * b) != want) {
      return DataLoss(at + ": bucket " + Count(b) + " starts at " + Count(LE32(t.index.data() + 4 * b)) +
                      ", want " + Count(want));
    }
  }
  return Status::Ok();
}

Status Database::Verify() const {
  // The SHA-256 first: it covers everything, so a mismatch is the clearest report.
  crypto::Sha256Stream h;
  h.Update(image_.substr(0, kHashedPrefix));
  constexpr size_t kChunk = size_t{8} << 20;
  for (size_t pos = kHeaderSize; pos < image_.size(); pos += kChunk) {
    if (mapping_ != nullptr && pos + kChunk < image_.size()) {
      // MADV_RANDOM turned readahead off; ask for the next chunk while this one is hashed.
      uintptr_t next = reinterpret_cast<uintptr_t>(image_.data() + pos + kChunk);
      uintptr_t page = next & ~uintptr_t{4095};
      size_t len = std::min(kChunk, image_.size() - pos - kChunk) + (next - page);
      (void)::madvise(reinterpret_cast<void*>(page), len, MADV_WILLNEED);
    }
    h.Update(image_.substr(pos, kChunk));
  }
  crypto::Hash got = h.Finish();
  if (crypto::AsView(got) != image_.substr(kHashedPrefix, 32)) {
    return DataLoss(name_ + ": SHA-256 of the file is " + HexEncode(crypto::AsView(got)) + ", header says " +
                    HexEncode(image_.substr(kHashedPrefix, 32)));
  }

  std::vector<bool> label_starts(labels_.size(), false);
  for (size_t pos = 0; pos < labels_.size();) {
    if (labels_.size() - pos < kLabelHeaderSize) return DataLoss(name_ + ": name section: truncated label");
    uint32_t source = LE32(labels_.data() + pos);
    uint16_t len = LE16(labels_.data() + pos + 4);
    ByteView sig_name = labels_.substr(pos + kLabelHeaderSize, len);
    if (sig_name.size() != len || source >= sources_.size() || !IsValidSignatureName(sig_name)) {
      return DataLoss(name_ + ": name section: bad label at " + Count(pos));
    }
    label_starts[pos] = true;
    pos += kLabelHeaderSize + len;
  }
  for (int k = 0; k < kHashKindCount; ++k) {
    std::string kind(HashKindName(static_cast<HashKind>(k)));
    RETURN_IF_ERROR(VerifyTable(detect_[k], "detection " + kind + " table", label_starts));
    RETURN_IF_ERROR(VerifyTable(allow_[k], "allow-list " + kind + " table", label_starts));
  }
  return VerifyTlsh(label_starts);
}

Status Database::VerifyTlsh(const std::vector<bool>& label_starts) const {
  const TlshTable& t = tlsh_;
  if (t.index.empty()) return Status::Ok();  // no TLSH section
  std::string at = name_ + ": TLSH table";
  struct Key {
    TlshDigest digest;
    uint16_t threshold;
    uint32_t label;
  };
  auto key = [&](uint64_t i) {
    const char* rec = t.records.data() + i * kTlshRecordSize;
    return Key{*TlshDigestFromBytes(ByteView(rec, kTlshDigestSize)), LE16(rec + kTlshDigestSize),
               LE32(rec + kTlshDigestSize + 2)};
  };
  uint32_t max_threshold = 0;
  for (uint64_t i = 0; i < t.count; ++i) {
    Key k = key(i);
    if (k.label >= label_starts.size() || !label_starts[k.label]) {
      return DataLoss(at + ": record " + Count(i) + " names " + Count(k.label) + ", not the start of a name");
    }
    if (k.threshold > t.max_threshold) {
      return DataLoss(at + ": record " + Count(i) + " has threshold " + Count(k.threshold) +
                      ", above the table's " + Count(t.max_threshold));
    }
    max_threshold = std::max<uint32_t>(max_threshold, k.threshold);
    if (i > 0 && !TlshLess(key(i - 1), k)) {
      return DataLoss(at + ": records " + Count(i - 1) + " and " + Count(i) + " out of order or equal");
    }
  }
  if (max_threshold != t.max_threshold) {
    return DataLoss(at + ": header says thresholds up to " + Count(t.max_threshold) + ", records have " +
                    Count(max_threshold));
  }
  uint64_t r = 0;
  for (uint32_t l = 0; l <= 256; ++l) {
    while (r < t.count && key(r).digest.length_code() < l) ++r;
    if (LE32(t.index.data() + 4 * l) != r) {
      return DataLoss(at + ": index entry " + Count(l) + " is " + Count(LE32(t.index.data() + 4 * l)) +
                      ", want " + Count(r));
    }
  }
  return Status::Ok();
}

}  // namespace accord::scan
