// Ground-truth labels for `kiln compare --labels`, in the order the evaluation data yields its samples.
//
// Accepted forms (docs: README "kiln compare"):
//   - an MNIST/Fashion-MNIST IDX label file (t10k-labels-idx1-ubyte, optionally .gz), paired with the IDX
//     image file given as --data: label i belongs to image i;
//   - for a folder of images: a text/CSV file, one image per line, `relative/path.jpg,INDEX` or
//     `relative/path.jpg NAME` (path relative to the data folder; comma or whitespace before the label);
//   - for any other data (.npy, IDX images): a text file with one label per line, in sample order.
// A label is a class index (0-based) or a class name looked up in --class-names (one name per line, line k
// is class k, e.g. the model's labels.txt). Blank lines and lines starting with '#' are skipped.
// Every sample must have exactly one label: a count that differs from the data is an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

/// Loads the labels of `data_path`, which holds `data_count` samples. `class_names_path` may be empty.
Result<std::vector<int64_t>> load_labels(const std::string& labels_path, const std::string& data_path,
                                         int64_t data_count, const std::string& class_names_path = "");

/// Reads a class-names file: one name per line (trailing whitespace trimmed; blank lines kept as "").
Result<std::vector<std::string>> read_class_names(const std::string& path);

}  // namespace kiln
