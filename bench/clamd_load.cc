// Load for clamd-protocol daemons (`accord scand`, Debian's clamd), and the databases to load them with.
//
//   clamd_load (--unix PATH | --tcp HOST:PORT) [--clients 32] [--seconds 10] [--size 1048576]
//              [--chunk 65536] [--pid PID] [--reload-at S]
//     Each client connects, sends zINSTREAM with --size random bytes in --chunk chunks, reads the
//     reply, and starts again, for --seconds; all clients run in one thread (non-blocking sockets). Prints
//     requests/s, MB/s, errors and latencies. With
//     --pid, samples that process's resident memory (VmRSS) every 5 ms; with --reload-at, sends
//     RELOAD at that second and prints the daemon's memory before the RELOAD (the largest sample), its
//     peak from then to the end, and, where the daemon's STATS counts reloads (accord's does), its
//     peak from the RELOAD to a second after the reload completed (a reload under load: no request
//     may fail).
//   clamd_load --make-db N OUT.accdb [CLAM_EXE]
//     Writes a database of N pseudo-random SHA-256 signatures (and CLAM_EXE's, if given) quickly,
//     without a .hsb text file in between (bench/scan_db_bench.cc does the same for its databases).
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/fs.h"
#include "crypto/sha256.h"
#include "scan/database.h"

using namespace accord;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "clamd_load: %s\n", what.c_str());
  std::exit(1);
}

struct Target {
  std::string unix_path, host, port;
};

int Connect(const Target& t) {
  if (!t.unix_path.empty()) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", t.unix_path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &res) != 0) return -1;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    p += k;
    n -= size_t(k);
  }
  return true;
}

// Sends `command` and returns the reply up to its NUL (or everything until EOF).
std::string Ask(const Target& t, const std::string& command) {
  int fd = Connect(t);
  if (fd < 0) return "";
  std::string reply;
  if (SendAll(fd, command.data(), command.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, size_t(n));
  }
  ::close(fd);
  return reply;
}

uint64_t RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

// One client: connect, send the whole request, read the reply up to its NUL, close, again.
struct Client {
  int fd = -1;
  std::string wire;  // this client's copy of the request, made unique before each send
  size_t sent = 0;
  bool sending = false;
  std::string reply;
  Clock::time_point start;
};

// All clients in one thread over non-blocking sockets: 32 clients are 32 connections in flight,
// not 32 threads competing with the daemon for the cores.
int Load(const Target& t, int clients, double seconds, size_t size, size_t chunk, int pid, double reload_at) {
  // Eight different random files, each framed as INSTREAM chunks once, so that the clients spend
  // their time sending, not preparing (each client then changes a few bytes of its copy).
  std::vector<std::string> requests;
  std::mt19937_64 rng(42);
  for (int f = 0; f < 8; ++f) {
    std::string data(size, '\0');
    for (size_t i = 0; i + 8 <= size; i += 8) {
      uint64_t v = rng();
      std::memcpy(&data[i], &v, 8);
    }
    std::string wire("zINSTREAM", 10);
    for (size_t i = 0; i < size; i += chunk) {
      size_t len = std::min(chunk, size - i);
      uint32_t be = htonl(uint32_t(len));
      wire.append(reinterpret_cast<char*>(&be), 4);
      wire.append(data, i, len);
    }
    wire.append(4, '\0');
    requests.push_back(std::move(wire));
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Client> cs(static_cast<size_t>(clients));
  uint64_t done = 0, errors = 0, next_request = 0;
  std::vector<double> latencies;
  std::string first_error;
  auto t0 = Clock::now();
  bool stopping = false;
  auto open = [&](size_t i) {
    Client& c = cs[i];
    c.fd = Connect(t);
    // Every request is a file never sent before: its first 8 bytes count requests. Daemons with a
    // cache of clean results (clamd's engine has one) would otherwise answer from it, and
    // accord's database pages would be touched by 8 lookups only, not as by real traffic.
    uint64_t serial = next_request++;
    if (c.wire.empty()) c.wire = requests[i % requests.size()];
    std::memcpy(&c.wire[14], &serial, std::min<size_t>(8, size));
    c.sent = 0;
    c.sending = true;
    c.reply.clear();
    c.start = Clock::now();
    if (c.fd < 0) return false;
    ::fcntl(c.fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  auto finish = [&](size_t i, bool ok) {
    Client& c = cs[i];
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    if (ok && c.reply == std::string("stream: OK\0", 11)) {
      ++done;
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c.start).count());
    } else if (!stopping) {
      ++errors;
      if (first_error.empty()) first_error = c.reply.empty() ? "no reply" : c.reply;
    }
    if (!stopping && !open(i)) ++errors;
  };
  for (size_t i = 0; i < cs.size(); ++i)
    if (!open(i)) Die("cannot connect");
  // The daemon's memory, sampled.
  uint64_t rss_before = 0, rss_peak_after = 0, rss_max = 0, rss_end = 0;
  bool reloaded = false, reload_done = false;
  std::string reload_reply;
  double reload_sent_s = 0, reload_done_s = 0, last_stats_s = 0;
  uint64_t rss_window_peak = 0;   // from RELOAD until a second after the daemon reports it done
  auto reloads = [&]() -> long {  // accord's STATS has "RELOADS: n"; clamd's has not (-1)
    std::string st = Ask(t, std::string("zSTATS", 7));
    size_t at = st.find("RELOADS: ");
    return at == std::string::npos ? -1 : std::strtol(st.c_str() + at + 9, nullptr, 10);
  };
  long reloads_before = reload_at > 0 ? reloads() : -1;
  auto next_sample = Clock::now();
  std::vector<epoll_event> evs(256);
  while (true) {
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - t0).count();
    if (elapsed >= seconds && !stopping) {
      stopping = true;
      for (size_t i = 0; i < cs.size(); ++i)
        if (cs[i].fd >= 0) finish(i, false);
      break;
    }
    if (now >= next_sample) {
      next_sample = now + std::chrono::milliseconds(5);
      if (pid > 0) {
        uint64_t rss = RssKb(pid);
        rss_max = std::max(rss_max, rss);
        if (!reloaded) rss_before = std::max(rss_before, rss);
        if (reloaded) rss_peak_after = std::max(rss_peak_after, rss);
        if (reloaded && (!reload_done || elapsed < reload_done_s + 1))
          rss_window_peak = std::max(rss_window_peak, rss);
        rss_end = rss;
      }
      if (reload_at > 0 && !reloaded && elapsed >= reload_at) {
        reload_reply = Ask(t, std::string("zRELOAD", 8));
        reload_sent_s = elapsed;
        reloaded = true;
      }
      if (reloaded && !reload_done && reloads_before >= 0 && elapsed - last_stats_s > 0.1) {
        last_stats_s = elapsed;
        if (reloads() > reloads_before) reload_done = true, reload_done_s = elapsed;
      }
    }
    int n = ::epoll_wait(ep, evs.data(), int(evs.size()), 5);
    for (int k = 0; k < n; ++k) {
      size_t i = evs[k].data.u64;
      Client& c = cs[i];
      if (c.fd < 0) continue;
      if (c.sending) {
        const std::string& req = c.wire;
        ssize_t w = ::send(c.fd, req.data() + c.sent, req.size() - c.sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          finish(i, false);
          continue;
        }
        if (w > 0) c.sent += size_t(w);
        if (c.sent == req.size()) {
          c.sending = false;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
        continue;
      }
      char buf[512];
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.reply.append(buf, size_t(r));
        if (c.reply.find('\0') != std::string::npos) finish(i, true);
      } else if (r == 0 || errno != EAGAIN) {
        finish(i, false);
      }
    }
  }
  ::close(ep);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0 : latencies[size_t(p * double(latencies.size() - 1))];
  };
  std::printf("clients=%d size=%zu seconds=%.1f requests=%" PRIu64 " errors=%" PRIu64
              " req_per_s=%.1f MB_per_s=%.1f p50_ms=%.1f p99_ms=%.1f\n",
              clients, size, secs, done, errors, double(done) / secs,
              double(done) * double(size) / 1048576.0 / secs, pct(0.5), pct(0.99));
  if (!first_error.empty()) std::printf("first_error=%s\n", first_error.c_str());
  if (pid > 0) std::printf("rss_max_kb=%" PRIu64 " rss_end_kb=%" PRIu64 "\n", rss_max, rss_end);
  if (reloaded) {
    reload_reply.erase(std::remove(reload_reply.begin(), reload_reply.end(), '\0'), reload_reply.end());
    auto pct_of = [&](uint64_t v) {
      return rss_before ? 100.0 * (double(v) - double(rss_before)) / double(rss_before) : 0.0;
    };
    std::printf("reload_sent_s=%.2f reload_reply=%s rss_max_before_reload_kb=%" PRIu64
                " rss_peak_after_reload_kb=%" PRIu64 " extra=%.1f%%\n",
                reload_sent_s, reload_reply.c_str(), rss_before, rss_peak_after, pct_of(rss_peak_after));
    if (reload_done)
      std::printf("reload_done_s=%.2f rss_peak_reload_window_kb=%" PRIu64 " window_extra=%.1f%%\n",
                  reload_done_s, rss_window_peak, pct_of(rss_window_peak));
  }
  return errors == 0 ? 0 : 1;
}

void RandomDigest(uint64_t i, char* out) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  for (int k = 0; k < 4; ++k) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out + 8 * k, &v, 8);
  }
}

int MakeDb(uint64_t n, const std::string& out, const std::string& clam_exe) {
  scan::DatabaseBuilder b;
  Result<uint32_t> src =
      b.AddSource(scan::SignatureFileSource("random.hsb", "clamd_load " + std::to_string(n)));
  if (!src.ok()) Die(src.status().ToString());
  char d[32];
  for (uint64_t i = 0; i < n; ++i) {
    RandomDigest(i, d);
    Status s = b.Add(scan::HashFileRole::kDetect, *src, scan::HashKind::kSha256, ByteView(d, 32),
                     1000 + i % 10'000'000, "Random." + std::to_string(i));
    if (!s.ok()) Die(s.ToString());
  }
  if (!clam_exe.empty()) {
    Result<Bytes> data = fs::ReadFile(clam_exe, 1 << 20);
    if (!data.ok()) Die(data.status().ToString());
    Status s = b.Add(scan::HashFileRole::kDetect, *src, scan::HashKind::kSha256,
                     crypto::AsView(crypto::Sha256(*data)), data->size(), "Clam.Test.File");
    if (!s.ok()) Die(s.ToString());
  }
  Status s = b.Write(out);
  if (!s.ok()) Die(s.ToString());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Target t;
  int clients = 32, pid = 0;
  double seconds = 10, reload_at = 0;
  size_t size = 1 << 20, chunk = 65536;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--make-db") {
      uint64_t n = std::stoull(next());
      std::string out = next();
      std::string clam = i + 1 < argc ? argv[++i] : "";
      return MakeDb(n, out, clam);
    } else if (a == "--unix") {
      t.unix_path = next();
    } else if (a == "--tcp") {
      std::string hp = next();
      size_t colon = hp.rfind(':');
      if (colon == std::string::npos) Die("--tcp HOST:PORT");
      t.host = hp.substr(0, colon), t.port = hp.substr(colon + 1);
    } else if (a == "--clients") {
      clients = std::stoi(next());
    } else if (a == "--seconds") {
      seconds = std::stod(next());
    } else if (a == "--size") {
      size = std::stoull(next());
    } else if (a == "--chunk") {
      chunk = std::stoull(next());
    } else if (a == "--pid") {
      pid = std::stoi(next());
    } else if (a == "--reload-at") {
      reload_at = std::stod(next());
    } else {
      Die("unknown argument " + a);
    }
  }
  if (t.unix_path.empty() && t.host.empty()) Die("give --unix PATH or --tcp HOST:PORT");
  return Load(t, clients, seconds, size, chunk, pid, reload_at);
}
