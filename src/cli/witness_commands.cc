#include "cli/witness_commands.h"

#include <signal.h>

#include <cstdio>

#include "cli/process.h"
#include "core/fs.h"
#include "core/limits.h"
#include "crypto/note.h"
#include "tlog/policy.h"
#include "witness/server.h"
#include "witness/witness.h"

namespace accord::cli {
namespace {

constexpr int kExitFailure = 1;

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "accord: witness: %s: %s\n", what.c_str(), s.ToString().c_str());
  return kExitFailure;
}

Result<Bytes> ReadKeyText(const std::string& path) {
  return fs::ReadFile(path, limits::kMaxKeyFileSize);
}

// A key file holding either a private (signer) or a public (verifier) key: its verifier.
Result<note::Verifier> ReadAnyVerifier(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes text, ReadKeyText(path));
  if (Result<note::Signer> s = note::ParseSignerKey(text); s.ok()) return s->verifier();
  Result<note::Verifier> v = note::ParseVerifierKey(text);
  if (!v.ok()) return v.status().WithContext(path);
  return v;
}

// "HOST:PORT", "[v6]:PORT".
Result<std::pair<std::string, int>> HostPort(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string::npos && colon > 0)
    port = ParseDecimal(std::string_view(listen).substr(colon + 1));
  if (!port || *port > 65535) return InvalidArgument("--listen \"" + listen + "\": want HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, int(*port));
}

std::string PolicyLine(const std::string& name, const note::Verifier& key) {
  return tlog::FormatWitnessLine({name.empty() ? key.name : name, key, ""});
}

struct ServeArgs {
  std::string dir, key_path, listen = "127.0.0.1:8090", port_file, name, tls_cert, tls_key;
  std::vector<std::string> logs;
  size_t threads = 16;
  size_t max_connections = 0;
};

witness::Server* g_server = nullptr;

// SIGINT and SIGTERM stop `server` (nullptr: nothing to stop any more).
void StopOnSignal(witness::Server* server) {
  g_server = server;
  if (!server) return;
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    if (g_server) g_server->Stop();
  };
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int Serve(const ServeArgs& a) {
  if (!a.name.empty() && !tlog::IsValidPolicyName(a.name))
    return Fail("--name", InvalidArgument("\"" + a.name + "\" cannot name a witness in a policy"));
  auto listen = HostPort(a.listen);
  if (!listen.ok()) return Fail("serve", listen.status());
  RaiseOpenFileLimit();  // a descriptor per client; connections are capped at half the limit
  witness::WitnessOptions o;
  o.dir = a.dir;
  auto key_text = ReadKeyText(a.key_path);
  if (!key_text.ok()) return Fail(a.key_path, key_text.status());
  auto key = note::ParseSignerKey(*key_text);
  if (!key.ok()) return Fail(a.key_path, key.status());
  o.key = *key;
  for (const std::string& path : a.logs) {
    auto v = ReadAnyVerifier(path);
    if (!v.ok()) return Fail(path, v.status());
    o.logs.push_back(*v);
  }
  auto w = witness::Witness::Open(std::move(o));
  if (!w.ok()) return Fail(a.dir, w.status());
  witness::ServerOptions so;
  so.host = listen->first;
  so.port = listen->second;
  so.threads = a.threads;
  so.max_connections = a.max_connections;
  so.tls_cert = a.tls_cert;
  so.tls_key = a.tls_key;
  witness::Server server(**w, so);
  if (Status s = server.Start(); !s.ok()) return Fail("serve", s);
  std::printf("accord witness: following %zu log key(s)\n", a.logs.size());
  std::printf("%s", PolicyLine(a.name, (*w)->key().verifier()).c_str());
  std::printf("listening on %s://%s:%d/add-checkpoint\n", a.tls_cert.empty() ? "http" : "https",
              so.host.c_str(), server.port());
  std::fflush(stdout);
  Status s = a.port_file.empty() ? Status::Ok()
                                 : fs::WriteFileAtomic(a.port_file, std::to_string(server.port()) + "\n");
  if (!s.ok()) return Fail(a.port_file, s);
  StopOnSignal(&server);
  s = server.Run();
  StopOnSignal(nullptr);
  if (!s.ok()) return Fail("serve", s);
  std::fprintf(stderr, "accord witness: stopped\n");
  return 0;
}

int KeyInfo(const std::string& path, const std::string& name) {
  if (!name.empty() && !tlog::IsValidPolicyName(name))
    return Fail("--name", InvalidArgument("\"" + name + "\" cannot name a witness in a policy"));
  auto v = ReadAnyVerifier(path);
  if (!v.ok()) return Fail(path, v.status());
  if (v->type != note::KeyType::kCosignatureV1)
    return Fail(path, InvalidArgument("not a witness key (cosignature/v1); make one with "
                                      "`accord key generate NAME DIR --cosigner`"));
  std::printf("%s", PolicyLine(name, *v).c_str());
  return 0;
}

}  // namespace

void AddWitnessCommands(CLI::App& app, int& rc) {
  auto* witness =
      app.add_subcommand("witness", "a transparency log witness (C2SP tlog-witness)")->require_subcommand(1);
  static ServeArgs a;
  auto* serve = witness->add_subcommand(
      "serve",
      "cosign the checkpoints of the given logs that extend what this witness saw (POST /add-checkpoint)");
  serve->add_option("DIR", a.dir, "the witness's state directory (created on first start)")->required();
  serve
      ->add_option("--key", a.key_path, "the witness's private key (accord key generate NAME DIR --cosigner)")
      ->required();
  serve->add_option("--log", a.logs, "a log's verifier key file, its name the log's origin (repeatable)")
      ->required()
      ->allow_extra_args(false);
  serve->add_option("--listen", a.listen, "HOST:PORT (default 127.0.0.1:8090; port 0: any)");
  serve->add_option("--port-file", a.port_file, "write the port listened on to this file");
  serve->add_option("--threads", a.threads, "requests served at once (default 16)")
      ->check(CLI::Range(1, 1024));
  serve
      ->add_option("--max-connections", a.max_connections,
                   "connections open at once; more are answered 503 (default 16384, at most half the "
                   "open-file limit)")
      ->check(CLI::Range(1, 1 << 24));
  serve->add_option("--tls-cert", a.tls_cert, "PEM certificate (chain): serve HTTPS")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", a.tls_key, "the certificate's PEM private key")->check(CLI::ExistingFile);
  serve->add_option("--name", a.name,
                    "the witness's name in the printed policy line (default: its key name)");
  serve->callback([&rc] { rc = Serve(a); });

  static std::string key_path, name;
  auto* info =
      witness->add_subcommand("key-info", "print the policy line (witness NAME VKEY) of a witness key");
  info->add_option("KEYFILE", key_path, "the witness's private or verifier key file")->required();
  info->add_option("--name", name, "the witness's name in the policy (default: its key name)");
  info->callback([&rc] { rc = KeyInfo(key_path, name); });
}

}  // namespace accord::cli
