#include "cli/node_commands.h"

#include <httplib.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>

#include "cli/process.h"
#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/fs.h"
#include "core/limits.h"
#include "crypto/note.h"
#include "node/http_server.h"
#include "node/node.h"
#include "node/pg_store.h"
#include "node/stix.h"
#include "node/taxii.h"
#include "node/tokens.h"
#include "scan/sigfile.h"
#include "scan/tlsh.h"
#include "statement/statement.h"

namespace accord::cli {
namespace {

constexpr int kExitRefused = 1, kExitError = 2;

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "accord: %s: %s\n", what.c_str(), s.ToString().c_str());
  return kExitError;
}

// ---- accord serve

node::HttpServer* g_server = nullptr;

void OnSignal(int) {
  if (g_server) g_server->Stop();
}

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return InvalidArgument("--listen: HOST:PORT, e.g. 127.0.0.1:8080");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::optional<uint64_t> port = ParseDecimal(std::string_view(listen).substr(colon + 1));
  if (!port || *port > 65535) return InvalidArgument("--listen: bad port in \"" + listen + "\"");
  return std::make_pair(host, int(*port));
}

struct ServeArgs {
  std::string dir, origin, listen = "127.0.0.1:8080", tls_cert, tls_key, port_file;
  std::string postgres;  // the log and index in PostgreSQL (conninfo); empty: DIR/index.sqlite
  std::string postgres_schema = "accord";
  int lease_ms = 5000;
  std::vector<std::string> witnesses;  // VKEYFILE@URL
  int witness_timeout_ms = 2000;
  std::string witness_ca_cert;
  int witness_refresh_s = 600;
  size_t witness_quorum = 0;  // 0: all
  size_t threads = 256;
  size_t max_connections = 0;
  size_t taxii_cache_mb = 256;
};

int Serve(const ServeArgs& a) {
  KeepFreedMemory();
  // Thousands of clients need thousands of descriptors.
  RaiseOpenFileLimit();
  auto listen = ParseListen(a.listen);
  if (!listen.ok()) return Fail("serve", listen.status());
  node::NodeOptions node_options;
  node_options.postgres = a.postgres;
  node_options.postgres_schema = a.postgres_schema;
  node_options.lease_ttl = std::chrono::milliseconds(a.lease_ms);
  for (const auto& w : a.witnesses) {
    size_t at = w.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == w.size())
      return Fail("--witness", InvalidArgument("\"" + w + "\": not VKEYFILE@URL"));
    auto text = fs::ReadFile(w.substr(0, at), limits::kMaxKeyFileSize);
    if (!text.ok()) return Fail("--witness", text.status());
    std::string_view vkey = *text;
    while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) vkey.remove_suffix(1);
    auto key = note::ParseVerifierKey(vkey);
    if (!key.ok()) return Fail("--witness", key.status().WithContext(w.substr(0, at)));
    if (key->type != note::KeyType::kCosignatureV1)
      return Fail("--witness", InvalidArgument(w.substr(0, at) + ": not a witness key (cosignature/v1)"));
    node_options.witnesses.push_back(node::WitnessTarget{*key, w.substr(at + 1)});
  }
  node_options.cosigner.timeout = std::chrono::milliseconds(a.witness_timeout_ms);
  node_options.cosigner.refresh = std::chrono::seconds(a.witness_refresh_s);
  if (a.witness_quorum > a.witnesses.size())
    return Fail("--witness-quorum",
                InvalidArgument("more than the " + std::to_string(a.witnesses.size()) + " witnesses given"));
  node_options.cosigner.quorum = a.witness_quorum;
  if (!a.witness_ca_cert.empty()) {
    // Checked now: a file that holds no certificate would fail every HTTPS request, one by one.
    auto pem = fs::ReadFile(a.witness_ca_cert, limits::kMaxCaFileSize);
    if (!pem.ok()) return Fail("--witness-ca-cert", pem.status());
    if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      return Fail("--witness-ca-cert", InvalidArgument(a.witness_ca_cert + ": no PEM certificate in it"));
    node_options.cosigner.ca_cert = a.witness_ca_cert;
  }
  auto n = node::Node::Open(a.dir, a.origin, node_options);
  if (!n.ok()) return Fail(a.dir, n.status());
  node::HttpOptions o;
  o.host = listen->first;
  o.port = listen->second;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  o.threads = a.threads;
  o.max_connections = a.max_connections;
  node::HttpServer server(**n, o);
  node::Node* nodep = n->get();
  node::taxii::TaxiiConfig tc;
  tc.title = "accord exchange " + nodep->origin();
  tc.description = "Every statement of the log " + nodep->origin() + ", as STIX 2.1 (docs/taxii.md)";
  tc.log_origin = nodep->origin();
  tc.checkpoint = [nodep] { return nodep->checkpoint().raw; };
  tc.render_cache_bytes = a.taxii_cache_mb << 20;
  // TAXII POST: tokens the operator issued (accord taxii-token), statements the node attests.
  // Embedded: DIR/taxii-tokens. PostgreSQL: the log's taxii_tokens table, shared by its processes.
  node::TokenFile tokens(fs::JoinPath(a.dir, std::string(node::kTokenFileName)));
  tc.authenticate =
      [&tokens](std::string_view authorization) -> Result<std::optional<crypto::Ed25519PublicKey>> {
    return tokens.Authenticate(authorization);
  };
  auto* pg = dynamic_cast<node::PgStore*>(&nodep->store());
  if (!a.postgres.empty() && pg) {
    if (fs::Exists(fs::JoinPath(a.dir, std::string(node::kTokenFileName))))
      std::fprintf(stderr,
                   "accord serve: %s/taxii-tokens is not read: this log's tokens are in PostgreSQL "
                   "(accord taxii-token ... --postgres)\n",
                   a.dir.c_str());
    tc.authenticate =
        [pg](std::string_view authorization) -> Result<std::optional<crypto::Ed25519PublicKey>> {
      std::optional<std::string> token = node::TokenFromAuthorization(authorization);
      // Only the shape accord issues reaches the database.
      if (!token || !node::IsIssuedTokenShape(*token)) return std::optional<crypto::Ed25519PublicKey>();
      return pg->FindToken(node::TokenHash(*token));
    };
  }
  tc.submit = [nodep](const std::vector<statement::Statement>& statements) {
    std::vector<Result<node::taxii::Logged>> out(statements.size(),
                                                 Result<node::taxii::Logged>(Internal("")));
    std::vector<Bytes> leaves;
    std::vector<size_t> at;
    for (size_t i = 0; i < statements.size(); ++i) {
      Result<Bytes> leaf = nodep->Attest(statements[i]);
      if (!leaf.ok()) {
        out[i] = leaf.status();
        continue;
      }
      leaves.push_back(std::move(leaf).value());
      at.push_back(i);
    }
    std::vector<ByteView> views(leaves.begin(), leaves.end());
    std::vector<Result<node::Accepted>> accepted = nodep->SubmitMany(views);
    for (size_t j = 0; j < at.size(); ++j) {
      if (accepted[j].ok()) {
        out[at[j]] = node::taxii::Logged{accepted[j]->index, accepted[j]->id, accepted[j]->duplicate};
      } else {
        out[at[j]] = accepted[j].status();
      }
    }
    return out;
  };
  node::taxii::TaxiiApi taxii(nodep->store(), tc);
  if (Status s = taxii.CatchUp(); !s.ok()) return Fail("serve", s.WithContext("TAXII index"));
  server.SetMoreMetrics([&taxii] {
    node::taxii::RenderCacheStats c = taxii.render_cache();
    return std::vector<node::MetricSample>{
        {"accord_taxii_render_cache_hits_total",
         "Statements TAXII served from its cache of rendered objects.", "counter", c.hits},
        {"accord_taxii_render_cache_misses_total", "Statements TAXII rendered anew (--taxii-cache-mb).",
         "counter", c.misses},
        {"accord_taxii_render_cache_statements", "Statements in TAXII's cache of rendered objects.", "gauge",
         c.statements},
        {"accord_taxii_render_cache_bytes", "Bytes in TAXII's cache of rendered objects.", "gauge", c.bytes}};
  });
  server.SetTaxiiHandler([&taxii](const node::HttpRequest& q) {
    node::taxii::TaxiiResponse r =
        taxii.Handle({q.method, q.path, q.query, q.accept, q.content_type, q.body, q.authorization});
    return node::HttpReply{r.status, r.content_type, r.body, r.headers};
  });
  if (Status s = server.Start(); !s.ok()) return Fail("serve", s);
  std::printf("accord serve: log \"%s\", %llu entries\nverifier key: %s\nlistening on %s://%s:%d/\n",
              (*n)->origin().c_str(), (unsigned long long)(*n)->checkpoint().checkpoint.size,
              note::FormatVerifierKey((*n)->verifier()).c_str(), a.tls_cert.empty() ? "http" : "https",
              o.host.c_str(), server.port());
  std::fflush(stdout);
  if (!a.port_file.empty()) {
    if (Status s = fs::WriteFileAtomic(a.port_file, std::to_string(server.port()) + "\n"); !s.ok())
      return Fail(a.port_file, s);
  }
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Status s = server.Run();
  g_server = nullptr;
  if (!s.ok()) return Fail("serve", s);
  std::fprintf(stderr, "accord serve: stopped\n");
  return 0;
}

// ---- accord submit

struct SubmitArgs {
  std::string node_url, key_path, created, ca_cert;
  std::string register_name, country, contact;
  std::vector<std::string> yara, hashes, tlsh, stix;
  int64_t retract = -1;
  std::string reason;
  int64_t audit = -1;  // an audit finding about this index, with verdict and text
  std::string verdict, text;
  std::string log;  // the origin a retraction or finding names; empty: the node's; "-": none
  bool dry_run = false;
};

Result<note::Signer> ReadAuthorKey(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxKeyFileSize));
  Result<note::Signer> s = note::ParseSignerKey(text);
  if (!s.ok()) return s.status().WithContext(path);
  if (s->type != note::KeyType::kEd25519)
    return InvalidArgument(path + ": a statement is signed with an Ed25519 (type 1) key");
  return s;
}

std::string FileName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The statements a submission makes, before signing: bodies with their kinds. Lists are cut at
// statement::limits::kMaxEntries entries (and smaller if a statement would pass 64 KiB).
struct Draft {
  statement::Kind kind;
  json::Json body;
  std::string what;  // for messages: "hashes.hsb lines 1-2048"
};

Status AddListDrafts(statement::Kind kind, std::vector<json::Json> entries, const std::string& file,
                     std::vector<Draft>& out) {
  // About 150 bytes per hash entry: 2048 of them would pass 64 KiB, so cut at 256.
  size_t per = kind == statement::Kind::kHashSet ? 256 : 512;
  for (size_t i = 0; i < entries.size(); i += per) {
    size_t end = std::min(entries.size(), i + per);
    json::Json list = json::Json::array();
    for (size_t j = i; j < end; ++j) list.push_back(std::move(entries[j]));
    out.push_back({kind,
                   {{"entries", std::move(list)}},
                   file + " signatures " + std::to_string(i + 1) + "-" + std::to_string(end)});
  }
  if (entries.empty()) return InvalidArgument(file + ": no signatures");
  return Status::Ok();
}

Result<std::vector<Draft>> MakeDrafts(const SubmitArgs& a, const crypto::Ed25519PublicKey& author) {
  std::vector<Draft> out;
  if (!a.register_name.empty()) {
    if (a.country.empty()) return InvalidArgument("--register needs --country (ISO 3166-1 alpha-2, e.g. DE)");
    json::Json b = {
        {"name", a.register_name},
        {"country", a.country},
        {"contact", a.contact.empty() ? std::string("unspecified") : a.contact},
        {"key", Base64Encode(ByteView(reinterpret_cast<const char*>(author.data()), author.size()))}};
    out.push_back({statement::Kind::kRegistration, std::move(b), "registration"});
  }
  for (const auto& path : a.yara) {
    ASSIGN_OR_RETURN(Bytes src, fs::ReadFile(path, limits::kMaxEntrySize));
    // The rule names, in source order, are what the compiler defines: statement::Sign checks
    // that the list is exact, so the list is taken from a compile.
    json::Json b = {{"source", src}, {"rules", json::Json::array()}, {"meta", {{"file", FileName(path)}}}};
    out.push_back({statement::Kind::kYaraRule, std::move(b), path});
  }
  for (const auto& path : a.hashes) {
    ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, scan::limits::kMaxSignatureFileSize));
    std::vector<json::Json> entries;
    RETURN_IF_ERROR(scan::ForEachHashSignature(text, path, [&](scan::HashSignature&& s) -> Status {
      static constexpr const char* kNames[] = {"md5", "sha1", "sha256"};
      json::Json e = {{"hash", kNames[int(s.kind)]},
                      {"digest", HexEncode(s.digest)},
                      {"name", s.name},
                      {"size", s.size ? json::Json(*s.size) : json::Json(nullptr)}};
      entries.push_back(std::move(e));
      return Status::Ok();
    }));
    RETURN_IF_ERROR(AddListDrafts(statement::Kind::kHashSet, std::move(entries), path, out));
  }
  for (const auto& path : a.tlsh) {
    ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, scan::limits::kMaxSignatureFileSize));
    std::vector<json::Json> entries;
    RETURN_IF_ERROR(scan::ForEachTlshSignature(text, path, [&](scan::TlshSignature&& s) -> Status {
      entries.push_back({{"tlsh", "T1" + s.digest.ToString()}, {"threshold", s.threshold}, {"name", s.name}});
      return Status::Ok();
    }));
    RETURN_IF_ERROR(AddListDrafts(statement::Kind::kTlshSet, std::move(entries), path, out));
  }
  for (const auto& path : a.stix) {
    ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxJsonSize));
    auto bundle = json::Json::parse(text, nullptr, false);
    if (bundle.is_discarded() || !bundle.is_object() || bundle.value("type", "") != "bundle" ||
        !bundle.contains("objects") || !bundle["objects"].is_array())
      return InvalidArgument(path + ": not a STIX 2.1 bundle");
    // The same conversion as the node's TAXII POST (stix::BodyFromObject): indicators with YARA or
    // STIX patterns, marked TLP:CLEAR; anything else in the bundle is context, not a statement.
    size_t n = 0, other = 0;
    for (const auto& o : bundle["objects"]) {
      if (!o.is_object() || !o.contains("type") || o["type"] != "indicator") {
        ++other;
        continue;
      }
      const std::string id = o.contains("id") && o["id"].is_string() ? o["id"].get<std::string>() : "?";
      Result<node::stix::PostedBody> b = node::stix::BodyFromObject(o);
      if (!b.ok())
        return InvalidArgument(path + ": indicator " + Printable(id) + ": " + b.status().message());
      if (!b->note.empty())
        std::fprintf(stderr, "accord: %s: indicator %s: %s\n", path.c_str(), id.c_str(), b->note.c_str());
      out.push_back({b->kind, std::move(b->body), path + " " + id});
      ++n;
    }
    if (n == 0) return InvalidArgument(path + ": the bundle has no indicator");
    if (other != 0)
      std::fprintf(stderr, "accord: %s: %zu objects that are not indicators are not submitted\n",
                   path.c_str(), other);
  }
  if (a.retract >= 0) {
    // Naming the log keeps the retraction to it: copied into another log, where the index is
    // another statement, it is refused (docs/statement-format.md). Submit fills in the node's.
    json::Json b = {{"index", a.retract}};
    if (!a.log.empty() && a.log != "-") b["log"] = a.log;
    if (!a.reason.empty()) b["reason"] = a.reason;
    out.push_back({statement::Kind::kRetraction, std::move(b), "retraction of " + std::to_string(a.retract)});
  }
  if (a.audit >= 0) {
    if (a.verdict.empty() || a.text.empty())
      return InvalidArgument(
          "--audit needs --verdict (confirmed, disputed, false-positive or harmful) and --text");
    json::Json b = {{"about", a.audit}, {"verdict", a.verdict}, {"text", a.text}};
    if (!a.log.empty() && a.log != "-") b["log"] = a.log;
    out.push_back(
        {statement::Kind::kAuditFinding, std::move(b), "audit finding about " + std::to_string(a.audit)});
  } else if (!a.verdict.empty() || !a.text.empty()) {
    return InvalidArgument("--verdict and --text are for --audit");
  }
  if (out.empty())
    return InvalidArgument(
        "nothing to submit: give --register, --yara, --hashes, --tlsh, --stix, --retract or --audit");
  return out;
}

// Fills a YARA body's "rules" with what the source defines, by letting Sign say what it expects.
Result<Bytes> SignDraft(Draft& d, const note::Signer& signer, const std::string& created) {
  statement::Statement s;
  s.kind = d.kind;
  s.author = signer.key.public_key;
  s.created = created;
  s.body = d.body;
  if (d.kind == statement::Kind::kYaraRule) {
    auto names = statement::YaraRuleNames(d.body["source"].get<std::string>());
    if (!names.ok()) return names.status().WithContext(d.what);
    s.body["rules"] = *names;
  }
  Result<Bytes> out = statement::Sign(s, signer.key);
  if (!out.ok()) return out.status().WithContext(d.what);
  return out;
}

// The origin line of the node's log, from its checkpoint. Not verified: over plain HTTP anyone on
// the way can answer another log's origin (docs/node.md: give --log, or use HTTPS).
Result<std::string> NodeOrigin(httplib::Client& client, const std::string& url) {
  auto res = client.Get("/checkpoint");
  if (!res) return Unavailable(url + ": no answer from the node: " + httplib::to_string(res.error()));
  if (res->status != 200) return Unavailable(url + ": GET /checkpoint: HTTP " + std::to_string(res->status));
  const std::string origin = res->body.substr(0, res->body.find('\n'));
  if (origin.empty() || origin.size() == res->body.size() || origin.size() > 1024 || !IsValidUtf8(origin) ||
      std::any_of(origin.begin(), origin.end(), [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; }))
    return DataLoss(url + ": GET /checkpoint: not a checkpoint");
  return origin;
}

int Submit(const SubmitArgs& a) {
  KeepFreedMemory();
  auto signer = ReadAuthorKey(a.key_path);
  if (!signer.ok()) return Fail("--key", signer.status());
  if (!a.log.empty() && a.retract < 0 && a.audit < 0)
    return Fail("--log", InvalidArgument("it is for --retract and --audit"));
  auto drafts = MakeDrafts(a, signer->key.public_key);
  if (!drafts.ok()) return Fail("submit", drafts.status());
  std::optional<httplib::Client> client;  // none with --dry-run and no --node
  if (!a.node_url.empty()) {
    client.emplace(a.node_url);
    if (!client->is_valid()) return Fail("--node", InvalidArgument("not a usable URL: " + a.node_url));
    if (!a.ca_cert.empty()) client->set_ca_cert_path(a.ca_cert);
    client->set_connection_timeout(10);
    client->set_read_timeout(120);
    client->set_write_timeout(60);
  }
  // A retraction or audit finding names the node's log unless --log says which (or "-": none, for
  // verifiers older than "log").
  if ((a.retract >= 0 || a.audit >= 0) && a.log.empty()) {
    if (!client)
      return Fail("submit", InvalidArgument("--retract or --audit without --node needs --log ORIGIN"));
    Result<std::string> origin = NodeOrigin(*client, a.node_url);
    if (!origin.ok()) return Fail("submit", origin.status());
    for (Draft& d : *drafts)
      if (d.kind == statement::Kind::kRetraction || d.kind == statement::Kind::kAuditFinding) {
        d.body["log"] = *origin;
        d.what += " in " + *origin;
      }
  }
  std::string created = a.created.empty() ? statement::FormatCreated(int64_t(std::time(nullptr))) : a.created;
  // Everything is signed (and so checked) before anything is sent.
  std::vector<Bytes> signed_statements;
  for (auto& d : *drafts) {
    auto s = SignDraft(d, *signer, created);
    if (!s.ok()) return Fail("submit", s.status());
    signed_statements.push_back(std::move(s).value());
  }
  if (a.dry_run) {
    for (const auto& s : signed_statements) std::printf("%s\n", s.c_str());
    return 0;
  }
  int rc = 0;
  for (size_t i = 0; i < signed_statements.size(); ++i) {
    auto res = client->Post("/statements", signed_statements[i], "application/json");
    if (!res) {
      return Fail(a.node_url, Unavailable("no answer from the node: " + httplib::to_string(res.error())));
    }
    auto body = json::Json::parse(res->body, nullptr, false);
    if (res->status == 200 || res->status == 201) {
      if (body.is_discarded() || !body.contains("index"))
        return Fail(a.node_url, DataLoss("the node's answer is not what accord's API gives"));
      std::printf("%s\t%s\tindex %llu%s\n", (*drafts)[i].what.c_str(),
                  std::string(statement::KindName((*drafts)[i].kind)).c_str(),
                  (unsigned long long)body["index"].get<uint64_t>(),
                  res->status == 200 ? " (already logged)" : "");
    } else {
      std::string msg = !body.is_discarded() && body.contains("error") && body["error"].is_string()
                            ? body["error"].get<std::string>()
                            : res->body.substr(0, 200);
      std::fprintf(stderr, "accord: %s: refused by the node (HTTP %d): %s\n", (*drafts)[i].what.c_str(),
                   res->status, msg.c_str());
      rc = kExitRefused;
      break;  // later statements may depend on this one (a registration first)
    }
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace

void AddNodeCommands(CLI::App& app, int& rc) {
  static ServeArgs serve_args;
  auto* serve =
      app.add_subcommand("serve", "Run the exchange node: submissions, the log's read path, lookup, TAXII");
  serve->add_option("DIR", serve_args.dir, "the node's directory (created on first start)")->required();
  serve->add_option("--origin", serve_args.origin, "the log's origin, e.g. example.org/accord (first start)");
  serve->add_option("--listen", serve_args.listen, "HOST:PORT (default 127.0.0.1:8080; port 0: any)");
  serve->add_option("--tls-cert", serve_args.tls_cert, "PEM certificate: serve HTTPS");
  serve->add_option("--tls-key", serve_args.tls_key, "PEM private key of --tls-cert");
  serve->add_option("--threads", serve_args.threads, "requests handled at once (default 256)")
      ->check(CLI::Range(1, 4096));
  serve
      ->add_option("--max-connections", serve_args.max_connections,
                   "connections open at once; one more is answered 503 (default 16384, at most half the "
                   "open-file limit)")
      ->check(CLI::Range(1, 1 << 24));
  serve
      ->add_option("--taxii-cache-mb", serve_args.taxii_cache_mb,
                   "memory for STIX objects rendered once and served again (default 256)")
      ->check(CLI::Range(0, 65536));
  serve->add_option("--port-file", serve_args.port_file, "write the port listened on to this file");
  serve->add_option("--postgres", serve_args.postgres,
                    "keep the log and its index in PostgreSQL, shared by every process that names the same "
                    "database: a libpq connection string, e.g. \"host=db dbname=accord\" (DIR/log becomes a "
                    "replica; copy DIR/node.key to each process; docs/node.md)");
  serve->add_option("--postgres-schema", serve_args.postgres_schema,
                    "the PostgreSQL schema that holds the log (default accord)");
  serve
      ->add_option("--lease-ms", serve_args.lease_ms,
                   "with --postgres: the sequencer's lease, so how long the log waits for a sequencer that "
                   "died before another process takes over (default 5000)")
      ->check(CLI::Range(300, 600000));
  serve
      ->add_option(
          "--witness", serve_args.witnesses,
          "VKEYFILE@URL: a witness (c2sp.org/tlog-witness) that cosigns each checkpoint before it is "
          "published (repeatable)")
      ->allow_extra_args(false);
  serve
      ->add_option("--witness-timeout", serve_args.witness_timeout_ms,
                   "milliseconds to wait for the witnesses of each checkpoint (default 2000)")
      ->check(CLI::Range(100, 600000));
  serve
      ->add_option("--witness-refresh", serve_args.witness_refresh_s,
                   "seconds after which an unchanged checkpoint is cosigned again, so that clients' "
                   "--max-age holds while the log is idle (default 600; 0: never)")
      ->check(CLI::Range(0, 86400));
  serve->add_option("--witness-ca-cert", serve_args.witness_ca_cert,
                    "HTTPS witnesses: trust the CA certificates in this PEM file instead of the system's");
  serve
      ->add_option("--witness-quorum", serve_args.witness_quorum,
                   "cosignatures a checkpoint needs before it is published (default: every witness's)")
      ->check(CLI::Range(size_t{1}, size_t{64}));
  serve->callback([&rc] { rc = Serve(serve_args); });

  static SubmitArgs sa;
  auto* submit = app.add_subcommand("submit", "Sign statements with your key and submit them to a node");
  submit->add_option("--node", sa.node_url, "the node's URL, e.g. http://127.0.0.1:8080");
  submit->add_option("--key", sa.key_path, "your private key (accord key generate)")->required();
  submit->add_option("--register", sa.register_name, "register as NAME (your first statement)");
  submit->add_option("--country", sa.country, "with --register: ISO 3166-1 alpha-2 country code");
  submit->add_option("--contact", sa.contact, "with --register: how to reach you");
  submit->add_option("--yara", sa.yara, "a YARA rule file (one statement per file)");
  submit->add_option("--hashes", sa.hashes, "a ClamAV .hdb/.hsb file (hash-set statements)");
  submit->add_option("--tlsh", sa.tlsh, "a .tlsh file (TLSH:THRESHOLD:NAME lines)");
  submit->add_option("--stix", sa.stix,
                     "a STIX 2.1 bundle: its indicators (YARA or STIX patterns), marked TLP:CLEAR");
  submit->add_option("--retract", sa.retract, "retract your statement at this log index");
  submit->add_option("--reason", sa.reason, "with --retract: why");
  submit->add_option("--audit", sa.audit, "publish an audit finding about the statement at this log index");
  submit->add_option("--verdict", sa.verdict, "with --audit: confirmed, disputed, false-positive or harmful");
  submit->add_option("--text", sa.text, "with --audit: what was checked and found");
  submit->add_option(
      "--log", sa.log,
      "with --retract or --audit: the origin of the log it is for (default: the node's, from its "
      "checkpoint; -: none)");
  submit->add_option("--created", sa.created, "the statements' time (default: now), YYYY-MM-DDTHH:MM:SSZ");
  submit->add_option("--ca-cert", sa.ca_cert,
                     "PEM file of the CA (or self-signed certificate) that the node's HTTPS uses");
  submit->add_flag("--dry-run", sa.dry_run, "print the signed statements instead of sending them");
  submit->callback([&rc] {
    if (sa.node_url.empty() && !sa.dry_run) {
      std::fprintf(stderr, "accord: submit: --node URL is required (or --dry-run)\n");
      rc = kExitError;
      return;
    }
    rc = Submit(sa);
  });

  // accord taxii-token add|revoke|list DIR [--postgres CONNINFO]: the tokens that let a participant
  // POST to TAXII; DIR/taxii-tokens for an embedded node, the log's table in PostgreSQL for one on
  // PostgreSQL (every process of the log reads it).
  static std::string tt_dir, tt_author, tt_label, tt_postgres, tt_schema = "accord";
  auto* tt =
      app.add_subcommand("taxii-token", "Issue, revoke or list a node's TAXII POST tokens (docs/taxii.md)");
  tt->require_subcommand(1);
  auto author_key = []() -> Result<crypto::Ed25519PublicKey> {
    std::optional<Bytes> raw = Base64Decode(tt_author);
    if (!raw || raw->size() != 32)
      return InvalidArgument("--author: \"" + Printable(tt_author) +
                             "\" is not a base64 Ed25519 public key (as in the participant's registration)");
    crypto::Ed25519PublicKey key{};
    std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(key.data()));
    return key;
  };
  auto token_path = [] { return fs::JoinPath(tt_dir, std::string(node::kTokenFileName)); };
  // An embedded node's tokens live beside its log: a DIR without one (a mistyped path) is refused,
  // not given a token file that no node reads.
  auto node_dir = []() -> Status {
    if (fs::IsDir(fs::JoinPath(tt_dir, "log"))) return Status::Ok();
    return NotFound(tt_dir + " holds no node (no " + fs::JoinPath(tt_dir, "log") +
                    "): is the directory right? `accord serve DIR` makes one");
  };
  auto pg_store = []() -> Result<std::unique_ptr<node::PgStore>> {
    node::PgStoreOptions o;
    o.conninfo = tt_postgres;
    o.schema = tt_schema;
    o.max_connections = 1;
    o.create = false;  // a mistyped --postgres-schema is refused, not made
    return node::PgStore::Open(o);
  };
  auto where = [](CLI::App* c) {
    c->add_option("DIR", tt_dir, "the node's directory")->required();
    c->add_option("--postgres", tt_postgres,
                  "the log is on PostgreSQL: its tokens are there (libpq conninfo)");
    c->add_option("--postgres-schema", tt_schema, "with --postgres: the log's schema (default accord)");
  };
  auto* tt_add = tt->add_subcommand("add", "Issue a token for a participant; prints it once");
  where(tt_add);
  tt_add->add_option("--author", tt_author, "the participant's Ed25519 key, base64")->required();
  tt_add->add_option("--label", tt_label, "who the token is for (1-64 printable, no spaces)")->required();
  tt_add->callback([&rc, author_key, token_path, pg_store, node_dir] {
    Result<crypto::Ed25519PublicKey> key = author_key();
    if (!key.ok()) return void(rc = Fail("taxii-token", key.status()));
    Result<std::string> token = InvalidArgument("");
    if (tt_postgres.empty()) {
      Status dir = node_dir();
      token = dir.ok() ? node::AddToken(token_path(), *key, tt_label) : Result<std::string>(dir);
    } else if (!node::IsTokenLabel(tt_label)) {
      token = InvalidArgument("label \"" + Printable(tt_label) + "\": 1-64 printable characters, no spaces");
    } else {
      auto store = pg_store();
      token = store.ok() ? node::NewToken() : Result<std::string>(store.status());
      if (token.ok()) {
        Status added = (*store)->AddToken({node::TokenHash(*token), *key, tt_label});
        if (!added.ok()) token = added;
      }
    }
    if (!token.ok()) return void(rc = Fail("taxii-token", token.status()));
    std::printf("%s\n", token->c_str());
    std::fprintf(stderr, "accord taxii-token: issued to %s (%s); it is shown only now\n", tt_label.c_str(),
                 tt_author.c_str());
    rc = 0;
  });
  auto* tt_revoke = tt->add_subcommand("revoke", "Revoke every token of a participant");
  where(tt_revoke);
  tt_revoke->add_option("--author", tt_author, "the participant's Ed25519 key, base64")->required();
  tt_revoke->callback([&rc, author_key, token_path, pg_store, node_dir] {
    Result<crypto::Ed25519PublicKey> key = author_key();
    if (!key.ok()) return void(rc = Fail("taxii-token", key.status()));
    Result<size_t> n = size_t{0};
    if (tt_postgres.empty()) {
      Status dir = node_dir();
      n = dir.ok() ? node::RevokeTokens(token_path(), *key) : Result<size_t>(dir);
    } else {
      auto store = pg_store();
      n = store.ok() ? (*store)->RevokeTokens(*key) : Result<size_t>(store.status());
    }
    if (!n.ok()) return void(rc = Fail("taxii-token", n.status()));
    std::printf("revoked %zu token(s) of %s\n", *n, tt_author.c_str());
    rc = *n == 0 ? kExitRefused : 0;
  });
  auto* tt_list = tt->add_subcommand("list", "List the tokens issued (their hashes, keys and labels)");
  where(tt_list);
  tt_list->callback([&rc, token_path, pg_store, node_dir] {
    Result<std::vector<node::TokenEntry>> entries = std::vector<node::TokenEntry>{};
    const std::string path = token_path();
    if (!tt_postgres.empty()) {
      auto store = pg_store();
      entries = store.ok() ? (*store)->Tokens() : Result<std::vector<node::TokenEntry>>(store.status());
    } else if (Status dir = node_dir(); !dir.ok()) {
      entries = dir;
    } else if (fs::Exists(path)) {
      Result<Bytes> text = fs::ReadFile(path, node::kMaxTokenFileSize);
      entries =
          text.ok() ? node::ParseTokenFile(*text) : Result<std::vector<node::TokenEntry>>(text.status());
    }
    if (!entries.ok()) return void(rc = Fail("taxii-token", entries.status()));
    for (const auto& e : *entries)
      std::printf("%s %s %s\n", Printable(e.sha256_hex.substr(0, 16)).c_str(),
                  Base64Encode(ByteView(reinterpret_cast<const char*>(e.author.data()), 32)).c_str(),
                  Printable(e.label).c_str());
    rc = 0;
  });
}

}  // namespace accord::cli
