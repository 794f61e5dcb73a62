// Process-wide thread count of the CPU kernels (oneDNN runs on OpenMP).
#include <omp.h>

#include <algorithm>

#include "kiln/kiln.h"

namespace kiln {

int set_cpu_threads(int threads) {
  int previous = omp_get_max_threads();
  omp_set_num_threads(std::max(1, threads));
  return previous;
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace kiln
