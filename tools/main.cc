// kiln — turn an ONNX model into an inference engine and run it.
#include <CLI/CLI.hpp>

#include "core/logging.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: import, run and inspect ONNX models"};
  app.require_subcommand(1);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Print informational messages");
  app.add_flag("-q,--quiet", quiet, "Print errors only");
  int exit_code = 0;
  kiln::tools::add_run_command(app, exit_code);
  kiln::tools::add_build_command(app, exit_code);
  kiln::tools::add_inspect_command(app, exit_code);
  kiln::tools::add_compare_command(app, exit_code);
  kiln::tools::add_bench_command(app, exit_code);
  app.parse_complete_callback([&] {
    if (verbose) kiln::set_log_level(kiln::LogLevel::kInfo);
    if (quiet) kiln::set_log_level(kiln::LogLevel::kError);
  });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
