#include "tunekit/train/batch.h"

#include <cstddef>

namespace tunekit {

double Batch::weight_sum() const {
  double sum = 0;
  for (int64_t i = 0; i < size(); ++i)
    if (targets[std::size_t(i)] >= 0) sum += weights[std::size_t(i)];
  return sum;
}

}  // namespace tunekit
