// `accord db ...` and `accord scan ...`: argument parsing and output only; the work is in
// src/scan.
#pragma once

#include <CLI/CLI.hpp>

namespace accord::cli {

// Registers the subcommands; each sets `rc` (0 clean, 1 found, 2 error) when it runs.
void AddScanCommands(CLI::App& app, int& rc);

}  // namespace accord::cli
