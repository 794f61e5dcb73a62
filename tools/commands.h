// Subcommands of the `kiln` tool. Each registers its options on the CLI11 app and returns the exit code
// through the callback it installs.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "kiln/status.h"

namespace kiln::tools {

void add_run_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_build_command(CLI::App& app, int& exit_code);
void add_compare_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

/// Prints an engine file's summary (used by `kiln inspect` for .kiln files).
Status inspect_engine(const std::string& path, bool json, bool full);

}  // namespace kiln::tools
