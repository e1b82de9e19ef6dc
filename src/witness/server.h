// The witness's HTTP service: c2sp.org/tlog-witness over plain HTTP, on http/server.h.
//
//   POST /add-checkpoint   Witness::AddCheckpoint, its status, content type and body as is
//
// Nothing else is served (404; 405 for another method on /add-checkpoint). Bodies over
// limits::kMaxWitnessRequestSize are refused with 413 (from the Content-Length before they are
// read; a chunked body once it passes the limit). Slow, stalled and idle
// clients cost a descriptor, not a thread: a request must arrive whole within read_timeout_s
// (408), connections past max_connections are answered 503 (http/server.h has the limits). HTTPS with
// ServerOptions' tls_cert and tls_key, or a TLS proxy or c2sp.org/https-bastion in front.
// Thread-safety: Run blocks on the calling thread; Stop may be called from any thread, and from a
// signal handler, before, during or after Run.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "http/server.h"
#include "witness/witness.h"

namespace accord::witness {

// http/server.h's options (host, port, TLS, threads, connections, deadlines), with the witness's
// defaults: any free port, 16 handler threads, idle connections kept 5 s (logs SHOULD keep them
// open, says the spec).
struct ServerOptions : http::Options {
  ServerOptions() {
    port = 0;
    threads = 16;
    keep_alive_timeout_s = 5;
  }
};

class Server {
 public:
  Server(Witness& witness, ServerOptions options);  // `witness` must outlive the server
  ~Server();
  Status Start();  // binds the port (or fails naming it)
  int port() const;
  Status Run();  // serves until Stop
  void Stop();   // also before or while Run starts: Run then returns at once

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::witness
