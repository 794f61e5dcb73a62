// Op definitions of kiln's own fused ops (domain "kiln"), produced by the fusion passes.
#include "ir/op_def.h"

namespace kiln {

namespace {
const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> fused_op_defs() { return defs(); }

}  // namespace kiln
