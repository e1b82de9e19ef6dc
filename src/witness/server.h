// The witness's HTTP service (cpp-httplib): c2sp.org/tlog-witness over plain HTTP.
//
//   POST /add-checkpoint   Witness::AddCheckpoint, its status, content type and body as is
//
// Nothing else is served (404). Bodies over
// limits::kMaxWitnessRequestSize are refused with 413 before they are read whole. Put a TLS
// proxy or a c2sp.org/https-bastion in front for HTTPS.
// Thread-safety: Run blocks on the calling thread; Stop may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "witness/witness.h"

namespace accord::witness {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;             // 0: any free port (see Server::port)
  size_t threads = 16;      // requests served at once; more wait in the listen queue
  int read_timeout_s = 10;  // a client that sends nothing for this long is dropped
  int write_timeout_s = 10;
  int keep_alive_timeout_s = 5;  // logs SHOULD keep connections open (spec)
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
