// Op definitions of the elementwise family (see op_families.inc).
#include "ir/op_def.h"

namespace kiln {

namespace {
const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "Relu", .min_inputs = 1, .max_inputs = 1, .infer = infer_same_as_input0},
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> elementwise_op_defs() { return defs(); }

}  // namespace kiln
