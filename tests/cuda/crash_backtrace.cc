// The lent GPU machine has no debugger: a crash in cuda_tests prints the call stack (raw return addresses,
// turned into lines on the build machine with `addr2line -f -C -e build-cuda/tests/cuda_tests <offset>`) and
// the binary's load address, then dies of the same signal.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <initializer_list>

namespace {

void print_stack_and_die(int sig) {
  void* frames[64];
  const int n = backtrace(frames, 64);
  const char header[] = "\n*** cuda_tests: fatal signal; call stack (offsets in the binary after '+'):\n";
  (void)!write(STDERR_FILENO, header, sizeof(header) - 1);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Installed before main (a static initializer) so every test binary linking this file gets it.
const bool installed = [] {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, print_stack_and_die);
  return true;
}();

}  // namespace
