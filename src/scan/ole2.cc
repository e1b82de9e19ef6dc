#include "scan/ole2.h"

#include <algorithm>
#include <string>
#include <vector>

#include "scan/inflate.h"

namespace accord::scan {
namespace {

// [MS-CFB] 2.1: sector numbers above kMaxRegSect are markers.
constexpr uint32_t kMaxRegSect = 0xFFFFFFFA;
constexpr uint32_t kEndOfChain = 0xFFFFFFFE;
constexpr uint32_t kNoStream = 0xFFFFFFFF;
constexpr size_t kHeaderSize = 512;
constexpr size_t kHeaderDifatEntries = 109;
constexpr size_t kDirEntrySize = 128;
// Storages nested deeper than this are not opened (real files nest two or three deep).
constexpr int kMaxStorageDepth = 32;
// [MS-PPT] 2.10.14: ExOleObjStg record type; instance 1 means zlib-compressed.
constexpr uint16_t kExOleObjStg = 0x1011;

bool At(ByteView d, size_t off, ByteView magic) {
  return d.size() >= off + magic.size() && d.compare(off, magic.size(), magic) == 0;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// A directory entry's name: UTF-16LE, at most 31 code units and a terminator ([MS-CFB] 2.6.1).
std::string EntryName(ByteView e) {
  size_t units = std::min<size_t>(Le16(e, 0x40), 64) / 2;
  std::string out;
  for (size_t i = 0; i < units; ++i) {
    uint32_t u = Le16(e, 2 * i);
    if (u == 0) break;
    if (u >= 0xd800 && u < 0xdc00 && i + 1 < units) {
      uint32_t lo = Le16(e, 2 * (i + 1));
      if (lo >= 0xdc00 && lo < 0xe000) {
        AppendUtf8(out, 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
        ++i;
        continue;
      }
    }
    AppendUtf8(out, (u >= 0xd800 && u < 0xe000) ? 0xfffd : u);
  }
  return out;
}

class Cfb {
 public:
  Cfb(ByteView data, const ReaderOptions& options, const MemberSink& sink)
      : d_(data), options_(options), sink_(sink) {}

  Status Read();

 private:
  struct Entry {
    std::string name;
    uint8_t type = 0;  // 1 storage, 2 stream, 5 root
    uint32_t left = kNoStream, right = kNoStream, child = kNoStream;
    uint32_t start = kEndOfChain;
    uint64_t size = 0;
  };

  void Damage(std::string message) {
    if (damage_.empty()) damage_ = std::move(message);
  }
  // Sector n, possibly short at the end of the file; empty if it lies outside.
  ByteView Sector(uint32_t n) const {
    uint64_t off = (uint64_t{n} + 1) * sector_size_;
    if (off >= d_.size()) return {};
    return d_.substr(static_cast<size_t>(off),
                     static_cast<size_t>(std::min<uint64_t>(sector_size_, d_.size() - off)));
  }
  std::vector<uint32_t> MetaChain(uint32_t start, std::string_view what);
  Bytes ReadStream(uint32_t start, uint64_t size, uint64_t cap, const std::string& what);
  Entry EntryAt(uint32_t id) const;
  bool Emit(std::string name, Bytes data);
  bool PowerPointObjects(const std::string& path, ByteView stream);

  ByteView d_;
  const ReaderOptions& options_;
  const MemberSink& sink_;
  bool major3_ = true;
  uint32_t sector_size_ = 512;
  uint32_t mini_sector_size_ = 64;
  uint32_t mini_cutoff_ = 4096;
  uint64_t sectors_ = 0;  // sectors after the header that the file holds (the last may be short)
  std::vector<uint32_t> fat_, minifat_;
  Bytes dir_, ministream_;
  std::string damage_;
};

// Follows a chain of metadata sectors (directory, miniFAT) through the FAT, each sector once.
std::vector<uint32_t> Cfb::MetaChain(uint32_t start, std::string_view what) {
  std::vector<uint32_t> chain;
  std::vector<bool> seen(fat_.size());
  for (uint32_t cur = start; cur != kEndOfChain;) {
    if (cur >= fat_.size()) {
      Damage(std::string(what) + " chain points to sector " + std::to_string(cur) + ", outside the FAT");
      break;
    }
    if (seen[cur]) {
      Damage(std::string(what) + " chain has a cycle at sector " + std::to_string(cur));
      break;
    }
    seen[cur] = true;
    chain.push_back(cur);
    cur = fat_[cur];
  }
  return chain;
}

// A stream's bytes, at most `cap`: from the mini stream if it is shorter than the cutoff.
Bytes Cfb::ReadStream(uint32_t start, uint64_t size, uint64_t cap, const std::string& what) {
  bool mini = size < mini_cutoff_;
  const std::vector<uint32_t>& table = mini ? minifat_ : fat_;
  uint64_t unit = mini ? mini_sector_size_ : sector_size_;
  uint64_t want = std::min(size, cap);
  Bytes out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(want, d_.size())));
  uint64_t steps = 0;
  uint32_t cur = start;
  while (out.size() < want) {
    if (cur == kEndOfChain) {
      Damage(what + ": chain ends after " + std::to_string(out.size()) + " of " + std::to_string(size) +
             " bytes");
      break;
    }
    if (cur >= table.size()) {
      Damage(what + ": chain points to " + (mini ? "mini " : "") + "sector " + std::to_string(cur) +
             ", outside the " + (mini ? "miniFAT" : "FAT"));
      break;
    }
    // A chain longer than its table revisits a sector: a cycle.
    if (++steps > table.size()) {
      Damage(what + ": chain has a cycle");
      break;
    }
    ByteView sector;
    if (mini) {
      uint64_t off = uint64_t{cur} * unit;
      if (off < ministream_.size()) {
        sector = ByteView(ministream_).substr(static_cast<size_t>(off), static_cast<size_t>(unit));
      }
    } else {
      sector = Sector(cur);
    }
    if (sector.empty()) {
      Damage(what + ": sector " + std::to_string(cur) + " lies past the end of the file");
      break;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(sector.size(), want - out.size()));
    out.append(sector.substr(0, n));
    if (sector.size() < unit && out.size() < want) {
      Damage(what + ": file truncated after " + std::to_string(out.size()) + " bytes");
      break;
    }
    cur = table[cur];
  }
  return out;
}

Cfb::Entry Cfb::EntryAt(uint32_t id) const {
  ByteView e = ByteView(dir_).substr(size_t{id} * kDirEntrySize, kDirEntrySize);
  Entry out;
  out.name = EntryName(e);
  out.type = static_cast<uint8_t>(e[0x42]);
  out.left = Le32(e, 0x44);
  out.right = Le32(e, 0x48);
  out.child = Le32(e, 0x4c);
  out.start = Le32(e, 0x74);
  // [MS-CFB] 2.6.3: version 3 files may leave garbage in the high 32 bits.
  out.size = major3_ ? Le32(e, 0x78) : Le64(e, 0x78);
  return out;
}

bool Cfb::Emit(std::string name, Bytes data) {
  return sink_(ReaderMember{CleanReaderName(name, "stream"), std::move(data)});
}

// The compressed embedded objects of a PowerPoint stream: records are an 8-byte header (u16
// version/instance, u16 type, u32 length); containers (version 0xF) hold records, so the walk
// steps into them by reading on after their header.
bool Cfb::PowerPointObjects(const std::string& path, ByteView s) {
  size_t pos = 0;
  uint64_t n = 0;
  while (pos + 8 <= s.size()) {
    uint16_t ver_inst = Le16(s, pos);
    uint16_t type = Le16(s, pos + 2);
    uint32_t len = Le32(s, pos + 4);
    size_t body = pos + 8;
    if ((ver_inst & 0xf) == 0xf) {
      pos = body;
      continue;
    }
    if (len > s.size() - body) {
      Damage(path + ": record at " + std::to_string(pos) + " runs past the stream's end");
      return true;
    }
    if (type == kExOleObjStg) {
      std::string name = path + "!ExOleObjStg" + std::to_string(++n);
      ByteView rec = s.substr(body, len);
      Bytes out;
      if ((ver_inst >> 4) == 1) {
        if (rec.size() < 4) {
          Damage(name + ": compressed object without its size");
        } else {
          // The size in front is the writer's word only: the cap is the walker's.
          Status st = InflateCapped(rec.substr(4), options_.max_member_bytes, out);
          if (!st.ok()) Damage(name + ": " + st.message());
        }
      } else {
        out = Bytes(
            rec.substr(0, static_cast<size_t>(std::min<uint64_t>(rec.size(), options_.max_member_bytes))));
      }
      if (!out.empty() && !Emit(name, std::move(out))) return false;
    }
    pos = body + len;
  }
  return true;
}

Status Cfb::Read() {
  if (d_.size() < kHeaderSize)
    return DataLoss("OLE2 header truncated: " + std::to_string(d_.size()) + " bytes");
  uint16_t major = Le16(d_, 0x1a);
  uint16_t shift = Le16(d_, 0x1e), mini_shift = Le16(d_, 0x20);
  // [MS-CFB] 2.2 fixes 9 (version 3) and 12 (version 4); other writers exist, so any sane size.
  if (shift < 7 || shift > 16 || mini_shift < 2 || mini_shift > shift) {
    return DataLoss("OLE2 sector shift " + std::to_string(shift) + " / mini sector shift " +
                    std::to_string(mini_shift));
  }
  major3_ = major != 4;
  sector_size_ = uint32_t{1} << shift;
  mini_sector_size_ = uint32_t{1} << mini_shift;
  mini_cutoff_ = Le32(d_, 0x38);
  sectors_ = d_.size() > sector_size_ ? (d_.size() - sector_size_ + sector_size_ - 1) / sector_size_ : 0;
  const uint32_t per_sector = sector_size_ / 4;

  // ---- DIFAT: the list of FAT sectors, 109 in the header and the rest in a chain of sectors.
  // More FAT sectors than it takes to describe every sector of the file are never needed.
  const uint64_t fat_sectors_needed = sectors_ / per_sector + 1;
  std::vector<uint32_t> fat_sectors;
  auto add_fat_sector = [&](uint32_t s) {
    if (s < kMaxRegSect && fat_sectors.size() < fat_sectors_needed) fat_sectors.push_back(s);
  };
  for (size_t i = 0; i < kHeaderDifatEntries; ++i) add_fat_sector(Le32(d_, 0x4c + 4 * i));
  {
    std::vector<bool> seen(sectors_);
    for (uint32_t cur = Le32(d_, 0x44); cur < kMaxRegSect && fat_sectors.size() < fat_sectors_needed;) {
      if (cur >= sectors_) {
        Damage("DIFAT chain points to sector " + std::to_string(cur) + ", past the end of the file");
        break;
      }
      if (seen[cur]) {
        Damage("DIFAT chain has a cycle at sector " + std::to_string(cur));
        break;
      }
      seen[cur] = true;
      ByteView s = Sector(cur);
      if (s.size() < sector_size_) {
        Damage("DIFAT sector " + std::to_string(cur) + " truncated");
        break;
      }
      for (uint32_t i = 0; i + 1 < per_sector; ++i) add_fat_sector(Le32(s, 4 * i));
      cur = Le32(s, 4 * (per_sector - 1));
    }
  }
  // ---- FAT.
  fat_.reserve(fat_sectors.size() * per_sector);
  for (uint32_t fs : fat_sectors) {
    ByteView s = Sector(fs);
    if (s.size() < sector_size_)
      Damage("FAT sector " + std::to_string(fs) + " lies past the end of the file");
    for (uint32_t i = 0; i < per_sector; ++i)
      fat_.push_back(4 * (i + 1) <= s.size() ? Le32(s, 4 * i) : kNoStream);
  }
  // ---- Directory.
  for (uint32_t s : MetaChain(Le32(d_, 0x30), "directory")) {
    ByteView sec = Sector(s);
    if (sec.size() < sector_size_) {
      Damage("directory sector " + std::to_string(s) + " lies past the end of the file");
      break;
    }
    dir_.append(sec);
  }
  const uint64_t entries = dir_.size() / kDirEntrySize;
  if (entries == 0) return DataLoss(damage_.empty() ? "OLE2 file without a directory" : damage_);
  // ---- miniFAT and the mini stream (held by the root entry).
  for (uint32_t s : MetaChain(Le32(d_, 0x3c), "miniFAT")) {
    ByteView sec = Sector(s);
    if (sec.size() < sector_size_) {
      Damage("miniFAT sector " + std::to_string(s) + " lies past the end of the file");
      break;
    }
    for (uint32_t i = 0; i < per_sector; ++i) minifat_.push_back(Le32(sec, 4 * i));
  }
  Entry root = EntryAt(0);
  if (root.type != 5) Damage("directory entry 0 is not the root (type " + std::to_string(root.type) + ")");
  if (root.size > 0 && root.start < kMaxRegSect) {
    // The mini stream is read like a big stream whatever its size.
    uint32_t cutoff = mini_cutoff_;
    mini_cutoff_ = 0;
    ministream_ = ReadStream(root.start, root.size, uint64_t{sectors_} * sector_size_, "mini stream");
    mini_cutoff_ = cutoff;
  }

  // ---- The directory tree: siblings are a red-black tree (left/right), a storage's children
  // hang from its `child`. Each entry is visited once.
  struct Todo {
    uint32_t id;
    std::string prefix;
    int depth;
  };
  std::vector<Todo> todo{{root.child, "", 0}};
  std::vector<bool> seen(entries);
  seen[0] = true;
  while (!todo.empty()) {
    Todo t = std::move(todo.back());
    todo.pop_back();
    if (t.id == kNoStream) continue;
    if (t.id >= entries) {
      Damage("directory tree points to entry " + std::to_string(t.id) + " of " + std::to_string(entries));
      continue;
    }
    if (seen[t.id]) {
      Damage("directory tree has a cycle at entry " + std::to_string(t.id));
      continue;
    }
    seen[t.id] = true;
    Entry e = EntryAt(t.id);
    todo.push_back({e.right, t.prefix, t.depth});
    todo.push_back({e.left, t.prefix, t.depth});
    std::string path = t.prefix + e.name;
    if (e.type == 1) {
      if (t.depth + 1 > kMaxStorageDepth) {
        Damage("storage " + path + " nested deeper than " + std::to_string(kMaxStorageDepth));
      } else {
        todo.push_back({e.child, path + "/", t.depth + 1});
      }
    } else if (e.type == 2 && e.size > 0) {
      Bytes data = ReadStream(e.start, e.size, options_.max_member_bytes, "stream " + path);
      if (data.empty()) continue;
      Bytes ppt;
      bool powerpoint = path == "PowerPoint Document";
      if (powerpoint) ppt = data;
      if (!Emit(path, std::move(data))) return Status::Ok();
      if (powerpoint && !PowerPointObjects(path, ppt)) return Status::Ok();
    }
  }
  return damage_.empty() ? Status::Ok() : DataLoss(damage_);
}

}  // namespace

bool LooksLikeOle2(ByteView d) {
  return At(d, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
}

Status ReadOle2(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  return Cfb(data, options, sink).Read();
}

}  // namespace accord::scan
