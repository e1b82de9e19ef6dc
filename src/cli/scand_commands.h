// `accord scand`: argument parsing, signals and the signature loader; the daemon is src/scand.
#pragma once

#include <CLI/CLI.hpp>

namespace accord::cli {

// Registers the subcommand; it sets `rc` (0 after a clean shutdown, 2 on an error) when it returns.
void AddScandCommand(CLI::App& app, int& rc);

}  // namespace accord::cli
