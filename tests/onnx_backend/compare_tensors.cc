#include "tests/onnx_backend/compare_tensors.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln {

std::string compare_tensors(const Tensor& expected, const Tensor& actual, double rtol, double atol) {
  if (expected.dtype() != actual.dtype())
    return fmt::format("dtype differs: expected {}, got {}", expected.type_string(), actual.type_string());
  if (expected.dims() != actual.dims())
    return fmt::format("shape differs: expected {}, got {}", expected.type_string(), actual.type_string());
  int64_t bad = 0, first = -1;
  std::string first_msg;
  if (expected.dtype() == DataType::kString) {
    for (int64_t i = 0; i < expected.size(); ++i)
      if (expected.data<std::string>()[i] != actual.data<std::string>()[i] && bad++ == 0)
        first_msg = fmt::format("at {}: expected '{}', got '{}'", i, expected.data<std::string>()[i],
                                actual.data<std::string>()[i]);
  } else if (is_float(expected.dtype())) {
    for (int64_t i = 0; i < expected.size(); ++i) {
      double e = expected.element_as_double(i), a = actual.element_as_double(i);
      bool ok;
      if (std::isnan(e) || std::isnan(a)) ok = std::isnan(e) && std::isnan(a);
      else if (std::isinf(e) || std::isinf(a)) ok = e == a;
      else ok = std::fabs(a - e) <= atol + rtol * std::fabs(e);
      if (!ok && bad++ == 0) {
        first = i;
        first_msg = fmt::format("at {}: expected {:.9g}, got {:.9g}", i, e, a);
      }
    }
  } else {
    for (int64_t i = 0; i < expected.size(); ++i)
      if (expected.element_as_int64(i) != actual.element_as_int64(i) && bad++ == 0)
        first_msg = fmt::format("at {}: expected {}, got {}", i, expected.element_as_int64(i),
                                actual.element_as_int64(i));
  }
  (void)first;
  if (bad == 0) return "";
  return fmt::format("{} of {} elements differ; first {}", bad, expected.size(), first_msg);
}

}  // namespace kiln
