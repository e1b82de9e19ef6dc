#include "scand/server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>

#include "scan/report.h"
#include "scan/walk.h"

namespace accord::scand {
namespace {

using Clock = std::chrono::steady_clock;

// epoll tags below this are not connections.
constexpr uint64_t kWakeTag = 1, kUnixTag = 2, kTcpTag = 3, kFirstConnTag = 16;
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerEvent = 1 << 20;  // per connection per wake-up: fairness
constexpr size_t kStreamRead = 256 * 1024;    // one read into a stream's buffer
// A long reply (CONTSCAN of a tree) goes out in pieces of about this size as the scan goes, so that
// what waits to be sent stays bounded (ServerLimits::max_reply_bytes) and a client reading its
// reply is not dropped for the reply's length.
constexpr size_t kReplyPiece = 64 * 1024;
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
constexpr auto kShutdownGrace = std::chrono::seconds(5);
// After its last reply a connection is shut down for writing and read (and discarded) until the
// client closes it: clients such as pyclamd still send after the end of a stream, and closing
// under them would answer with a reset (EPIPE) instead of the reply.
constexpr auto kLinger = std::chrono::seconds(2);

std::string ErrnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// What identifies a file's current contents for reload purposes: a rename-replace changes the
// inode, an in-place write the size or mtime.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

std::vector<FileStamp> Stamps(const std::vector<std::string>& paths) {
  std::vector<FileStamp> out;
  for (const auto& p : paths) {
    struct stat st;
    FileStamp s;
    if (::stat(p.c_str(), &st) == 0) {
      s.exists = true;
      s.dev = st.st_dev;
      s.ino = st.st_ino;
      s.size = st.st_size;
      s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    }
    out.push_back(s);
  }
  return out;
}

double RssMb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return double(resident) * double(::sysconf(_SC_PAGESIZE)) / 1048576.0;
}

struct Job {
  uint64_t conn = 0;
  uint32_t id = 0;
  char term = '\n';
  Command command = Command::kUnknown;
  std::string path;        // SCAN and the like
  std::string data;        // INSTREAM
  int fd = -1;             // FILDES
  uint64_t accounted = 0;  // stream bytes counted against max_stream_memory
  // Set when the client's connection closes: a job not started is not run, a walk stops.
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

struct Done {
  uint64_t conn = 0;
  std::string reply;
  uint64_t accounted = 0;
  bool final = true;  // false: a piece of a longer reply, more follows
};

struct Conn {
  int fd = -1;
  bool unix_socket = false;
  std::string in, out;
  size_t out_off = 0;
  std::deque<int> passed_fds;
  bool streaming = false;
  StreamDecoder decoder;
  std::string stream;
  uint32_t stream_id = 0;
  char stream_term = '\n';
  bool session = false;
  uint32_t next_id = 1;
  bool got_command = false;
  size_t pending = 0;         // jobs dispatched and not answered
  bool done_reading = false;  // no more commands are read; closes once answered
  bool paused = false;        // waiting for stream memory
  bool queue_wait = false;    // in queue_waiters: would read a command but the queue is full
  bool exempt = false;        // the one stream let past max_stream_memory (see MustPause)
  bool dead = false;          // close now, without flushing
  bool lingering = false;     // answered and shut down for writing; reading until the client closes
  Clock::time_point accepted, last_input, last_write;
  Clock::time_point command_started;  // when the command line now in `in` began to arrive
  uint32_t events = 0;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  EngineLoader loader;
  size_t threads = 1;

  mutable std::mutex engine_mu;
  std::shared_ptr<const scan::Engine> engine;
  std::string db_version;
  std::atomic<uint64_t> reloads{0};

  int epfd = -1, wakefd = -1, unix_fd = -1, tcp_fd = -1, port = 0;
  std::string unix_path_bound;

  mutable std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<Job> queue;
  bool q_stop = false;
  std::vector<std::thread> workers;
  std::atomic<size_t> busy{0};
  std::atomic<int> multiscans{0};

  std::mutex done_mu;
  std::vector<Done> done;

  std::mutex r_mu;
  std::condition_variable r_cv;
  bool r_requested = false, r_stop = false;
  std::vector<FileStamp> stamps;
  std::thread reloader;

  std::atomic<bool> stop_requested{false}, reload_signal{false};
  std::atomic<uint64_t> requests{0}, stream_memory_seen{0};
  std::atomic<size_t> connection_count{0};

  // I/O thread only.
  std::unordered_map<uint64_t, Conn> conns;
  uint64_t next_tag = kFirstConnTag;
  uint64_t stream_memory = 0;
  uint64_t dispatched_stream_memory = 0;  // of it, streams complete and handed to the scanners
  bool have_exempt = false;
  std::deque<uint64_t> paused;
  // Requests dispatched and not yet answered, every client's (ServerLimits::max_queue), and the
  // connections that stopped reading commands because there were max_queue of them, in order.
  size_t jobs_in_flight = 0;
  std::deque<uint64_t> queue_waiters;
  bool shutting_down = false;
  Clock::time_point shutdown_deadline;
  bool accept_paused = false;
  Clock::time_point accept_resume;

  ~Impl() {
    StopThreads();
    CloseFds();
  }

  void Log(const std::string& line) const {
    if (opt.log) std::fprintf(stderr, "accord scand: %s\n", line.c_str());
  }

  std::shared_ptr<const scan::Engine> CurrentEngine() const {
    std::lock_guard l(engine_mu);
    return engine;
  }
  std::string CurrentVersion() const {
    std::lock_guard l(engine_mu);
    return db_version;
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t n = ::write(wakefd, &one, sizeof one);
    (void)n;
  }

  // ---- Sockets ------------------------------------------------------------------------------------

  Status BindUnix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
      return InvalidArgument(path + ": a unix socket path has at most " +
                             std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return AlreadyExists(path + ": exists and is not a socket");
      int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      if (probe >= 0) ::close(probe);
      if (live) return FailedPrecondition(path + ": a daemon is already listening on this socket");
      ::unlink(path.c_str());  // stale, from a daemon that did not exit cleanly
    }
    unix_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (unix_fd < 0) return Internal(ErrnoText("socket"));
    if (::bind(unix_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return Internal(ErrnoText(path + ": bind"));
    unix_path_bound = path;
    if (::listen(unix_fd, SOMAXCONN) != 0) return Internal(ErrnoText(path + ": listen"));
    return Status::Ok();
  }

  Status BindTcp(const std::string& spec) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon + 1 == spec.size())
      return InvalidArgument("--tcp " + spec + ": want HOST:PORT, e.g. 127.0.0.1:3310");
    std::string host = spec.substr(0, colon), service = spec.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res); rc != 0)
      return InvalidArgument("--tcp " + spec + ": " + ::gai_strerror(rc));
    Status s = Internal("--tcp " + spec + ": no address to bind");
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
        tcp_fd = fd;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
          port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        s = Status::Ok();
        break;
      }
      s = Internal(ErrnoText("--tcp " + spec + ": bind"));
      ::close(fd);
    }
    ::freeaddrinfo(res);
    return s;
  }

  // The listeners and the socket file: when Run ends.
  void CloseListeners() {
    for (int* fd : {&unix_fd, &tcp_fd})
      if (*fd >= 0) ::close(*fd), *fd = -1;
    if (!unix_path_bound.empty()) ::unlink(unix_path_bound.c_str()), unix_path_bound.clear();
  }
  // Everything: only when the Server goes, since Stop() may write to wakefd from another thread
  // until then.
  void CloseFds() {
    CloseListeners();
    for (int* fd : {&epfd, &wakefd})
      if (*fd >= 0) ::close(*fd), *fd = -1;
  }

  // ---- Scanning threads ---------------------------------------------------------------------------

  void StartThreads() {
    for (size_t i = 0; i < threads; ++i) workers.emplace_back([this] { WorkerLoop(); });
    reloader = std::thread([this] { ReloadLoop(); });
  }

  void StopThreads() {
    {
      std::lock_guard l(q_mu);
      q_stop = true;
    }
    q_cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    {
      std::lock_guard l(r_mu);
      r_stop = true;
    }
    r_cv.notify_all();
    if (reloader.joinable()) reloader.join();
    for (Job& j : queue)
      if (j.fd >= 0) ::close(j.fd);
    queue.clear();
  }

  void WorkerLoop() {
    std::shared_ptr<const scan::Engine> eng;
    scan::Engine::WorkerPtr worker;
    while (true) {
      Job job;
      {
        std::unique_lock l(q_mu);
        while (!q_stop && queue.empty()) {
          // An idle thread lets go of a replaced Engine, so that its database is unmapped soon.
          if (q_cv.wait_for(l, std::chrono::seconds(1)) == std::cv_status::timeout && eng &&
              eng != CurrentEngine()) {
            worker.reset();
            eng.reset();
          }
        }
        if (q_stop) return;  // what is left is closed by StopThreads
        job = std::move(queue.front());
        queue.pop_front();
      }
      if (job.cancelled && job.cancelled->load()) {  // its client is gone: release, do not run
        if (job.fd >= 0) ::close(job.fd);
        FinishSurely(Done{job.conn, {}, job.accounted});
        continue;
      }
      ++busy;
      Done d;
      d.conn = job.conn;
      d.accounted = job.accounted;
      try {
        std::shared_ptr<const scan::Engine> current = CurrentEngine();
        if (current != eng || !worker) {
          worker.reset();
          eng = std::move(current);
          worker = eng->NewWorker();
        }
        Execute(*eng, *worker, job, d.reply);
      } catch (const std::exception& e) {
        // Out of memory (or another exception) in this request: its answer ends with an error,
        // as clamd's "Can't allocate memory ERROR", after the lines it had (a walk's findings),
        // and the daemon goes on.
        worker.reset();
        job.data = std::string();
        try {
          d.reply += Reply(job.id,
                           JobName(job) + (dynamic_cast<const std::bad_alloc*>(&e)
                                               ? std::string(": Can't allocate memory ERROR")
                                               : std::string(": internal error: ") + e.what() + " ERROR"),
                           job.term);
        } catch (const std::exception&) {  // not even that: the request ends without a last line
        }
        if (job.fd >= 0) ::close(job.fd);  // (after its number named the answer)
        job.fd = -1;
      }
      --busy;
      FinishSurely(std::move(d));  // its client waits for it
    }
  }

  // Finish, whatever it takes: every request's last Done gives back its place in the queue
  // (max_queue) and its stream memory, whether it ran or was cancelled.
  void FinishSurely(Done&& d) {
    for (int tries = 0;; ++tries) {
      try {
        Finish(std::move(d));
        return;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tries < 100 ? 10 : 1000));
      }
    }
  }

  void Finish(Done&& d) {  // (an exception leaves d as it was: deque::push_back)
    {
      std::lock_guard l(done_mu);
      done.push_back(std::move(d));
    }
    Wake();
  }

  // What a request's answer lines name: "stream", "fd[N]" or the path.
  static std::string JobName(const Job& job) {
    if (job.command == Command::kInstream) return "stream";
    if (job.command == Command::kFildes) return "fd[" + std::to_string(job.fd) + "]";
    return scan::EscapePath(job.path);
  }

  // Appends the request's answer to `out` (lines already there stay if it throws).
  void Execute(const scan::Engine& eng, scan::Engine::Worker& worker, Job& job, std::string& out) {
    auto emit = [&](const std::vector<std::string>& lines) {
      for (const auto& line : lines) out += Reply(job.id, line, job.term);
      if (out.size() >= std::min(kReplyPiece, opt.limits.max_reply_bytes / 4)) {
        Done piece{job.conn, std::move(out), 0, false};
        out = std::string();
        Finish(std::move(piece));
      }
    };
    switch (job.command) {
      case Command::kInstream: {
        scan::FileReport r = eng.ScanBuffer(worker, job.data, "stream");
        job.data = std::string();
        emit(ReportLines(r, "stream", false, true));
        return;
      }
      case Command::kFildes: {
        std::string name = "fd[" + std::to_string(job.fd) + "]";
        struct stat st;
        if (::fstat(job.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
          ::close(job.fd);
          job.fd = -1;
          out += Reply(job.id, name + ": Not a regular file ERROR", job.term);
          return;
        }
        // The descriptor the client passed, read as it is: the client may be able to read the file
        // when the daemon could not open it (clamdscan --fdpass exists for that).
        scan::FileReport r = eng.ScanFd(worker, job.fd, name);
        ::close(job.fd);
        job.fd = -1;
        emit(ReportLines(r, name, false, true));
        return;
      }
      default:
        break;
    }
    // SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN: a file or a directory tree, named by the client.
    bool all = job.command == Command::kAllMatchScan;
    scan::WalkOptions wo;
    wo.recursive = true;
    // MULTISCAN walks with as many threads as the pool has, one such walk at a time: clients
    // asking for more at once get one thread each, so that they cannot multiply the threads.
    bool fan_out = job.command == Command::kMultiScan && multiscans.fetch_add(1) == 0;
    struct Release {  // MULTISCAN's count goes back down however the walk ends
      std::atomic<int>* n;
      ~Release() {
        if (n) n->fetch_sub(1);
      }
    } release{job.command == Command::kMultiScan ? &multiscans : nullptr};
    wo.threads = fan_out ? int(threads) : 1;
    uint64_t total = 0, errors = 0, infected = 0;
    std::atomic<bool> found{false};
    // The walk stops when the client goes away, and SCAN at its first infected file (clamd).
    wo.stopped = [&] {
      return (job.cancelled && job.cancelled->load()) || (job.command == Command::kScan && found.load());
    };
    scan::ScanSummary summary = scan::ScanPaths(eng, {job.path}, wo, [&](const scan::FileReport& r) {
      ++total;
      std::vector<std::string> lines = ReportLines(r, r.path, all, false);
      if (!r.error.empty()) {
        ++errors;
      } else if (!lines.empty()) {
        // SCAN stops at the first infected file (clamd); the others report every one.
        if (job.command == Command::kScan && infected > 0) return;
        ++infected;
        found = true;
      }
      emit(lines);
    });
    // A report the lines above could not be made for (out of memory: ScanPaths counted it) must
    // not end in OK: an error or a detection that was not said is an error.
    const bool lost = summary.errors > errors || (summary.infected > 0 && infected == 0);
    if (lost) {
      out += Reply(job.id, scan::EscapePath(job.path) + ": Can't allocate memory ERROR", job.term);
    } else if (total == 0 && errors == 0) {  // nothing to scan: an empty directory is OK, a missing path not
      struct stat st;
      if (::stat(job.path.c_str(), &st) != 0)
        out += Reply(job.id, scan::EscapePath(job.path) + ": " + std::strerror(errno) + " ERROR", job.term);
      else
        out += Reply(job.id, scan::EscapePath(job.path) + ": OK", job.term);
    } else if (infected == 0 && errors < total) {
      out += Reply(job.id, scan::EscapePath(job.path) + ": OK", job.term);
    }
  }

  // ---- Reloads ------------------------------------------------------------------------------------

  void ReloadLoop() {
    std::unique_lock l(r_mu);
    while (!r_stop) {
      auto wait = opt.watch_interval.count() > 0 ? opt.watch_interval : std::chrono::milliseconds(3'600'000);
      r_cv.wait_for(l, wait, [&] { return r_stop || r_requested; });
      if (r_stop) break;
      bool requested = r_requested;
      r_requested = false;
      l.unlock();
      std::vector<FileStamp> now = Stamps(opt.watch);
      if (requested || (opt.watch_interval.count() > 0 && now != stamps)) {
        stamps = now;  // a file that fails to load is retried when it changes again
        Reload(requested ? "RELOAD" : "a database file changed");
      }
      l.lock();
    }
  }

  void Reload(const std::string& why) {
    auto t0 = Clock::now();
    Result<LoadedEngine> loaded = loader();
    if (!loaded.ok()) {
      Log("reload (" + why +
          ") failed, still scanning with the previous signatures: " + loaded.status().ToString());
      return;
    }
    std::shared_ptr<const scan::Engine> old;
    {
      std::lock_guard l(engine_mu);
      old = std::move(engine);
      engine = std::move(loaded->engine);
      db_version = loaded->version;
    }
    ++reloads;
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    Log("reloaded (" + why + "): " + db_version + " in " + std::to_string(int64_t(ms)) + " ms");
    // `old` goes when the last request scanning with it finishes.
  }

  // ---- The I/O loop -------------------------------------------------------------------------------

  size_t MaxQueue() const { return std::max<size_t>(1, opt.limits.max_queue); }  // (0 would read nothing)

  // `c` may read and run another command now: not closed for reading, not waiting for stream
  // memory, fewer than max_pending_requests of its own in flight and fewer than max_queue of all.
  bool TakesRequests(const Conn& c) const {
    return !c.dead && !c.done_reading && !c.paused && !c.queue_wait &&
           c.pending < opt.limits.max_pending_requests && jobs_in_flight < MaxQueue();
  }

  void SetEvents(uint64_t tag, Conn& c) {
    if (c.dead) return;
    bool can_read = c.lingering || TakesRequests(c);
    // Held back by the queue alone: resumed, in turn, as requests finish (DrainDone).
    if (!c.lingering && !can_read && !c.done_reading && !c.paused && !c.queue_wait &&
        c.pending < opt.limits.max_pending_requests) {
      try {
        queue_waiters.push_back(tag);
        c.queue_wait = true;
      } catch (const std::bad_alloc&) {  // it could wait for ever: closed instead
        c.dead = true;
        return;
      }
    }
    uint32_t want = (can_read ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) |
                    (c.out_off < c.out.size() ? uint32_t(EPOLLOUT) : 0u);
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = tag;
    if (::epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev) != 0) c.dead = true;
    c.events = want;
  }

  void Flush(Conn& c) {
    while (!c.dead && c.out_off < c.out.size()) {
      ssize_t n =
          ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out_off += size_t(n);
        c.last_write = Clock::now();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        c.dead = true;
      }
    }
    if (c.out_off == c.out.size()) c.out.clear(), c.out_off = 0;
  }

  void Send(Conn& c, std::string_view text) {
    if (c.dead) return;
    if (c.out.size() - c.out_off + text.size() > opt.limits.max_reply_bytes) {
      // It reads none of what it asked for: it loses its connection, not everyone their memory.
      c.dead = true;
      return;
    }
    if (c.out_off == c.out.size()) c.last_write = Clock::now();
    c.out.append(text);
    Flush(c);
  }

  void DropStream(Conn& c) {
    stream_memory -= c.stream.size();
    c.stream = std::string();
    c.streaming = false;
    ClearExempt(c);
  }
  void ClearExempt(Conn& c) {
    if (c.exempt) c.exempt = false, have_exempt = false;
  }

  // Whether stream `tag` must stop being read for now: stream memory is over max_stream_memory. But
  // pausing frees memory only when a scan finishes; if all of it is held by streams still arriving,
  // nothing would ever resume them. Then one stream (the first to ask) goes on to its end, past the
  // cap by at most max_stream_size, and its scan frees the memory for the others.
  bool MustPause(Conn& c) {
    if (stream_memory <= opt.limits.max_stream_memory || c.exempt) return false;
    if (!have_exempt && dispatched_stream_memory == 0) {
      c.exempt = have_exempt = true;
      return false;
    }
    return true;
  }

  // Queues `job` for the scanning threads. If it cannot be queued (out of memory: the exception
  // goes on), the job is released: its descriptor closed, its stream bytes no longer counted.
  void Dispatch(Conn& c, uint64_t tag, Job job) {
    job.conn = tag;
    job.cancelled = c.cancelled;
    uint64_t accounted = job.accounted;
    try {
      std::lock_guard l(q_mu);
      queue.push_back(std::move(job));  // (a throw leaves `job` as it was)
    } catch (...) {
      if (job.fd >= 0) ::close(job.fd);
      stream_memory -= job.accounted;
      throw;
    }
    dispatched_stream_memory += accounted;
    ++c.pending;
    ++jobs_in_flight;
    q_cv.notify_one();
  }

  void Handle(uint64_t tag, Conn& c, const Request& req) {
    c.got_command = true;
    uint32_t id = c.session ? c.next_id++ : 0;
    char t = req.term;
    ++requests;
    if (c.session && !req.prefixed) {
      Send(c,
           Reply(
               id,
               "Only new-line terminated nCMDS or NULL-terminated zCMDS are accepted inside IDSESSION. ERROR",
               t));
      c.done_reading = true;
      return;
    }
    if (c.session && req.command != Command::kUnknown && !AllowedInSession(req.command)) {
      Send(c, Reply(id, "Command invalid inside IDSESSION. ERROR", t));
      c.done_reading = true;
      return;
    }
    switch (req.command) {
      case Command::kPing:
        Send(c, Reply(id, "PONG", t));
        break;
      case Command::kVersion:
        Send(c, Reply(id, VersionText(CurrentVersion()), t));
        break;
      case Command::kVersionCommands:
        Send(c, Reply(id, VersionCommandsText(CurrentVersion()), t));
        break;
      case Command::kStats:
        Send(c, Reply(id, StatsText(Stats()), t));
        break;
      case Command::kReload:
        Send(c, Reply(0, "RELOADING", t));
        RequestReload();
        break;
      case Command::kShutdown:
        BeginShutdown("SHUTDOWN");
        break;
      case Command::kIdSession:
        c.session = true;
        return;
      case Command::kEnd:
        if (!c.session) Send(c, Reply(0, "UNKNOWN COMMAND", t));
        c.done_reading = true;
        return;
      case Command::kInstream:
        c.streaming = true;
        c.decoder = StreamDecoder(opt.limits.max_stream_size);
        c.stream.clear();
        c.stream_id = id;
        c.stream_term = t;
        return;
      case Command::kFildes: {
        if (c.passed_fds.empty()) {
          Send(c, Reply(id, "No file descriptor received. ERROR", t));
          break;
        }
        Job job;
        job.id = id;
        job.term = t;
        job.command = req.command;
        job.fd = c.passed_fds.front();
        c.passed_fds.pop_front();
        Dispatch(c, tag, std::move(job));
        break;
      }
      case Command::kScan:
      case Command::kContScan:
      case Command::kMultiScan:
      case Command::kAllMatchScan: {
        if (req.argument.empty() || req.argument[0] != '/') {  // clamd: "a full path is required"
          Send(c, Reply(id, scan::EscapePath(req.argument) + ": full path required ERROR", t));
          break;
        }
        Job job;
        job.id = id;
        job.term = t;
        job.command = req.command;
        job.path = req.argument;
        Dispatch(c, tag, std::move(job));
        break;
      }
      case Command::kUnknown:
        Send(c, Reply(id, "UNKNOWN COMMAND", t));
        c.done_reading = true;
        return;
    }
    if (!c.session) c.done_reading = true;
  }

  // Parses and runs what `c` has sent, as far as its state lets it go.
  void Process(uint64_t tag, Conn& c, bool end_of_read) {
    while (TakesRequests(c)) {
      if (c.streaming) {
        size_t used = 0;
        StreamDecoder::State st;
        {
          // What the stream holds is counted even if Feed runs out of memory part way.
          struct Count {
            Conn& c;
            uint64_t& memory;
            size_t before;
            ~Count() { memory += c.stream.size() - before; }
          } count{c, stream_memory, c.stream.size()};
          st = c.decoder.Feed(c.in, &used, &c.stream);
        }
        c.in.erase(0, used);
        if (st == StreamDecoder::State::kTooLarge) {
          Send(c, Reply(c.stream_id, "INSTREAM size limit exceeded. ERROR", c.stream_term));
          DropStream(c);
          c.done_reading = true;
          break;
        }
        if (st == StreamDecoder::State::kMore) {
          if (MustPause(c)) {
            c.paused = true;
            paused.push_back(tag);
          }
          break;
        }
        Job job;
        job.id = c.stream_id;
        job.term = c.stream_term;
        job.command = Command::kInstream;
        job.accounted = c.stream.size();
        job.data = std::move(c.stream);
        c.stream = std::string();
        c.streaming = false;
        ClearExempt(c);
        try {
          Dispatch(c, tag, std::move(job));
        } catch (const std::bad_alloc&) {  // not queued (Dispatch released it): answered so
          Send(c, Reply(c.stream_id, "stream: Can't allocate memory ERROR", c.stream_term));
          c.done_reading = true;
          break;
        }
        if (!c.session) c.done_reading = true;
        continue;
      }
      if (c.in.empty()) break;
      Parsed p = ParseCommand(c.in, end_of_read, opt.limits.max_command_length);
      if (p.kind == Parsed::kNeedMore) break;
      if (p.kind == Parsed::kTooLong) {
        Send(c, Reply(0, "COMMAND TOO LONG. ERROR", '\n'));
        c.done_reading = true;
        break;
      }
      c.in.erase(0, p.consumed);
      if (!c.in.empty()) c.command_started = Clock::now();  // the next command began to arrive
      Handle(tag, c, p.request);
    }
  }

  void OnReadable(uint64_t tag, Conn& c) {
    char buf[kReadChunk];
    size_t total = 0;
    if (c.lingering) {
      while (total < kMaxReadPerEvent) {
        ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          total += size_t(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.dead = true;
        break;
      }
      return;
    }
    while (TakesRequests(c) && total < kMaxReadPerEvent) {
      ssize_t n;
      if (c.streaming && c.in.empty() && c.decoder.chunk_left() > 0) {
        // The middle of a chunk: straight into the stream. (A descriptor passed now, in the middle
        // of a stream, is a protocol error; the kernel closes it.)
        size_t want = std::min<size_t>(c.decoder.chunk_left(), kStreamRead);
        size_t old = c.stream.size();
        if (c.stream.capacity() < old + want) c.stream.reserve(std::max(old + want, 2 * c.stream.capacity()));
        c.stream.resize(old + want);
        n = ::recv(c.fd, c.stream.data() + old, want, MSG_DONTWAIT);
        c.stream.resize(old + size_t(std::max<ssize_t>(n, 0)));
        if (n > 0) {
          total += size_t(n);
          c.last_input = Clock::now();
          c.decoder.TookChunkBytes(uint32_t(n));
          stream_memory += uint64_t(n);
          if (MustPause(c)) {
            c.paused = true;
            paused.push_back(tag);
          }
          if (c.decoder.chunk_left() == 0) Process(tag, c, true);
          continue;
        }
      } else if (c.unix_socket) {
        iovec iov{buf, sizeof buf};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        n = ::recvmsg(c.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n >= 0) {
          for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
              int fd;
              std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
              try {
                if (c.passed_fds.size() < opt.limits.max_passed_fds) {
                  c.passed_fds.push_back(fd);
                  continue;
                }
              } catch (const std::bad_alloc&) {  // this one and the rest are closed, not leaked
                for (size_t j = i; j < count; ++j) {
                  std::memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof fd);
                  ::close(fd);
                }
                throw;
              }
              ::close(fd);
            }
          }
        }
      } else {
        n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      }
      if (n > 0) {
        total += size_t(n);
        c.last_input = Clock::now();
        if (c.in.empty() && !c.streaming) c.command_started = c.last_input;
        c.in.append(buf, size_t(n));
        Process(tag, c, true);
        continue;
      }
      if (n == 0) {  // the client closed its side: answer what it asked, then close
        if (c.streaming) DropStream(c);
        c.done_reading = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.dead = true;
      break;
    }
  }

  void CloseConn(uint64_t tag) {
    auto it = conns.find(tag);
    if (it == conns.end()) return;
    Conn& c = it->second;
    c.cancelled->store(true);  // its jobs: not run if not started, walks stopped
    if (c.streaming) DropStream(c);
    ClearExempt(c);
    for (int fd : c.passed_fds) ::close(fd);
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    conns.erase(it);
    connection_count = conns.size();
  }

  // An allocation for connection `tag` failed on this thread (a stream that cannot grow, when the
  // daemon's memory is capped below its stream limits): that connection ends and the others go on.
  // A stream is answered with clamd's error for it once its bytes are freed; anything else closes
  // the connection. Allocates nothing until the stream is freed.
  void OutOfMemory(uint64_t tag) noexcept {
    auto it = conns.find(tag);
    if (it == conns.end()) return;
    Conn& c = it->second;
    bool stream = c.streaming && !c.dead;
    if (c.streaming) DropStream(c);
    c.in = std::string();
    c.done_reading = true;
    if (!stream) c.dead = true;
    try {
      if (stream) Send(c, Reply(c.stream_id, "stream: Can't allocate memory ERROR", c.stream_term));
      Settle(tag);
    } catch (const std::exception&) {
      if (auto again = conns.find(tag); again != conns.end()) {
        again->second.dead = true;
        CloseConn(tag);
      }
    }
    try {
      Log(std::string("out of memory: ") + (stream ? "a stream refused" : "a connection closed"));
    } catch (const std::exception&) {
    }
  }

  // After anything happened to `tag`: re-arm its events, or close it once it is finished.
  void Settle(uint64_t tag) {
    auto it = conns.find(tag);
    if (it == conns.end()) return;
    Conn& c = it->second;
    if (!c.dead && !c.lingering && c.done_reading && c.pending == 0 && c.out_off == c.out.size()) {
      ::shutdown(c.fd, SHUT_WR);
      c.lingering = true;
      c.last_input = Clock::now();
      if (shutting_down) c.dead = true;
    }
    if (c.dead) {
      CloseConn(tag);
      return;
    }
    SetEvents(tag, c);
    if (c.dead) CloseConn(tag);
  }

  void Accept(int lfd, bool is_unix) {
    while (true) {
      int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop accepting for a moment instead of spinning on the listener.
          PauseAccepting();
          try {
            Log(ErrnoText("accept"));
          } catch (const std::exception&) {
          }
        }
        return;
      }
      if (conns.size() >= opt.limits.max_connections) {
        static constexpr char kBusy[] = "MAX CONNECTIONS REACHED. ERROR\n";
        ssize_t n = ::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        ::shutdown(fd, SHUT_WR);
        ::close(fd);
        continue;
      }
      if (!is_unix) {
        int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      }
      uint64_t tag = next_tag++;
      Conn* cp;
      try {
        cp = &conns[tag];
      } catch (const std::bad_alloc&) {  // no memory for one more: it is closed, as if refused
        ::close(fd);
        continue;
      }
      Conn& c = *cp;
      c.fd = fd;
      c.unix_socket = is_unix;
      c.accepted = c.last_input = c.last_write = Clock::now();
      c.events = EPOLLIN | EPOLLRDHUP;
      epoll_event ev{};
      ev.events = c.events;
      ev.data.u64 = tag;
      if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        conns.erase(tag);
      }
      connection_count = conns.size();
    }
  }

  void ListenerEvents(bool on) {
    for (auto [fd, tag] : {std::pair{unix_fd, kUnixTag}, std::pair{tcp_fd, kTcpTag}}) {
      if (fd < 0) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = tag;
      ::epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
    }
  }

  void PauseAccepting() {
    if (accept_paused) return;
    accept_paused = true;
    accept_resume = Clock::now() + std::chrono::milliseconds(100);
    ListenerEvents(false);
  }

  // The first connection of `waiting` still open (its tag in `tag`), taken off it; nullptr if none.
  Conn* NextWaiting(std::deque<uint64_t>& waiting, uint64_t* tag) {
    while (!waiting.empty()) {
      *tag = waiting.front();
      waiting.pop_front();
      if (auto it = conns.find(*tag); it != conns.end()) return &it->second;
    }
    return nullptr;
  }

  // Runs `resume` for the connection `tag` that waited, then settles it; out of memory ends that
  // connection only.
  template <class F>
  void Resume(uint64_t tag, F&& resume) {
    try {
      resume();
      Settle(tag);
    } catch (const std::bad_alloc&) {
      OutOfMemory(tag);
    }
  }

  // If clients wait for the queue and `c` could send more, `c` joins the back of their line (true).
  bool WaitInLine(uint64_t tag, Conn& c) {
    if (queue_waiters.empty() || c.queue_wait || c.dead || c.done_reading || c.paused) return false;
    queue_waiters.push_back(tag);  // (out of memory: DrainDone ends this connection)
    c.queue_wait = true;
    return true;
  }

  void DrainDone() {
    std::vector<Done> batch;
    {
      std::lock_guard l(done_mu);
      batch.swap(done);
    }
    for (Done& d : batch) {
      stream_memory -= d.accounted;
      dispatched_stream_memory -= d.accounted;
      if (d.final) --jobs_in_flight;
      auto it = conns.find(d.conn);
      if (it == conns.end()) continue;  // the client went away meanwhile
      Conn& c = it->second;
      if (d.final) --c.pending;
      try {
        Send(c, d.reply);
        // A piece of a longer reply: the request still runs. A last one: the commands the client
        // sent while it had too many in flight.
        // (While others wait for the queue, it goes to the back of their line, so that a client
        // with many commands buffered does not take every place that frees up.)
        if (d.final && !WaitInLine(d.conn, c)) Process(d.conn, c, false);
        Settle(d.conn);  // EPOLLOUT for what did not go out at once; closes it if it died
      } catch (const std::bad_alloc&) {
        OutOfMemory(d.conn);
      }
    }
    uint64_t tag = 0;
    while (stream_memory <= opt.limits.max_stream_memory || (!have_exempt && dispatched_stream_memory == 0)) {
      Conn* c = NextWaiting(paused, &tag);
      if (!c) break;
      c->paused = false;
      c->last_input = Clock::now();  // waiting for memory is not the client's silence
      if (stream_memory > opt.limits.max_stream_memory) c->exempt = have_exempt = true;
      Resume(tag, [&] { Process(tag, *c, false); });
    }
    // The connections the queue held back, in the order they were held, while there is room.
    while (jobs_in_flight < MaxQueue()) {
      Conn* c = NextWaiting(queue_waiters, &tag);
      if (!c) break;
      c->queue_wait = false;
      // Waiting for the queue is not the client's silence: its timeouts start again.
      c->last_input = c->command_started = Clock::now();
      if (!c->got_command) c->accepted = c->last_input;
      // The commands it sent before it was held back, then what waits in its socket: one resumed
      // client that sends a request fills the room again, and the others wait on (rather than
      // every one being woken to find the queue full once more).
      Resume(tag, [&] {
        Process(tag, *c, false);
        if (TakesRequests(*c)) OnReadable(tag, *c);
      });
    }
    stream_memory_seen = stream_memory;
  }

  void Sweep() {
    auto now = Clock::now();
    if (accept_paused && now >= accept_resume && !shutting_down) {
      accept_paused = false;
      ListenerEvents(true);
    }
    std::vector<uint64_t> touched;
    touched.reserve(conns.size());  // (out of memory: this sweep is skipped, the next does it;
                                    // past here nothing allocates but Send, which is caught)
    for (auto& [tag, c] : conns) {
      if (c.lingering) {
        if (now - c.last_input > kLinger) c.dead = true, touched.push_back(tag);
        continue;
      }
      if (c.out_off < c.out.size() && now - c.last_write > opt.limits.send_timeout) {
        c.dead = true;  // it has not read its replies for send_timeout
        touched.push_back(tag);
        continue;
      }
      if (c.done_reading || c.pending > 0 || c.queue_wait) continue;  // (the daemon is the slow one)
      // The first command must be complete within command_timeout of the connection, and any
      // later one within read_timeout of its first byte, however slowly its bytes trickle in; a
      // stream and a session may be silent for read_timeout between pieces.
      // Waiting for stream memory: twice as long, but not for ever (the stream that goes on past
      // the cap may itself be slow).
      bool late;
      if (c.paused)
        late = now - c.last_input > 2 * opt.limits.read_timeout;
      else if (!c.got_command && !c.streaming)
        late = now - c.accepted > opt.limits.command_timeout;
      else if (!c.streaming && !c.in.empty())
        late = now - c.command_started > opt.limits.read_timeout;
      else
        late = now - c.last_input > opt.limits.read_timeout;
      if (late) {
        try {
          Send(c, "COMMAND READ TIMED OUT\n");
        } catch (const std::bad_alloc&) {  // closed unanswered
          c.dead = true;
        }
        if (c.streaming) DropStream(c);
        c.paused = false;
        c.done_reading = true;
        touched.push_back(tag);
      }
    }
    for (uint64_t tag : touched) Settle(tag);
    if (!paused.empty()) {
      // Paused connections that timed out released their memory: let the others go on.
      std::deque<uint64_t> keep;
      for (uint64_t tag : paused)
        if (conns.count(tag)) keep.push_back(tag);
      paused.swap(keep);
    }
    // Connections that closed while they waited for the queue: no longer in its line.
    std::erase_if(queue_waiters, [this](uint64_t tag) { return !conns.count(tag); });
  }

  void BeginShutdown(const std::string& why) {
    if (shutting_down) return;
    shutting_down = true;
    shutdown_deadline = Clock::now() + kShutdownGrace;
    ListenerEvents(false);
    // Only marks: this may run inside the handling of one of these connections. Run settles them.
    for (auto& [tag, c] : conns) {
      if (c.streaming) DropStream(c);
      c.done_reading = true;
      if (c.lingering) c.dead = true;
    }
    try {  // last: out of memory, the shutdown goes on unlogged
      Log("shutting down (" + why + ")");
    } catch (const std::exception&) {
    }
  }

  StatsInfo Stats() const {
    StatsInfo s;
    s.threads = threads;
    s.busy = busy.load();
    {
      std::lock_guard l(q_mu);
      s.queued = queue.size();
    }
    s.connections = connection_count.load();
    s.requests = requests.load();
    s.stream_bytes = stream_memory_seen.load();
    s.reloads = reloads.load();
    s.rss_mb = RssMb();
    return s;
  }

  void RequestReload() {
    {
      std::lock_guard l(r_mu);
      r_requested = true;
    }
    r_cv.notify_all();
  }

  Status Run() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) return Internal(ErrnoText("epoll_ctl"));
    ListenerEvents(true);
    Log("listening on " + (unix_path_bound.empty() ? std::string() : unix_path_bound) +
        (tcp_fd >= 0
             ? std::string(unix_path_bound.empty() ? "" : " and ") + "tcp port " + std::to_string(port)
             : std::string()) +
        ", " + std::to_string(threads) + " scanning threads, signatures " + db_version);
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now() + kSweepInterval;
    while (true) {
      int n = ::epoll_wait(epfd, events.data(), int(events.size()), int(kSweepInterval.count()));
      if (n < 0 && errno != EINTR) return Internal(ErrnoText("epoll_wait"));
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        uint32_t what = events[i].events;
        if (tag == kWakeTag) {
          uint64_t v;
          while (::read(wakefd, &v, sizeof v) > 0) {
          }
          continue;
        }
        if (tag == kUnixTag || tag == kTcpTag) {
          if (!shutting_down) Accept(tag == kUnixTag ? unix_fd : tcp_fd, tag == kUnixTag);
          continue;
        }
        auto it = conns.find(tag);
        if (it == conns.end()) continue;
        Conn& c = it->second;
        try {
          if (what & EPOLLERR) c.dead = true;
          if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) OnReadable(tag, c);
          if (what & EPOLLOUT) Flush(c);
          if ((what & EPOLLHUP) && !(what & EPOLLIN)) c.dead = true;
          Settle(tag);
        } catch (const std::bad_alloc&) {
          OutOfMemory(tag);
        }
      }
      DrainDone();
      if (reload_signal.exchange(false)) RequestReload();
      if (stop_requested.load()) BeginShutdown("stop requested");
      if (shutting_down) {
        std::vector<uint64_t> tags;
        try {
          tags.reserve(conns.size());
        } catch (const std::bad_alloc&) {  // settled at the next turn, or closed at the deadline
        }
        if (tags.capacity() >= conns.size()) {
          for (auto& [tag, c] : conns) tags.push_back(tag);
          for (uint64_t tag : tags) Settle(tag);
        }
      }
      auto now = Clock::now();
      if (now >= next_sweep) {
        try {
          Sweep();
        } catch (const std::bad_alloc&) {  // what it did not do, the next one does
        }
        next_sweep = now + kSweepInterval;
      }
      if (shutting_down && (conns.empty() || now > shutdown_deadline)) break;
    }
    while (!conns.empty()) {
      conns.begin()->second.dead = true;
      CloseConn(conns.begin()->first);
    }
    StopThreads();
    CloseListeners();
    Log("stopped");
    return Status::Ok();
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options, EngineLoader loader) {
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  impl->loader = std::move(loader);
  impl->threads = impl->opt.threads > 0 ? size_t(impl->opt.threads)
                                        : std::max<size_t>(1, std::thread::hardware_concurrency());
  if (impl->opt.unix_socket.empty() && impl->opt.tcp.empty())
    return InvalidArgument("scand needs a unix socket (--socket PATH) or a TCP address (--tcp HOST:PORT)");
  impl->stamps = Stamps(impl->opt.watch);  // before loading: a change during the load is seen
  Result<LoadedEngine> loaded = impl->loader();
  if (!loaded.ok()) return loaded.status();
  impl->engine = std::move(loaded->engine);
  impl->db_version = loaded->version;
  if (!impl->opt.unix_socket.empty()) RETURN_IF_ERROR(impl->BindUnix(impl->opt.unix_socket));
  if (!impl->opt.tcp.empty()) RETURN_IF_ERROR(impl->BindTcp(impl->opt.tcp));
  impl->epfd = ::epoll_create1(EPOLL_CLOEXEC);
  impl->wakefd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->epfd < 0 || impl->wakefd < 0) return Internal(ErrnoText("epoll/eventfd"));
  impl->StartThreads();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::Run() {
  return impl_->Run();
}
void Server::Stop() {
  impl_->stop_requested = true;
  impl_->Wake();
}
void Server::StopFromSignal() {
  impl_->stop_requested = true;
  impl_->Wake();
}
void Server::RequestReload() {
  impl_->RequestReload();
}
void Server::RequestReloadFromSignal() {
  impl_->reload_signal = true;
  impl_->Wake();
}
int Server::tcp_port() const {
  return impl_->port;
}
uint64_t Server::reloads() const {
  return impl_->reloads.load();
}
StatsInfo Server::stats() const {
  return impl_->Stats();
}

}  // namespace accord::scand
