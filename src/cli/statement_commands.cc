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

int StatementVerify(const std::string& path) {
  // Read one byte past the limit so that Parse reports the size (ResourceExhausted).
  auto bytes = fs::ReadFile(path, limits::kMaxJsonSize);
  if (!bytes.ok()) return Refuse(path, bytes.status());
  Bytes b = std::move(bytes).value();
  if (!b.empty() && b.back() == '\n') b.pop_back();  // as `sign` prints it
  auto st = statement::Parse(b);
  if (!st.ok()) return Refuse(path, st.status());
  std::printf("kind: %s\nauthor: %s\ncreated: %s\nOK\n",
              std::string(statement::KindName(st->statement.kind)).c_str(),
              Base64Encode(ByteView(reinterpret_cast<const char*>(st->statement.author.data()), 32)).c_str(),
              st->statement.created.c_str());
  return 0;
}

}  // namespace

void AddStatementCommands(CLI::App& app, int& rc) {
  auto* cmd =
      app.add_subcommand("statement", "signed statements of the exchange log (docs/statement-format.md)")
          ->require_subcommand(1);
  static std::string key, kind, body, created, file;
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
  verify->callback([&rc] { rc = StatementVerify(file); });
}

}  // namespace accord::cli
