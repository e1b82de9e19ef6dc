#include "scan/nsis_bzip2.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace accord::scan {
namespace {

constexpr uint32_t kBlockBytes = 900000;  // NSIS's bzip2 level 9
constexpr int kMaxGroups = 6;
constexpr int kGroupSize = 50;
constexpr uint32_t kMaxSelectors = 2 + kBlockBytes / kGroupSize;
constexpr int kMaxAlpha = 258;
constexpr int kMaxCodeLength = 20;
constexpr uint8_t kBlockMark = 0x31, kEndMark = 0x17;

// Canonical Huffman decoding tables of one group, bzip2's limit/base/perm.
struct Table {
  std::array<int32_t, kMaxCodeLength + 2> limit{}, base{};
  std::array<uint16_t, kMaxAlpha> perm{};
  int min_length = 0;
};

void BuildTable(const uint8_t* length, int alpha, Table& t) {
  int lo = kMaxCodeLength, hi = 0;
  for (int i = 0; i < alpha; ++i) {
    lo = std::min<int>(lo, length[i]);
    hi = std::max<int>(hi, length[i]);
  }
  int p = 0;
  for (int l = lo; l <= hi; ++l) {
    for (int i = 0; i < alpha; ++i) {
      if (length[i] == l) t.perm[p++] = static_cast<uint16_t>(i);
    }
  }
  std::array<int32_t, kMaxCodeLength + 2> count{};  // count[l + 1]: codes of length l
  for (int i = 0; i < alpha; ++i) ++count[length[i] + 1];
  for (int l = 1; l < kMaxCodeLength + 2; ++l) count[l] += count[l - 1];  // codes shorter than l
  t.limit.fill(-1);
  int32_t code = 0;
  for (int l = lo; l <= hi; ++l) {
    code += count[l + 1] - count[l];
    t.limit[l] = code - 1;
    code <<= 1;
  }
  t.base.fill(0);
  t.base[lo] = count[lo];  // the first code of length lo is 0, the count[lo]-th symbol of perm
  for (int l = lo + 1; l <= hi; ++l) t.base[l] = ((t.limit[l - 1] + 1) << 1) - count[l];
  t.min_length = lo;
}

}  // namespace

struct NsisBzip2Decoder::Block {
  // Allocated at the first block mark, not cleared: every entry read is written first.
  std::unique_ptr<uint32_t[]> tt;
  uint32_t size = 0;    // bytes in the block (before the final run-length stage)
  uint32_t used = 0;    // of them, output
  uint32_t pos = 0;     // next position in the inverse transform
  int last = -1;        // the byte before, -1 when a run cannot continue
  int run = 0;          // how many times `last` came in a row (4: the next byte is a count)
  uint32_t repeat = 0;  // copies of `last` still to output
  bool done = true;
};

NsisBzip2Decoder::NsisBzip2Decoder(ByteView in) : in_(in), block_(std::make_unique<Block>()) {}
NsisBzip2Decoder::~NsisBzip2Decoder() = default;

namespace {

// Bits of `in`, most significant first, from a bit position that it keeps up to date; false
// once past the end.
class BitReader {
 public:
  BitReader(ByteView in, uint64_t& bit) : in_(in), bit_(bit), next_(static_cast<size_t>(bit >> 3)) {
    if ((bit & 7) != 0 && next_ < in_.size()) {
      have_ = 8 - static_cast<int>(bit & 7);
      acc_ = static_cast<unsigned char>(in_[next_++]);
    }
  }
  bool Get(int n, uint32_t& v) {  // n <= 24
    while (have_ < n) {
      if (next_ >= in_.size()) return false;
      acc_ = (acc_ << 8) | static_cast<unsigned char>(in_[next_++]);
      have_ += 8;
    }
    have_ -= n;
    v = static_cast<uint32_t>(acc_ >> have_) & ((1u << n) - 1);
    bit_ += static_cast<uint64_t>(n);
    return true;
  }

 private:
  ByteView in_;
  uint64_t& bit_;
  size_t next_;
  uint64_t acc_ = 0;
  int have_ = 0;
};

}  // namespace

Status NsisBzip2Decoder::NextBlock() {
  BitReader bits(in_, bit_);
  const Status cut = DataLoss("NSIS bzip2: stream cut");
  uint32_t v = 0;
  if (!bits.Get(8, v)) return cut;
  if (v == kEndMark) {
    ended_ = true;
    return Status::Ok();
  }
  if (v != kBlockMark) return DataLoss("NSIS bzip2: no block or end mark (byte " + std::to_string(v) + ")");
  Block& b = *block_;
  if (!b.tt) b.tt = std::make_unique_for_overwrite<uint32_t[]>(kBlockBytes);
  uint32_t orig = 0;
  if (!bits.Get(24, orig)) return cut;
  if (orig > kBlockBytes) return DataLoss("NSIS bzip2: block origin past the block size");

  // The bytes in use: 16 ranges of 16, then the bytes of the ranges in use.
  std::array<uint8_t, 256> seq_to_byte{};
  int in_use = 0;
  uint32_t ranges = 0;
  if (!bits.Get(16, ranges)) return cut;
  for (int r = 0; r < 16; ++r) {
    if ((ranges & (0x8000u >> r)) == 0) continue;
    uint32_t set = 0;
    if (!bits.Get(16, set)) return cut;
    for (int b = 0; b < 16; ++b) {
      if ((set & (0x8000u >> b)) != 0)
        seq_to_byte[static_cast<size_t>(in_use++)] = static_cast<uint8_t>(r * 16 + b);
    }
  }
  if (in_use == 0) return DataLoss("NSIS bzip2: a block uses no byte");
  const int alpha = in_use + 2;

  uint32_t groups = 0, selectors = 0;
  if (!bits.Get(3, groups) || !bits.Get(15, selectors)) return cut;
  if (groups < 2 || groups > kMaxGroups) return DataLoss("NSIS bzip2: bad number of Huffman tables");
  if (selectors < 1 || selectors > kMaxSelectors) return DataLoss("NSIS bzip2: bad number of selectors");
  std::vector<uint8_t> selector(selectors);
  {
    std::array<uint8_t, kMaxGroups> order{0, 1, 2, 3, 4, 5};
    for (uint32_t i = 0; i < selectors; ++i) {
      uint32_t j = 0;
      for (;;) {
        uint32_t bit = 0;
        if (!bits.Get(1, bit)) return cut;
        if (bit == 0) break;
        if (++j >= groups) return DataLoss("NSIS bzip2: selector past the tables");
      }
      uint8_t t = order[j];  // undo the move-to-front
      std::copy_backward(order.begin(), order.begin() + j, order.begin() + j + 1);
      order[0] = t;
      selector[i] = t;
    }
  }

  std::array<Table, kMaxGroups> tables;
  for (uint32_t t = 0; t < groups; ++t) {
    std::array<uint8_t, kMaxAlpha> length{};
    uint32_t current = 0;
    if (!bits.Get(5, current)) return cut;
    for (int i = 0; i < alpha; ++i) {
      for (;;) {
        if (current < 1 || current > kMaxCodeLength) return DataLoss("NSIS bzip2: bad code length");
        uint32_t more = 0, down = 0;
        if (!bits.Get(1, more)) return cut;
        if (more == 0) break;
        if (!bits.Get(1, down)) return cut;
        current = down == 0 ? current + 1 : current - 1;
      }
      length[static_cast<size_t>(i)] = static_cast<uint8_t>(current);
    }
    BuildTable(length.data(), alpha, tables[t]);
  }

  // The symbols: move-to-front indexes and runs of the front byte (RUNA 0, RUNB 1), up to EOB.
  const int eob = in_use + 1;
  std::array<uint8_t, 256> mtf;
  for (int i = 0; i < 256; ++i) mtf[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  std::array<uint32_t, 256> counts{};
  uint32_t n = 0, group_left = 0, group_index = 0;
  const Table* table = nullptr;
  uint32_t run = 0, run_weight = 1;
  auto flush_run = [&]() -> Status {
    if (run == 0) return Status::Ok();
    uint8_t byte = seq_to_byte[mtf[0]];
    if (run > kBlockBytes - n) return DataLoss("NSIS bzip2: block longer than 900,000 bytes");
    std::fill(b.tt.get() + n, b.tt.get() + n + run, uint32_t{byte});
    counts[byte] += run;
    n += run;
    run = 0;
    run_weight = 1;
    return Status::Ok();
  };
  for (;;) {
    if (group_left == 0) {
      if (group_index >= selectors) return DataLoss("NSIS bzip2: more symbols than selectors");
      table = &tables[selector[group_index++]];
      group_left = kGroupSize;
    }
    --group_left;
    int length = table->min_length;
    uint32_t code = 0;
    if (!bits.Get(length, code)) return cut;
    while (static_cast<int32_t>(code) > table->limit[static_cast<size_t>(length)]) {
      if (++length > kMaxCodeLength) return DataLoss("NSIS bzip2: bad Huffman code");
      uint32_t bit = 0;
      if (!bits.Get(1, bit)) return cut;
      code = (code << 1) | bit;
    }
    int32_t index = static_cast<int32_t>(code) - table->base[static_cast<size_t>(length)];
    if (index < 0 || index >= alpha) return DataLoss("NSIS bzip2: bad Huffman code");
    const int symbol = table->perm[static_cast<size_t>(index)];
    if (symbol <= 1) {  // RUNA, RUNB: a bijective base-2 digit of the run's length
      if (run_weight > kBlockBytes) return DataLoss("NSIS bzip2: run longer than a block");
      run += run_weight << symbol;
      run_weight <<= 1;
      continue;
    }
    if (Status s = flush_run(); !s.ok()) return s;
    if (symbol == eob) break;
    if (n >= kBlockBytes) return DataLoss("NSIS bzip2: block longer than 900,000 bytes");
    const size_t k = static_cast<size_t>(symbol - 1);  // below in_use: symbol < eob
    uint8_t front = mtf[k];
    std::copy_backward(mtf.begin(), mtf.begin() + static_cast<std::ptrdiff_t>(k),
                       mtf.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    mtf[0] = front;
    uint8_t byte = seq_to_byte[front];
    b.tt[n++] = byte;
    ++counts[byte];
  }
  if (orig >= n) return DataLoss("NSIS bzip2: block origin past the block's end");

  // The inverse Burrows-Wheeler transform: each entry's high 24 bits link to the next.
  std::array<uint32_t, 256> start{};
  for (int c = 1; c < 256; ++c)
    start[static_cast<size_t>(c)] = start[static_cast<size_t>(c - 1)] + counts[static_cast<size_t>(c - 1)];
  for (uint32_t i = 0; i < n; ++i) {
    uint8_t c = static_cast<uint8_t>(b.tt[i] & 0xff);
    b.tt[start[c]++] |= i << 8;
  }
  b.size = n;
  b.used = 0;
  b.pos = b.tt[orig] >> 8;
  b.last = -1;
  b.run = 0;
  b.repeat = 0;
  b.done = false;
  return Status::Ok();
}

Status NsisBzip2Decoder::Read(char* buf, size_t n, size_t& got, bool& end) {
  got = 0;
  end = false;
  if (failed_) return failure_;
  Block& b = *block_;
  while (got < n) {
    if (b.repeat > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(b.repeat, n - got));
      std::fill(buf + got, buf + got + k, static_cast<char>(b.last));
      got += k;
      b.repeat -= static_cast<uint32_t>(k);
      continue;
    }
    if (b.done || b.used == b.size) {
      b.done = true;
      if (ended_) {
        end = true;
        return Status::Ok();
      }
      if (Status s = NextBlock(); !s.ok()) {
        failed_ = true;
        failure_ = s;
        return s;
      }
      continue;
    }
    // The final run-length stage: four equal bytes, then a count of more copies.
    uint32_t entry = b.tt[b.pos];
    b.pos = entry >> 8;
    ++b.used;
    int byte = static_cast<int>(entry & 0xff);
    if (b.run == 4) {
      b.repeat = static_cast<uint32_t>(byte);  // `last` stays for them; the next byte starts a run
      b.run = 0;
      continue;
    }
    if (byte == b.last) {
      ++b.run;
    } else {
      b.last = byte;
      b.run = 1;
    }
    buf[got++] = static_cast<char>(byte);
  }
  return Status::Ok();
}

}  // namespace accord::scan
