// Op definitions of the resize family (see op_families.inc): Resize, Upsample, GridSample, RoiAlign.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/resize_geometry.h"

namespace kiln {

namespace {

Shape unknown_of_rank(size_t rank) { return Shape(std::vector<Dim>(rank)); }

// Resize and Upsample: same rank as X; exact extents when the scales/sizes operands are constants.
Status infer_resize(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const DataType dtype = ctx.input_dtype(0);
  if (!x.has_rank()) {
    ctx.set_output(0, dtype, Shape());
    return {};
  }
  // Any shape operand that is given but not constant makes the extents value-dependent.
  const Tensor* operands[4] = {nullptr, nullptr, nullptr, nullptr};
  for (size_t i = 1; i < 4 && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    operands[i] = ctx.input_value(i);
    const bool needed = ctx.node().op_type == "Upsample" || ctx.opset() < 11 || i >= 2;
    if (needed && !operands[i]) {
      // Only sizes/scales matter; an empty constant is "absent", an unknown one could be either.
      ctx.set_output(0, dtype, unknown_of_rank(x.rank()));
      return {};
    }
  }
  std::vector<int64_t> in;
  for (const Dim& d : x.dims()) in.push_back(d.known() ? d.value : -1);
  auto request = resize::read_request(ctx.node(), in, operands[1], operands[2], operands[3]);
  if (!request.ok()) return ctx.error(request.status().message());
  auto geometry = resize::compute_geometry(*request);
  if (!geometry.ok()) return ctx.error(geometry.status().message());
  std::vector<Dim> dims;
  for (size_t i = 0; i < x.rank(); ++i) {
    const int64_t o = geometry->out[i];
    // Axes that are not resized keep the input's Dim (symbol included).
    dims.push_back(o >= 0 ? Dim(o) : (geometry->scales[i] == 1.0 ? x[i] : Dim()));
  }
  ctx.set_output(0, dtype, Shape(dims));
  return {};
}

// GridSample: [N, C, grid spatial extents...] (grid is [N, spatial..., r]).
Status infer_grid_sample(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Shape& grid = ctx.input_shape(1);
  if (x.has_rank() && x.rank() < 3)
    return ctx.error(fmt::format("X must have rank >= 3 (N, C, spatial...), got {}", x.to_string()));
  if (x.has_rank() && grid.has_rank() && grid.rank() != x.rank())
    return ctx.error(fmt::format("grid {} must have X's rank {} ({})", grid.to_string(), x.rank(), x.to_string()));
  if (grid.has_rank() && grid.rank() >= 1 && grid[grid.rank() - 1].known() && x.has_rank() &&
      grid[grid.rank() - 1].value != static_cast<int64_t>(x.rank()) - 2)
    return ctx.error(fmt::format("grid {} must end with {} coordinates", grid.to_string(), x.rank() - 2));
  const size_t rank = x.has_rank() ? x.rank() : grid.rank();
  if (!x.has_rank() && !grid.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  std::vector<Dim> dims(rank);
  if (x.has_rank()) dims[1] = x[1];
  if (grid.has_rank()) {
    dims[0] = grid[0];
    for (size_t i = 1; i + 1 < grid.rank(); ++i) dims[i + 1] = grid[i];
  }
  if (!dims[0].known() && x.has_rank()) dims[0] = x[0];
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

// RoiAlign: [num_rois, C, output_height, output_width].
Status infer_roi_align(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Shape& rois = ctx.input_shape(1);
  const Shape& idx = ctx.input_shape(2);
  if (x.has_rank() && x.rank() != 4) return ctx.error(fmt::format("X must be 4-D, got {}", x.to_string()));
  if (rois.has_rank() && rois.rank() != 2) return ctx.error(fmt::format("rois must be 2-D, got {}", rois.to_string()));
  if (idx.has_rank() && idx.rank() != 1)
    return ctx.error(fmt::format("batch_indices must be 1-D, got {}", idx.to_string()));
  const int64_t oh = ctx.node().attr_int("output_height", 1);
  const int64_t ow = ctx.node().attr_int("output_width", 1);
  if (oh < 1 || ow < 1) return ctx.error(fmt::format("output_height/width must be >= 1, got {}x{}", oh, ow));
  Dim n = rois.has_rank() ? rois[0] : Dim();
  if (!n.known() && idx.has_rank()) n = idx[0];
  Dim c = x.has_rank() ? x[1] : Dim();
  ctx.set_output(0, ctx.input_dtype(0), Shape({n, c, Dim(oh), Dim(ow)}));
  return {};
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      // coordinate_transformation_mode: half_pixel from opset 11 (Resize-10 has no such attribute).
      {.op_type = "Resize", .min_inputs = 1, .max_inputs = 4,
       .attrs = {attr_int("antialias", 0), attr_ints("axes"), attr_string("coordinate_transformation_mode"),
                 attr_float("cubic_coeff_a", -0.75f), attr_int("exclude_outside", 0),
                 attr_float("extrapolation_value", 0.0f), attr_string("keep_aspect_ratio_policy", "stretch"),
                 attr_string("mode", "nearest"), attr_string("nearest_mode", "round_prefer_floor")},
       .infer = infer_resize, .since_opset = 10},
      {.op_type = "Upsample", .min_inputs = 1, .max_inputs = 2,
       .attrs = {attr_string("mode", "nearest"), attr_floats("scales"), attr_float("height_scale"),
                 attr_float("width_scale")},
       .infer = infer_resize},
      // mode: bilinear/nearest/bicubic in opset 16, linear/nearest/cubic from opset 20.
      {.op_type = "GridSample", .min_inputs = 2, .max_inputs = 2,
       .attrs = {attr_int("align_corners", 0), attr_string("mode"), attr_string("padding_mode", "zeros")},
       .infer = infer_grid_sample, .since_opset = 16},
      // coordinate_transformation_mode: half_pixel from opset 16; opset 10 behaves as output_half_pixel.
      {.op_type = "RoiAlign", .min_inputs = 3, .max_inputs = 3,
       .attrs = {attr_string("coordinate_transformation_mode"), attr_string("mode", "avg"),
                 attr_int("output_height", 1), attr_int("output_width", 1), attr_int("sampling_ratio", 0),
                 attr_float("spatial_scale", 1.0f)},
       .infer = infer_roi_align, .since_opset = 10},
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> resize_op_defs() { return defs(); }

}  // namespace kiln
