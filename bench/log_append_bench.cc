// Sustained durable appends, side by side with the physical limit (the same bytes written and
// fsynced to one plain file), in one run on one file system.
//
//   log_append_bench DIR [ENTRIES] [ENTRY_SIZE]     (defaults: 1,000,000 entries of 1,024 bytes)
//
// Prints: entries/s, the ratio to the plain file, the latency from submitting an entry to the
// first published checkpoint that covers it (max and p99, per batch of 4,096), and the bytes the
// log stores beyond the entries themselves. DIR must not exist; it is removed at the end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "crypto/note.h"
#include "tlog/log.h"

using namespace accord;
using Clock = std::chrono::steady_clock;

namespace {
double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void Die(const Status& s) {
  std::fprintf(stderr, "log_append_bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

void FillEntry(char* p, size_t size, uint64_t i) {
  // Distinct, incompressible-enough content: a xorshift stream seeded by the index.
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
  for (size_t k = 0; k < size; k += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(p + k, &x, std::min<size_t>(8, size - k));
  }
}

struct Usage {
  uint64_t apparent = 0, allocated = 0, files = 0;
};
Usage DiskUsage(const std::string& dir) {
  Usage u;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    struct stat st;
    if (::stat(e.path().c_str(), &st) != 0) continue;
    u.apparent += st.st_size;
    u.allocated += uint64_t(st.st_blocks) * 512;
    ++u.files;
  }
  return u;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: log_append_bench DIR [ENTRIES] [ENTRY_SIZE]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t n = argc > 2 ? std::stoull(argv[2]) : 1000000;
  const size_t entry_size = argc > 3 ? std::stoul(argv[3]) : 1024;
  const size_t batch = 4096;
  if (fs::Exists(dir)) Die(InvalidArgument(dir + " exists"));
  if (auto s = fs::MakeDirs(dir); !s.ok()) Die(s);

  // 1. The physical limit: the same bytes (with the bundles' 2-byte prefixes) to one file, fsync.
  std::string plain = dir + "/plain";
  double plain_s;
  {
    std::vector<char> buf((entry_size + 2) * batch);
    auto t0 = Clock::now();
    int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t i = 0; i < n; i += batch) {
      size_t count = std::min<uint64_t>(batch, n - i);
      for (size_t k = 0; k < count; ++k) FillEntry(buf.data() + k * (entry_size + 2) + 2, entry_size, i + k);
      if (::write(fd, buf.data(), count * (entry_size + 2)) < 0) Die(Internal("write plain"));
    }
    ::fsync(fd);
    ::close(fd);
    plain_s = Seconds(Clock::now() - t0);
    ::unlink(plain.c_str());
    sync();
  }

  // 2. accord's log.
  std::string keys = dir + "/keys", log = dir + "/log";
  (void)fs::MakeDirs(keys);
  auto signer = note::GenerateSigner("bench.example/log");
  if (auto s = fs::WriteFileAtomic(keys + "/log.key", note::FormatSignerKey(*signer) + "\n", 0600); !s.ok())
    Die(s);
  if (auto s = tlog::InitLog(log, "bench.example/log", keys + "/log.key"); !s.ok()) Die(s);
  auto writer = tlog::LogWriter::Open(log);
  if (!writer.ok()) Die(writer.status());

  const size_t batches = (n + batch - 1) / batch;
  std::vector<Clock::time_point> submitted(batches), checkpointed(batches);
  std::thread watcher([&] {
    for (size_t b = 0; b < batches; ++b) {
      uint64_t end = std::min<uint64_t>((b + 1) * batch, n);
      auto cp = (*writer)->WaitForCheckpoint(end);
      if (!cp.ok()) Die(cp.status());
      auto now = Clock::now();
      // One checkpoint may cover many batches.
      while (b < batches && std::min<uint64_t>((b + 1) * batch, n) <= cp->checkpoint.size)
        checkpointed[b++] = now;
      --b;
    }
  });
  std::vector<std::future<Result<uint64_t>>> futures;
  futures.reserve(batches);
  std::string entry(entry_size, '\0');
  auto t0 = Clock::now();
  for (size_t b = 0; b < batches; ++b) {
    tlog::EntryBatch eb;
    for (uint64_t i = b * batch; i < std::min<uint64_t>((b + 1) * batch, n); ++i) {
      FillEntry(entry.data(), entry_size, i);
      (void)eb.Add(entry);
    }
    submitted[b] = Clock::now();
    futures.push_back((*writer)->Submit(std::move(eb)));
  }
  for (size_t b = 0; b < batches; ++b) {
    auto r = futures[b].get();
    if (!r.ok()) Die(r.status());
    if (*r != b * batch) Die(Internal("batch " + std::to_string(b) + " got index " + std::to_string(*r)));
  }
  watcher.join();
  double accord_s = Seconds(checkpointed.back() - t0);
  writer->reset();

  std::vector<double> latency(batches);
  for (size_t b = 0; b < batches; ++b) latency[b] = Seconds(checkpointed[b] - submitted[b]);
  std::sort(latency.begin(), latency.end());
  Usage u = DiskUsage(log);
  double entry_bytes = double(n) * entry_size;

  std::printf("entries:                 %llu x %zu bytes, batches of %zu\n", (unsigned long long)n,
              entry_size, batch);
  std::printf("plain file + fsync:      %.2f s (%.0f MB/s)\n", plain_s, n * (entry_size + 2) / plain_s / 1e6);
  std::printf("accord log:              %.2f s = %.0f entries/s durable and checkpointed\n", accord_s,
              n / accord_s);
  std::printf("ratio to plain file:     %.2f\n", accord_s / plain_s);
  std::printf("append -> checkpoint:    p50 %.3f s, p99 %.3f s, max %.3f s\n", latency[batches / 2],
              latency[std::min(batches - 1, batches * 99 / 100)], latency.back());
  std::printf(
      "storage beyond entries:  %.1f bytes/entry (file sizes), %.1f bytes/entry (allocated blocks), %llu "
      "files\n",
      (u.apparent - entry_bytes) / n, (u.allocated - entry_bytes) / n, (unsigned long long)u.files);
  (void)fs::RemoveTree(dir);
  return 0;
}
