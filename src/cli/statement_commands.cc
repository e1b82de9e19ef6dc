#include "cli/statement_commands.h"

#include <cstdio>
#include <ctime>

#include "core/canonical_json.h"
#include "core/fs.h"
#include "core/limits.h"
#include "crypto/note.h"
#include "statement/statement.h"

namespace accord::cli {
namespace {

constexpr int kExitRefused = 2;

int Refuse(const std::string& what, const Status& s) {
  std::fprintf(stderr, "accord: %s: %s\n", what.c_str(), s.ToString().c_str());
  return kExitRefused;
}

int StatementSign(const std::string& key_path, const std::string& kind_name, const std::string& body_path,
                  const std::string& created) {
  auto key_text = fs::ReadFile(key_path, limits::kMaxKeyFileSize);
  if (!key_text.ok()) return Refuse(key_path, key_text.status());
  auto signer = note::ParseSignerKey(*key_text);
  if (!signer.ok()) return Refuse(key_path, signer.status());
  if (signer->type != note::KeyType::kEd25519)
    return Refuse(key_path, InvalidArgument("a statement is signed with an Ed25519 (type 1) key"));
  std::optional<statement::Kind> kind = statement::KindFromName(kind_name);
  if (!kind) return Refuse("--kind", InvalidArgument("unknown kind \"" + kind_name + "\""));
  auto body_text = fs::ReadFile(body_path, limits::kMaxJsonSize);
  if (!body_text.ok()) return Refuse(body_path, body_text.status());
  auto body = json::Parse(*body_text);
  if (!body.ok()) return Refuse(body_path, body.status());
  statement::Statement s;
  s.kind = *kind;
  s.author = signer->key.public_key;
  s.created = created.empty() ? statement::FormatCreated(int64_t(std::time(nullptr))) : created;
  s.body = std::move(body).value();
  auto out = statement::Sign(s, signer->key);
  if (!out.ok()) return Refuse(body_path, out.status());
  std::printf("%s\n", out->c_str());
  return 0;
}

int StatementVerify(const std::string& path, const std::string& log_key_path) {
  // Read one byte past the limit so that Parse reports the size (ResourceExhausted).
  auto bytes = fs::ReadFile(path, limits::kMaxJsonSize);
  if (!bytes.ok()) return Refuse(path, bytes.status());
  Bytes b = std::move(bytes).value();
  if (!b.empty() && b.back() == '\n') b.pop_back();  // as `sign` prints it
  auto st = statement::Parse(b);
  if (!st.ok()) return Refuse(path, st.status());
  std::printf("kind: %s\nauthor: %s\ncreated: %s\n",
              std::string(statement::KindName(st->statement.kind)).c_str(),
              Base64Encode(ByteView(reinterpret_cast<const char*>(st->statement.author.data()), 32)).c_str(),
              st->statement.created.c_str());
  if (st->attested_by) {
    // Parse checked the attestation against the key it names; only the log's key makes it count.
    const std::string attester =
        Base64Encode(ByteView(reinterpret_cast<const char*>(st->attested_by->data()), 32));
    std::printf("NODE-ATTESTED by %s: signed by a node on the author's behalf, not by the author\n",
                attester.c_str());
    if (log_key_path.empty())
      return Refuse(path,
                    FailedPrecondition("node-attested, and no --log-key to check the attesting key against"));
    auto text = fs::ReadFile(log_key_path, limits::kMaxKeyFileSize);
    if (!text.ok()) return Refuse(log_key_path, text.status());
    std::string_view vkey = *text;
    while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) vkey.remove_suffix(1);
    auto key = note::ParseVerifierKey(vkey);
    if (!key.ok()) return Refuse(log_key_path, key.status());
    if (key->public_key != *st->attested_by)
      return Refuse(path, PermissionDenied("attested by a key that is not the log's (" + log_key_path + ")"));
    std::printf("attester: the log's key (%s)\n", key->name.c_str());
  }
  std::printf("OK\n");
  return 0;
}

}  // namespace

void AddStatementCommands(CLI::App& app, int& rc) {
  auto* cmd =
      app.add_subcommand("statement", "signed statements of the exchange log (docs/statement-format.md)")
          ->require_subcommand(1);
  static std::string key, kind, body, created, file, log_key;
  auto* sign = cmd->add_subcommand("sign", "sign a statement body and print the signed statement");
  sign->add_option("--key", key, "the author's private key (accord key generate)")->required();
  sign->add_option(
          "--kind", kind,
          "registration, yara-rule, hash-set, tlsh-set, indicator, retraction, audit-finding, release")
      ->required();
  sign->add_option("--body", body, "the body as JSON")->required();
  sign->add_option("--created", created, "RFC 3339 UTC time (default: now), e.g. 2026-11-28T10:00:00Z");
  sign->callback([&rc] { rc = StatementSign(key, kind, body, created); });
  auto* verify = cmd->add_subcommand("verify", "check a signed statement: print its kind and author, and OK");
  verify->add_option("FILE", file)->required();
  verify->add_option(
      "--log-key", log_key,
      "the log's verifier key: a node-attested statement verifies only if that key attested it");
  verify->callback([&rc] { rc = StatementVerify(file, log_key); });
}

}  // namespace accord::cli
