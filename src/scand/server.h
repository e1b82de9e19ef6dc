// `accord scand`: a daemon that speaks clamd's protocol (scand/protocol.h) on a unix socket and/or a
// TCP address, so that mail servers, upload services and clamd's own clients scan with accord.
//
// Shape: one I/O thread runs an epoll loop over every connection (non-blocking sockets, bounded
// buffers, timeouts), and a fixed pool of scanning threads runs the scans; a connection costs a few
// hundred bytes plus what it has in flight, so thousands of them cost no thread each. Every cap is
// in scand/limits.h.
//
// Reload: the signatures are an immutable scan::Engine behind a shared_ptr. RequestReload(), the
// RELOAD command, SIGUSR2 in the CLI and a change of any watched file (a new inode, size or mtime:
// what `accord db build` and `accord update` do when they rename a new database into place) load a
// new Engine on a separate thread with the EngineLoader and swap the pointer. Requests that started
// before the swap finish on the old Engine, later ones use the new one; none is refused or delayed.
// Databases are mapped files (scan::Database), so the old and the new one together cost little more
// memory than one. A failed load keeps the old Engine and is logged.
//
// Thread-safety: Create, then Run on one thread; Stop, RequestReload and stats are safe from any
// thread, and StopFromSignal from a signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "scan/engine.h"
#include "scand/limits.h"
#include "scand/protocol.h"

namespace accord::scand {

struct LoadedEngine {
  std::shared_ptr<const scan::Engine> engine;
  std::string version;  // what VERSION shows after "accord 0.1.0/": "SIGNATURES/DATE"
};
// Builds an Engine from the daemon's signature files. Called at start and on every reload, on a
// thread of its own; it MUST NOT touch the running Engine.
using EngineLoader = std::function<Result<LoadedEngine>()>;

struct ServerOptions {
  std::string unix_socket;  // path of the unix socket; empty: none
  std::string tcp;          // "HOST:PORT" ("127.0.0.1:3310"); empty: none
  int threads = 0;          // scanning threads; 0: one per core
  ServerLimits limits;
  std::vector<std::string> watch;  // files whose replacement triggers a reload
  std::chrono::milliseconds watch_interval{2000};
  bool log = true;  // one line on stderr per start, reload and error
};

class Server {
 public:
  // Loads the signatures, binds the sockets (a stale unix socket file is replaced; one that a live
  // daemon answers on is not) and starts the scanning threads.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Create(ServerOptions options, EngineLoader loader);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until SHUTDOWN or Stop(): then stops accepting, lets requests in flight finish (for up
  // to a few seconds), closes everything and removes the unix socket file. When a connection
  // closes (the client's doing, a limit's or the shutdown's), its requests not yet started are not
  // run and its directory walks stop at the next file.
  Status Run();
  void Stop();
  void StopFromSignal();  // async-signal-safe
  void RequestReload();
  void RequestReloadFromSignal();  // async-signal-safe

  // The TCP port actually bound (useful with port 0), or 0.
  int tcp_port() const;
  uint64_t reloads() const;  // successful reloads so far
  StatsInfo stats() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::scand
