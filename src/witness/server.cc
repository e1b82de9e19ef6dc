#include "witness/server.h"

#include <optional>

#include "core/limits.h"
#include "http/server.h"

namespace accord::witness {

struct Server::Impl : http::Service {
  Witness& witness;
  std::optional<http::Server> server;  // declared last: stopped and destroyed first

  Impl(Witness& w, const ServerOptions& o) : witness(w) { server.emplace(*this, o); }

  http::BodyPolicy Body(std::string_view, std::string_view, std::string_view) override {
    return {limits::kMaxWitnessRequestSize, false};
  }
  http::Reply Handle(const http::Request& req) override {
    if (req.path != "/add-checkpoint")
      return Error(404, "not found: a witness serves POST /add-checkpoint only", req.path);
    if (req.method != "POST") {
      http::Reply r = Error(405, "method not allowed: a witness serves POST /add-checkpoint only", req.path);
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    Response w = witness.AddCheckpoint(req.body);
    http::Reply r;
    r.status = w.status;
    r.content_type = w.content_type;
    r.body = std::move(w.body);
    return r;
  }
};

Server::Server(Witness& witness, ServerOptions options) : impl_(std::make_unique<Impl>(witness, options)) {}

Server::~Server() {
  Stop();
}

Status Server::Start() {
  return impl_->server->Start();
}

int Server::port() const {
  return impl_->server->port();
}

Status Server::Run() {
  return impl_->server->Run();
}

// Nothing here waits, locks or allocates: `accord witness serve` calls it from a signal handler.
void Server::Stop() {
  impl_->server->Stop();
}

}  // namespace accord::witness
