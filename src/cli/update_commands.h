// `accord mirror` and `accord update`: the client side of the log's read path (src/update).
// Argument parsing and output only.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/status.h"
#include "scan/database.h"

namespace accord::cli {

// Registers the subcommands; each sets `rc` (0 OK, 2 error) when it runs.
void AddUpdateCommands(CLI::App& app, int& rc);

// What `accord scan` requires of a database before it trusts it: a provenance section whose
// checkpoint its recorded policy accepts (signed by the log, cosigned by a quorum), and, when the
// user names the policy they trust (`trusted_policy`, the text of a policy file; empty: none),
// that the recorded policy is that one. Returns a one-line description ("log ORIGIN, checkpoint
// N, cosigned by A, B") or why the database is not verified.
Result<std::string> CheckVerifiedDatabase(const scan::Database& db, std::string_view trusted_policy = {});

}  // namespace accord::cli
