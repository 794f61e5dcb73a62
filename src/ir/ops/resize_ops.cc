// Op definitions of the resize family (see op_families.inc).
#include "ir/op_def.h"

namespace kiln {

namespace {
const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> resize_op_defs() { return defs(); }

}  // namespace kiln
