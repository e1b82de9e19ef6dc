// `accord statement sign|verify`: argument parsing and output only; the work is in
// src/statement (docs/statement-format.md).
#pragma once

#include <CLI/CLI.hpp>

namespace accord::cli {

// Registers the subcommands; each sets `rc` (0 OK, 2 refused or error) when it runs.
void AddStatementCommands(CLI::App& app, int& rc);

}  // namespace accord::cli
