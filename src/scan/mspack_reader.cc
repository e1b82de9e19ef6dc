#include "scan/mspack_reader.h"

#include <mspack.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace accord::scan {
namespace {

// The largest single allocation libmspack may make (its LZX window is at most 2 MiB, its CHM
// directory chunks a few KiB); a header asking for more is refused as damage.
constexpr size_t kMaxAlloc = size_t{64} << 20;

// What a "file name" given to libmspack points at: the input, or an output buffer with its cap.
// libmspack passes file names to mspack_system::open untouched (mspack.h), so they may be pointers.
struct Target {
  bool is_input = false;
  ByteView in;
  Bytes* out = nullptr;
  uint64_t cap = 0;
  bool over_cap = false;       // a write went past `cap`: the output is cut, not damaged
  bool out_of_memory = false;  // a write could not grow `out` (no exception through libmspack)
};

// An open "file": a Target and a position. Layout-compatible stand-in for mspack_file.
struct Handle {
  Target* target;
  uint64_t pos;
};

Handle* H(struct mspack_file* f) {
  return reinterpret_cast<Handle*>(f);
}

struct mspack_file* Open(struct mspack_system*, const char* filename, int mode) {
  auto* t = reinterpret_cast<Target*>(const_cast<char*>(filename));
  if (t == nullptr) return nullptr;
  if (t->is_input != (mode == MSPACK_SYS_OPEN_READ)) return nullptr;
  if (!t->is_input && mode != MSPACK_SYS_OPEN_WRITE) return nullptr;
  auto* h = new (std::nothrow) Handle{t, 0};
  return reinterpret_cast<struct mspack_file*>(h);
}

void Close(struct mspack_file* f) {
  delete H(f);
}

int Read(struct mspack_file* f, void* buffer, int bytes) {
  Handle* h = H(f);
  if (bytes < 0 || !h->target->is_input) return -1;
  ByteView in = h->target->in;
  if (h->pos >= in.size()) return 0;
  size_t n = std::min<uint64_t>(static_cast<uint64_t>(bytes), in.size() - h->pos);
  std::memcpy(buffer, in.data() + h->pos, n);
  h->pos += n;
  return static_cast<int>(n);
}

int Write(struct mspack_file* f, void* buffer, int bytes) {
  Handle* h = H(f);
  Target* t = h->target;
  if (bytes < 0 || t->is_input || t->out == nullptr) return -1;
  uint64_t room = t->cap - std::min<uint64_t>(t->cap, t->out->size());
  size_t n = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(bytes), room));
  // A short write makes libmspack stop with MSPACK_ERR_WRITE; over_cap tells that from damage.
  if (n < static_cast<size_t>(bytes)) t->over_cap = true;
  try {
    t->out->append(static_cast<const char*>(buffer), n);
  } catch (const std::bad_alloc&) {
    t->out_of_memory = true;
    return -1;
  }
  h->pos += n;
  return static_cast<int>(n);
}

int Seek(struct mspack_file* f, off_t offset, int mode) {
  Handle* h = H(f);
  if (!h->target->is_input) return -1;  // outputs are written front to back
  uint64_t size = h->target->in.size();
  int64_t base = 0;
  switch (mode) {
    case MSPACK_SYS_SEEK_START:
      base = 0;
      break;
    case MSPACK_SYS_SEEK_CUR:
      base = static_cast<int64_t>(h->pos);
      break;
    case MSPACK_SYS_SEEK_END:
      base = static_cast<int64_t>(size);
      break;
    default:
      return -1;
  }
  // Offsets come from the container's headers: no overflow, no position outside the buffer.
  int64_t off = static_cast<int64_t>(offset);
  if ((off > 0 && base > INT64_MAX - off)) return -1;
  int64_t pos = base + off;
  if (pos < 0 || static_cast<uint64_t>(pos) > size) return -1;
  h->pos = static_cast<uint64_t>(pos);
  return 0;
}

off_t Tell(struct mspack_file* f) {
  return static_cast<off_t>(H(f)->pos);
}

void Message(struct mspack_file*, const char*, ...) {}  // libmspack's warnings; the status says enough

// Zeroed: libmspack 0.11's KWAJ reader frees header fields it never set when the signature is
// wrong (found by fuzz_mspack), and zeroed fields make that free(NULL).
void* Alloc(struct mspack_system*, size_t bytes) {
  return bytes <= kMaxAlloc ? std::calloc(1, bytes) : nullptr;
}
void Free(void* p) {
  std::free(p);
}
void Copy(void* src, void* dest, size_t bytes) {
  std::memmove(dest, src, bytes);
}

struct mspack_system MemorySystem() {
  struct mspack_system s {};
  s.open = Open;
  s.close = Close;
  s.read = Read;
  s.write = Write;
  s.seek = Seek;
  s.tell = Tell;
  s.message = Message;
  s.alloc = Alloc;
  s.free = Free;
  s.copy = Copy;
  s.null_ptr = nullptr;
  return s;
}

const char* AsName(Target* t) {
  return reinterpret_cast<const char*>(t);
}

std::string ErrorName(int err) {
  switch (err) {
    case MSPACK_ERR_OK:
      return "ok";
    case MSPACK_ERR_ARGS:
      return "bad arguments";
    case MSPACK_ERR_OPEN:
      return "cannot open";
    case MSPACK_ERR_READ:
      return "truncated (read past the end)";
    case MSPACK_ERR_WRITE:
      return "write failed";
    case MSPACK_ERR_SEEK:
      return "offset outside the file";
    case MSPACK_ERR_NOMEMORY:
      return "allocation refused (header asks for too much memory)";
    case MSPACK_ERR_SIGNATURE:
      return "bad signature";
    case MSPACK_ERR_DATAFORMAT:
      return "malformed header or directory";
    case MSPACK_ERR_CHECKSUM:
      return "checksum mismatch";
    case MSPACK_ERR_DECRUNCH:
      return "compressed data damaged";
    default:
      return "libmspack error " + std::to_string(err);
  }
}

Status SelfTest() {
  int result = 0;
  MSPACK_SYS_SELFTEST(result);
  if (result != MSPACK_ERR_OK) return Internal("libmspack was built with another off_t size");
  return Status::Ok();
}

bool At(ByteView d, size_t off, ByteView magic) {
  return d.size() >= off + magic.size() && d.compare(off, magic.size(), magic) == 0;
}

// The name of what a single-file SZDD/KWAJ container holds (header comment).
std::string SingleFileName(std::string_view container, char missing_char) {
  std::string base(container);
  if (!base.empty() && base.back() == '_' && missing_char != '\0') {
    base.back() = missing_char;
    return CleanReaderName(base, "data");
  }
  for (std::string_view ext : {".szdd", ".SZDD", ".kwj", ".KWJ", ".kwaj", ".KWAJ"}) {
    if (base.size() > ext.size() && std::string_view(base).ends_with(ext)) {
      return CleanReaderName(base.substr(0, base.size() - ext.size()), "data");
    }
  }
  return "data";
}

// Extracts one member into `out` through `extract(target)`; maps the outcome to a Status.
template <typename Extract>
Status ExtractInto(Bytes& out, uint64_t cap, std::string_view what, Extract extract) {
  Target t;
  t.out = &out;
  t.cap = cap;
  int err = extract(AsName(&t));
  if (t.out_of_memory) throw std::bad_alloc();  // libmspack has returned: as any allocation would
  if (err == MSPACK_ERR_OK || t.over_cap) return Status::Ok();
  return DataLoss(std::string(what) + " damaged after " + std::to_string(out.size()) +
                  " bytes: " + ErrorName(err));
}

}  // namespace

bool LooksLikeSzdd(ByteView d) {
  return At(d, 0, "SZDD\x88\xf0\x27\x33") || At(d, 0, "SZ \x88\xf0\x27\x33\xd1");
}
bool LooksLikeKwaj(ByteView d) {
  return At(d, 0, "KWAJ\x88\xf0\x27\xd1");
}
bool LooksLikeChm(ByteView d) {
  return At(d, 0, "ITSF") && d.size() >= 8 && (Le32(d, 4) == 2 || Le32(d, 4) == 3);
}

Status ReadSzdd(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeSzdd(data)) return DataLoss("not an SZDD file");
  if (Status s = SelfTest(); !s.ok()) return s;
  struct mspack_system sys = MemorySystem();
  struct msszdd_decompressor* d = mspack_create_szdd_decompressor(&sys);
  if (d == nullptr) return Internal("SZDD: libmspack decompressor not created");
  Target in;
  in.is_input = true;
  in.in = data;
  Status status;
  struct msszddd_header* h = d->open(d, AsName(&in));
  if (h == nullptr) {
    status = DataLoss("SZDD header: " + ErrorName(d->last_error(d)));
  } else {
    ReaderMember m;
    m.name = SingleFileName(options.container_name, h->missing_char);
    status = ExtractInto(m.data, options.max_member_bytes, "SZDD data",
                         [&](const char* out) { return d->extract(d, h, out); });
    d->close(d, h);
    if (!m.data.empty() || status.ok()) sink(std::move(m));
  }
  mspack_destroy_szdd_decompressor(d);
  return status;
}

Status ReadKwaj(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeKwaj(data)) return DataLoss("not a KWAJ file");
  if (Status s = SelfTest(); !s.ok()) return s;
  struct mspack_system sys = MemorySystem();
  struct mskwaj_decompressor* d = mspack_create_kwaj_decompressor(&sys);
  if (d == nullptr) return Internal("KWAJ: libmspack decompressor not created");
  Target in;
  in.is_input = true;
  in.in = data;
  Status status;
  struct mskwajd_header* h = d->open(d, AsName(&in));
  if (h == nullptr) {
    status = DataLoss("KWAJ header: " + ErrorName(d->last_error(d)));
  } else {
    ReaderMember m;
    m.name = h->filename != nullptr && h->filename[0] != '\0' ? CleanReaderName(h->filename, "data")
                                                              : SingleFileName(options.container_name, '\0');
    if (h->comp_type > MSKWAJ_COMP_MSZIP) {
      status = Unimplemented("KWAJ compression type " + std::to_string(h->comp_type));
    } else {
      status = ExtractInto(m.data, options.max_member_bytes, "KWAJ data",
                           [&](const char* out) { return d->extract(d, h, out); });
      if (!m.data.empty() || status.ok()) sink(std::move(m));
    }
    d->close(d, h);
  }
  mspack_destroy_kwaj_decompressor(d);
  return status;
}

Status ReadChm(ByteView data, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeChm(data)) return DataLoss("not a CHM file");
  if (Status s = SelfTest(); !s.ok()) return s;
  struct mspack_system sys = MemorySystem();
  struct mschm_decompressor* d = mspack_create_chm_decompressor(&sys);
  if (d == nullptr) return Internal("CHM: libmspack decompressor not created");
  Target in;
  in.is_input = true;
  in.in = data;
  Status status;
  struct mschmd_header* chm = d->open(d, AsName(&in));
  if (chm == nullptr) {
    status = DataLoss("CHM header or directory: " + ErrorName(d->last_error(d)));
  } else {
    // In section order and offset order, so that libmspack's LZX state carries from one file to
    // the next instead of restarting (which would make a many-file CHM quadratic).
    std::vector<struct mschmd_file*> files;
    for (struct mschmd_file* list : {chm->files, chm->sysfiles}) {
      for (struct mschmd_file* f = list; f != nullptr; f = f->next) {
        if (f->length > 0) files.push_back(f);
      }
    }
    std::stable_sort(files.begin(), files.end(), [](const mschmd_file* a, const mschmd_file* b) {
      unsigned sa = a->section != nullptr ? a->section->id : 0,
               sb = b->section != nullptr ? b->section->id : 0;
      return sa != sb ? sa < sb : a->offset < b->offset;
    });
    uint64_t index = 0;
    for (struct mschmd_file* f : files) {
      ++index;
      std::string_view name = f->filename != nullptr ? f->filename : "";
      while (name.starts_with("/")) name.remove_prefix(1);
      ReaderMember m;
      m.name = CleanReaderName(name, "file" + std::to_string(index));
      Status s = ExtractInto(m.data, options.max_member_bytes, "CHM file " + m.name,
                             [&](const char* out) { return d->extract(d, f, out); });
      if (!s.ok() && status.ok()) status = s;
      if ((!m.data.empty() || s.ok()) && !sink(std::move(m))) break;
    }
    d->close(d, chm);
  }
  mspack_destroy_chm_decompressor(d);
  return status;
}

}  // namespace accord::scan
