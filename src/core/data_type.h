// DataType is part of the public API; see include/kiln/data_type.h.
#pragma once

#include "kiln/data_type.h"
