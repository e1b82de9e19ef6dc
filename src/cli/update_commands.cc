#include "cli/update_commands.h"

#include <cstdio>
#include <ctime>
#include <optional>

#include "cli/process.h"
#include "core/bytes.h"
#include "core/fs.h"
#include "core/limits.h"
#include "scan/engine.h"
#include "scan/load.h"
#include "scan/report.h"
#include "statement/statement.h"
#include "tlog/policy.h"
#include "update/evidence.h"
#include "update/log_source.h"
#include "update/mirror.h"
#include "update/provenance.h"
#include "update/signatures.h"
#include "update/update.h"

namespace accord::cli {
namespace {

constexpr int kExitError = 2;

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "accord: %s: %s\n", what.c_str(), s.ToString().c_str());
  return kExitError;
}

struct Args {
  std::string policy, from, to, ca_cert, max_age;
  int timeout = 30;
  bool trust_attested = false;
};

// "90", "90s", "15m", "12h", "7d": seconds. nullopt for anything else, 0, or over ten years.
std::optional<uint64_t> ParseDuration(std::string_view text) {
  static constexpr std::pair<char, uint64_t> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  uint64_t unit = 1;
  for (const auto& [suffix, seconds] : kUnits) {
    if (!text.empty() && text.back() == suffix) {
      unit = seconds;
      text.remove_suffix(1);
      break;
    }
  }
  std::optional<uint64_t> n = ParseDecimal(text);
  if (!n || *n == 0 || *n > 3650 * 86400 / unit) return std::nullopt;
  return *n * unit;
}

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

Result<std::unique_ptr<Trust>> LoadTrust(const std::string& path, uint64_t max_age) {
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
  t->options.accept = [policy, max_age](ByteView note) -> Result<tlog::VerifiedCheckpoint> {
    ASSIGN_OR_RETURN(tlog::PolicyCheckpoint c, tlog::VerifyCheckpointWithPolicy(*policy, note));
    if (max_age > 0)
      RETURN_IF_ERROR(tlog::CheckFreshQuorum(*policy, c, uint64_t(std::time(nullptr)), max_age));
    return c.checkpoint;
  };
  return t;
}

// The policy and the source (--from, or the URL on the policy's log line); 0, or the exit code.
int Open(const Args& a, std::unique_ptr<Trust>& trust, std::unique_ptr<update::LogSource>& src) {
  uint64_t max_age = 0;
  if (!a.max_age.empty()) {
    std::optional<uint64_t> d = ParseDuration(a.max_age);
    if (!d)
      return Fail("--max-age",
                  InvalidArgument("\"" + a.max_age + "\" is not a duration such as 3600, 90m, 12h or 7d"));
    max_age = *d;
  }
  auto t = LoadTrust(a.policy, max_age);
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
  update::UpdateOptions options{trust->options, trust->text, a.trust_attested};
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
  if (r->attested_skipped != 0)
    std::printf(
        "%llu node-attested statements not loaded (signed by the log's node for their authors, "
        "not by the authors; --trust-attested loads them)\n",
        (unsigned long long)r->attested_skipped);
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
         std::to_string(c->checkpoint.checkpoint.size) + ", cosigned by " + WitnessNames(*policy, *c) +
         (p->trust_attested ? "; node-attested statements loaded too (--trust-attested)" : "");
}

namespace {

struct EvidenceArgs {
  std::string path, db, out, policy, bundle, sample;
};

// `accord evidence PATH -d DB -o FILE`: scan PATH with DB as `accord scan -d DB` would, then write
// the bundle of its cited detections.
int MakeEvidenceFile(const EvidenceArgs& a) {
  if (!fs::IsDir(a.db))
    return Fail(a.db, FailedPrecondition(
                          "not a database directory of `accord update` (its DB/log proves the entries)"));
  Result<scan::LoadedSignatures> loaded =
      scan::LoadSignatures({{update::ScanDatabasePath(a.db)}, {}, {}, {}});
  if (!loaded.ok()) return Fail(a.db, loaded.status());
  std::string trusted;
  if (!a.policy.empty()) {
    Result<Bytes> text = fs::ReadFile(a.policy, limits::kMaxPolicySize);
    if (!text.ok()) return Fail(a.policy, text.status());
    trusted = std::move(text).value();
  }
  std::shared_ptr<const scan::Database> db = loaded->databases.at(0);
  Result<std::string> verified = CheckVerifiedDatabase(*db, trusted);
  if (!verified.ok()) return Fail(a.db, verified.status());
  scan::Engine engine(loaded->databases, loaded->rules, scan::ScanOptions{});
  scan::Engine::WorkerPtr worker = engine.NewWorker();
  scan::FileReport report = engine.ScanFile(*worker, a.path);
  if (!report.error.empty()) return Fail(a.path, Unavailable(report.error));
  Result<update::Evidence> evidence =
      update::MakeEvidence(report, *db, update::MirrorDir(a.db), std::time(nullptr));
  if (!evidence.ok()) return Fail(a.path, evidence.status());
  Result<std::string> text = update::FormatEvidence(*evidence);
  if (!text.ok()) return Fail(a.path, text.status());
  if (a.out == "-") {
    std::fwrite(text->data(), 1, text->size(), stdout);
  } else if (Status w = fs::WriteFileAtomic(a.out, *text); !w.ok()) {
    return Fail(a.out, w);
  }
  std::fprintf(stderr, "%s: %zu detection%s from the log, %zu entries proven against %s\n",
               scan::EscapePath(a.path).c_str(), evidence->detections.size(),
               evidence->detections.size() == 1 ? "" : "s", evidence->entries.size(), verified->c_str());
  if (a.out != "-")
    std::fprintf(stderr,
                 "evidence written to %s; anyone can check it offline: accord evidence verify %s --policy "
                 "POLICY [--file %s]\n",
                 a.out.c_str(), a.out.c_str(), scan::EscapePath(a.path).c_str());
  return 0;
}

int VerifyEvidenceFile(const EvidenceArgs& a) {
  Result<Bytes> text = fs::ReadFile(a.bundle, limits::kMaxEvidenceSize);
  if (!text.ok()) return Fail(a.bundle, text.status());
  Result<update::Evidence> evidence = update::ParseEvidence(*text);
  if (!evidence.ok()) return Fail(a.bundle + ": NOT VERIFIED", evidence.status());
  Result<Bytes> policy_text = fs::ReadFile(a.policy, limits::kMaxPolicySize);
  if (!policy_text.ok()) return Fail(a.policy, policy_text.status());
  Result<tlog::Policy> policy = tlog::ParsePolicy(*policy_text);
  if (!policy.ok()) return Fail(a.policy, policy.status());
  std::optional<std::string> sample;
  if (!a.sample.empty()) sample = a.sample;
  Result<update::EvidenceReport> r = update::VerifyEvidence(*evidence, *policy, sample);
  if (!r.ok()) return Fail(a.bundle + ": NOT VERIFIED", r.status());
  const update::Evidence& e = *evidence;
  using update::Displayable;
  // Without the file, what is verified is the log's side: the statements, their proofs, and that
  // they say what the detections claim; that the file is the one scanned is the maker's word.
  if (r->sample_checked)
    std::printf("%s: verified\n", a.bundle.c_str());
  else
    std::printf("%s: verified: the statements and their proofs (the file itself was not checked)\n",
                a.bundle.c_str());
  std::printf("  file       %s  %llu bytes  sha256 %s\n", e.file_path.c_str(),
              (unsigned long long)e.file_size, e.file_sha256.c_str());
  if (r->sample_checked)
    std::printf(
        "  sample     the file given (%s) is this file, and scanning it with the bundle's statements "
        "alone finds every detection again\n",
        scan::EscapePath(a.sample).c_str());
  else
    std::printf(
        "  sample     not checked: that this file has these detections is the bundle maker's claim "
        "(give the file with --file to check it and scan it again)\n");
  std::printf("  log        %s, checkpoint %llu, root %s\n", Displayable(r->origin).c_str(),
              (unsigned long long)r->checkpoint_size, r->root_hash.c_str());
  std::string cosigned;
  for (const auto& [name, ts] : r->cosigned)
    cosigned +=
        (cosigned.empty() ? "" : ", ") + Displayable(name) + " at " + statement::FormatCreated(int64_t(ts));
  std::printf("  cosigned   %s\n",
              cosigned.empty() ? "by no witness (your policy's quorum is none)" : cosigned.c_str());
  for (const update::VerifiedDetection& v : r->detections) {
    const update::EvidenceDetection& d = v.detection;
    std::printf("  %s: %s (%s)%s\n", d.path.c_str(), Displayable(d.signature).c_str(), d.kind.c_str(),
                v.reproduced ? ", found again in the sample" : "");
    const std::string who = Displayable(v.author_name) +
                            (v.author_country.empty() ? "" : " (" + Displayable(v.author_country) + ")");
    std::printf("    entry %llu, in the log; %s the key %s, registered at entry %llu as %s; created %s\n",
                (unsigned long long)d.entry,
                v.attested ? "NODE-ATTESTED (signed by the log's node, not by the author) for" : "signed by",
                v.author_key.c_str(), (unsigned long long)v.registration, who.c_str(),
                Displayable(v.statement_created).c_str());
  }
  std::printf(
      "  not proven offline: that no later statement retracted these (that takes the whole log; "
      "`accord update` checks it); names and countries are what the key registered, not vetted\n");
  return 0;
}

}  // namespace

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
  m->add_option("--timeout", args->timeout,
                "HTTP timeout in seconds: for each request, from connecting to its answer's last byte")
      ->check(CLI::Range(1, 3600));
  m->add_option("--max-age", args->max_age,
                "refuse a checkpoint unless a quorum cosigned it within this long (e.g. 3600, 90m, 12h, 7d)");
  m->callback([args, &rc] { rc = RunMirror(*args); });

  auto* u = app.add_subcommand("update", "build a scan database from a verified, witnessed log");
  u->add_option("--policy", args->policy, "C2SP tlog-policy: the log's key, witnesses and quorum")
      ->required();
  u->add_option("--from", args->from, "the log's URL or a mirror directory; default: the policy's log URL");
  u->add_option("-d,--database", args->to, "the database directory (DB/log: the mirror, DB/scan.accdb)")
      ->required();
  u->add_option("--ca-cert", args->ca_cert, "HTTPS: trust this CA file");
  u->add_option("--timeout", args->timeout,
                "HTTP timeout in seconds: for each request, from connecting to its answer's last byte")
      ->check(CLI::Range(1, 3600));
  u->add_option("--max-age", args->max_age,
                "refuse a checkpoint unless a quorum cosigned it within this long (e.g. 3600, 90m, 12h, 7d)");
  u->add_flag("--trust-attested", args->trust_attested,
              "load node-attested statements too (TAXII POSTs the log's node signed for their authors)");
  u->callback([args, &rc] { rc = RunUpdate(*args); });

  auto ev = std::make_shared<EvidenceArgs>();
  auto* e =
      app.add_subcommand("evidence", "write the proof of a file's detections, for anyone to check offline");
  e->add_option("PATH", ev->path, "the file whose detections to prove");
  e->add_option("-d,--database", ev->db, "the database directory of `accord update`");
  e->add_option("-o,--output", ev->out, "the evidence bundle to write (- for standard output)");
  e->add_option("--policy", ev->policy, "require the database to be verified against this policy");
  auto* v = e->add_subcommand("verify", "check an evidence bundle offline against your policy");
  v->add_option("BUNDLE", ev->bundle, "the evidence bundle")->required();
  v->add_option("--policy", ev->policy, "C2SP tlog-policy: the log's key, witnesses and quorum you trust")
      ->required();
  v->add_option("--file", ev->sample, "the file itself: check it is the one, and find the detections again");
  v->callback([ev, &rc] { rc = VerifyEvidenceFile(*ev); });
  e->callback([v, ev, &rc] {
    if (v->parsed()) return;
    if (ev->path.empty() || ev->db.empty() || ev->out.empty()) {
      std::fprintf(
          stderr,
          "accord: evidence needs PATH, -d DB and -o FILE (or: accord evidence verify BUNDLE --policy P)\n");
      rc = kExitError;
      return;
    }
    rc = MakeEvidenceFile(*ev);
  });
}

}  // namespace accord::cli
