#include "cli/update_commands.h"

#include <cstdio>

#include "cli/process.h"
#include "core/bytes.h"
#include "core/fs.h"
#include "core/limits.h"
#include "tlog/policy.h"
#include "update/log_source.h"
#include "update/mirror.h"
#include "update/provenance.h"
#include "update/update.h"

namespace accord::cli {
namespace {

constexpr int kExitError = 2;

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "accord: %s: %s\n", what.c_str(), s.ToString().c_str());
  return kExitError;
}

struct Args {
  std::string policy, from, to, ca_cert;
  int timeout = 30;
};

std::string WitnessNames(const tlog::Policy& p, const tlog::PolicyCheckpoint& c) {
  std::string out;
  for (const auto& cs : c.cosignatures) out += (out.empty() ? "" : ", ") + p.witnesses[cs.witness].name;
  return out.empty() ? "no witness (quorum none)" : out;
}

// The policy's check of a served checkpoint, and the log key that DIR's own checkpoint is read with.
struct Trust {
  tlog::Policy policy;
  std::string text;
  update::MirrorOptions options;
};

Result<std::unique_ptr<Trust>> LoadTrust(const std::string& path) {
  auto t = std::make_unique<Trust>();
  ASSIGN_OR_RETURN(t->text, fs::ReadFile(path, limits::kMaxPolicySize));
  Result<tlog::Policy> p = tlog::ParsePolicy(t->text);
  if (!p.ok()) return p.status().WithContext(path);
  t->policy = std::move(p).value();
  if (t->policy.logs.size() != 1)
    return InvalidArgument(path + ": names " + std::to_string(t->policy.logs.size()) +
                           " logs; accord mirror and update follow one log per policy");
  t->options.log_key = t->policy.logs[0].key;
  const tlog::Policy* policy = &t->policy;
  t->options.accept = [policy](ByteView note) -> Result<tlog::VerifiedCheckpoint> {
    ASSIGN_OR_RETURN(tlog::PolicyCheckpoint c, tlog::VerifyCheckpointWithPolicy(*policy, note));
    return c.checkpoint;
  };
  return t;
}

// The policy and the source (--from, or the URL on the policy's log line); 0, or the exit code.
int Open(const Args& a, std::unique_ptr<Trust>& trust, std::unique_ptr<update::LogSource>& src) {
  auto t = LoadTrust(a.policy);
  if (!t.ok()) return Fail("--policy", t.status());
  trust = std::move(t).value();
  std::string from = a.from.empty() ? trust->policy.logs[0].url : a.from;
  if (from.empty()) return Fail("--from", InvalidArgument("no --from and no URL on the policy's log line"));
  auto s = update::OpenLogSource(from, update::SourceOptions{a.ca_cert, a.timeout});
  if (!s.ok()) return Fail("--from", s.status());
  src = std::move(s).value();
  return 0;
}

int RunMirror(const Args& a) {
  std::unique_ptr<Trust> trust;
  std::unique_ptr<update::LogSource> src;
  if (int rc = Open(a, trust, src)) return rc;
  auto r = update::SyncMirror(*src, a.to, trust->options);
  if (!r.ok()) return Fail("mirror", r.status());
  std::printf("%s: %llu -> %llu entries (%llu tiles, %llu bundles, %llu bytes fetched)\n", a.to.c_str(),
              (unsigned long long)r->old_size, (unsigned long long)r->checkpoint.checkpoint.size,
              (unsigned long long)r->tiles_fetched, (unsigned long long)r->bundles_fetched,
              (unsigned long long)r->bytes_fetched);
  return 0;
}

int RunUpdate(const Args& a) {
  KeepFreedMemory();
  std::unique_ptr<Trust> trust;
  std::unique_ptr<update::LogSource> src;
  if (int rc = Open(a, trust, src)) return rc;
  update::UpdateOptions options{trust->options, trust->text};
  auto r = update::Update(*src, a.to, options);
  if (!r.ok()) return Fail("update", r.status());
  auto c = tlog::VerifyCheckpointWithPolicy(trust->policy, r->mirror.checkpoint.raw);
  std::printf("log %s: %llu -> %llu entries, cosigned by %s\n",
              r->mirror.checkpoint.checkpoint.origin.c_str(), (unsigned long long)r->mirror.old_size,
              (unsigned long long)r->mirror.checkpoint.checkpoint.size,
              c.ok() ? WitnessNames(trust->policy, *c).c_str() : "?");
  if (!r->rebuilt) {
    std::printf("%s: up to date\n", update::ScanDatabasePath(a.to).c_str());
    return 0;
  }
  std::printf(
      "%s: %llu statements, %llu loaded (%llu hashes, %llu TLSH, %llu YARA rules), %llu retracted, %zu "
      "refused\n",
      update::ScanDatabasePath(a.to).c_str(), (unsigned long long)r->statements,
      (unsigned long long)r->loaded, (unsigned long long)r->hashes, (unsigned long long)r->tlsh,
      (unsigned long long)r->yara_rules, (unsigned long long)r->retracted, r->rejected.size());
  std::printf(
      "time: %.2f s fetching and checking the log, %.2f s checking statements, %.2f s building, %.2f s "
      "writing\n",
      r->mirror_seconds, r->statements_seconds, r->build_seconds, r->write_seconds);
  for (const auto& rej : r->rejected)
    std::fprintf(stderr, "accord: update: entry %llu not loaded: %s\n", (unsigned long long)rej.index,
                 rej.reason.c_str());
  return 0;
}

}  // namespace

Result<std::string> CheckVerifiedDatabase(const scan::Database& db, std::string_view trusted_policy) {
  if (db.provenance().empty())
    return FailedPrecondition("not built by `accord update` from a verified log (no provenance)");
  Result<update::Provenance> p = update::ParseProvenance(db.provenance());
  if (!p.ok()) return p.status();
  Result<tlog::Policy> policy = tlog::ParsePolicy(p->policy);
  if (!policy.ok()) return policy.status().WithContext("its policy");
  if (!trusted_policy.empty()) {
    Result<tlog::Policy> trusted = tlog::ParsePolicy(trusted_policy);
    if (!trusted.ok()) return trusted.status().WithContext("--policy");
    if (!(*trusted == *policy))
      return PermissionDenied("verified against another policy than the one given with --policy");
  }
  Result<tlog::PolicyCheckpoint> c = tlog::VerifyCheckpointWithPolicy(*policy, p->checkpoint);
  if (!c.ok()) return c.status().WithContext("its checkpoint");
  return "log " + c->checkpoint.checkpoint.origin + ", checkpoint " +
         std::to_string(c->checkpoint.checkpoint.size) + ", cosigned by " + WitnessNames(*policy, *c);
}

void AddUpdateCommands(CLI::App& app, int& rc) {
  auto args = std::make_shared<Args>();
  auto* m =
      app.add_subcommand("mirror", "keep a verified copy of a log that any static web server can serve");
  m->add_option("--policy", args->policy, "C2SP tlog-policy: the log's key, witnesses and quorum")
      ->required();
  m->add_option("--from", args->from,
                "the log's URL (http[s]://host/prefix) or a directory; default: the policy's log URL");
  m->add_option("--to", args->to, "the mirror directory")->required();
  m->add_option("--ca-cert", args->ca_cert, "HTTPS: trust this CA file");
  m->add_option("--timeout", args->timeout, "HTTP timeout in seconds")->check(CLI::Range(1, 3600));
  m->callback([args, &rc] { rc = RunMirror(*args); });

  auto* u = app.add_subcommand("update", "build a scan database from a verified, witnessed log");
  u->add_option("--policy", args->policy, "C2SP tlog-policy: the log's key, witnesses and quorum")
      ->required();
  u->add_option("--from", args->from, "the log's URL or a mirror directory; default: the policy's log URL");
  u->add_option("-d,--database", args->to, "the database directory (DB/log: the mirror, DB/scan.accdb)")
      ->required();
  u->add_option("--ca-cert", args->ca_cert, "HTTPS: trust this CA file");
  u->add_option("--timeout", args->timeout, "HTTP timeout in seconds")->check(CLI::Range(1, 3600));
  u->callback([args, &rc] { rc = RunUpdate(*args); });
}

}  // namespace accord::cli
