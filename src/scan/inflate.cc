#include "scan/inflate.h"

#include <zlib.h>

#include <algorithm>
#include <string>

namespace accord::scan {

namespace {

// Inflates `in` with the initialised stream `z` (left for the caller to end or reset).
Status InflateWith(z_stream& z, ByteView in, uint64_t cap, Bytes& out) {
  z.avail_in = 0;  // a reset stream keeps what was left of the last input: none of it is ours now
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  char buf[64 * 1024];
  Status status;
  size_t fed = 0;
  for (;;) {
    if (z.avail_in == 0 && fed < in.size()) {
      size_t n = std::min<size_t>(in.size() - fed, 1u << 30);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
      z.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    uint64_t room = cap - std::min<uint64_t>(cap, out.size());
    if (room == 0) break;
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = static_cast<uInt>(std::min<uint64_t>(sizeof(buf), room));
    uInt avail_in_before = z.avail_in;
    int r = inflate(&z, Z_NO_FLUSH);
    size_t produced = static_cast<size_t>(reinterpret_cast<char*>(z.next_out) - buf);
    out.append(buf, produced);
    if (r == Z_STREAM_END) break;
    bool stuck = produced == 0 && z.avail_in == avail_in_before && !(z.avail_in == 0 && fed < in.size());
    if ((r == Z_BUF_ERROR || stuck) && z.avail_in == 0 && fed >= in.size()) {
      status = DataLoss("deflate stream truncated after " + std::to_string(out.size()) + " bytes");
      break;
    }
    if ((r != Z_OK && r != Z_BUF_ERROR) || stuck) {
      status = DataLoss("deflate stream damaged after " + std::to_string(out.size()) +
                        " bytes: " + (z.msg != nullptr ? z.msg : "zlib error " + std::to_string(r)));
      break;
    }
  }
  return status;
}

Status Inflate(ByteView in, int window_bits, uint64_t cap, Bytes& out) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return Internal("zlib: inflateInit2 failed");
  Status s = InflateWith(z, in, cap, out);
  inflateEnd(&z);
  return s;
}

}  // namespace

struct RawInflater::State {
  z_stream z{};
  bool ready = false;
};
RawInflater::RawInflater() : state_(new State) {
  state_->ready = inflateInit2(&state_->z, -15) == Z_OK;
}
RawInflater::~RawInflater() {
  if (state_->ready) inflateEnd(&state_->z);
  delete state_;
}
Status RawInflater::Append(ByteView in, uint64_t cap, Bytes& out) {
  if (!state_->ready || inflateReset(&state_->z) != Z_OK) return Internal("zlib: inflate state unusable");
  return InflateWith(state_->z, in, cap, out);
}

Status InflateCapped(ByteView in, uint64_t cap, Bytes& out) {
  out.clear();
  // A zlib header is CMF (deflate, window <= 32K) and FLG with CMF*256+FLG a multiple of 31.
  bool zlib_header = in.size() >= 2 && (static_cast<unsigned char>(in[0]) & 0x0f) == 8 &&
                     (static_cast<unsigned char>(in[0]) >> 4) <= 7 &&
                     ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])) % 31 == 0;
  return Inflate(in, zlib_header ? 15 : -15, cap, out);
}

Status InflateRawAppend(ByteView in, uint64_t cap, Bytes& out) {
  return Inflate(in, -15, cap, out);
}

}  // namespace accord::scan
