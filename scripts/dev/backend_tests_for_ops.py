#!/usr/bin/python3
"""Lists the official ONNX backend tests that use given ops (developer aid).

  /usr/bin/python3 scripts/dev/backend_tests_for_ops.py Conv MaxPool      # tests using any of these ops
  /usr/bin/python3 scripts/dev/backend_tests_for_ops.py --regex Conv MaxPool   # same, as a --filter regex
Needs Debian's python3-onnx and libonnx-testdata.
"""
import os
import sys

import onnx

BASE = "/usr/share/libonnx-testdata/data"
args = sys.argv[1:]
as_regex = "--regex" in args
ops = {a for a in args if not a.startswith("--")}
names = []
for suite in ["node", "pytorch-converted", "pytorch-operator", "simple"]:
    for test in sorted(os.listdir(f"{BASE}/{suite}")):
        model = onnx.load(f"{BASE}/{suite}/{test}/model.onnx", load_external_data=False)
        used = {n.op_type for n in model.graph.node}
        if used & ops:
            names.append(test)
            if not as_regex:
                print(f"{suite}/{test}: {' '.join(sorted(used))}")
if as_regex:
    print("^(" + "|".join(names) + ")$")
