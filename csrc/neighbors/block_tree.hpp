// A kd partition of rows into leaves of at most leaf_size rows, with the bounding box of every
// node, for the radius search: a leaf of queries visits the training nodes whose box is within
// reach of its own box. Splits at the median of the widest feature (deterministic: the same rows
// give the same tree). Training trees also keep their rows in leaf order, each leaf stored
// feature-major, so that one query against one leaf is a loop over contiguous columns.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "fastml/radius.hpp"

namespace fastml::radius {

struct TreeNode {
  index_t begin, end;   // its rows: rows[begin:end]
  index_t left, right;  // children, -1 for a leaf
};

template <class T>
class BlockTree {
 public:
  // IN X; IN subset: the rows to partition (all of them when null); IN pack: keep the rows.
  BlockTree(Rows<T> X, const std::vector<index_t>* subset, index_t leaf_size, bool pack)
      : d_(X.d) {
    if (subset) {
      rows_ = *subset;
    } else {
      rows_.resize(static_cast<std::size_t>(X.n));
      for (index_t i = 0; i < X.n; ++i) rows_[i] = i;
    }
    if (rows_.empty()) return;
    nodes_.reserve(2 * (rows_.size() / std::max<index_t>(leaf_size / 2, 1)) + 1);
    build(X, leaf_size);
    if (pack) pack_leaves(X);
  }

  index_t dim() const { return d_; }
  const std::vector<index_t>& rows() const { return rows_; }
  const std::vector<TreeNode>& nodes() const { return nodes_; }
  const std::vector<index_t>& leaves() const { return leaves_; }
  const double* lo(index_t node) const { return &lo_[node * d_]; }
  const double* hi(index_t node) const { return &hi_[node * d_]; }
  // A leaf's rows, feature-major: feature f of its j-th row at packed(node)[f * size + j].
  const T* packed(index_t node) const { return &packed_[nodes_[node].begin * d_]; }
  index_t max_leaf_rows() const { return max_leaf_; }

 private:
  index_t d_;
  std::vector<index_t> rows_;
  std::vector<TreeNode> nodes_;
  std::vector<double> lo_, hi_;
  std::vector<index_t> leaves_;
  std::vector<T> packed_;
  index_t max_leaf_ = 0;

  index_t add_node(Rows<T> X, index_t begin, index_t end) {
    const index_t id = static_cast<index_t>(nodes_.size());
    nodes_.push_back({begin, end, -1, -1});
    lo_.resize(lo_.size() + d_);
    hi_.resize(hi_.size() + d_);
    double* lo = &lo_[id * d_];
    double* hi = &hi_[id * d_];
    const T* first = X.data + rows_[begin] * d_;
    for (index_t f = 0; f < d_; ++f) lo[f] = hi[f] = static_cast<double>(first[f]);
    for (index_t r = begin + 1; r < end; ++r) {
      const T* x = X.data + rows_[r] * d_;
      for (index_t f = 0; f < d_; ++f) {
        const double v = static_cast<double>(x[f]);
        lo[f] = std::min(lo[f], v);
        hi[f] = std::max(hi[f], v);
      }
    }
    return id;
  }

  void build(Rows<T> X, index_t leaf_size) {
    add_node(X, 0, static_cast<index_t>(rows_.size()));
    // nodes are appended as they are split: a plain loop over the growing list
    for (index_t id = 0; id < static_cast<index_t>(nodes_.size()); ++id) {
      const index_t begin = nodes_[id].begin, end = nodes_[id].end;
      const double* lo = &lo_[id * d_];
      const double* hi = &hi_[id * d_];
      index_t split = 0;
      for (index_t f = 1; f < d_; ++f)
        if (hi[f] - lo[f] > hi[split] - lo[split]) split = f;
      if (end - begin <= leaf_size || !(hi[split] > lo[split])) {
        leaves_.push_back(id);
        max_leaf_ = std::max(max_leaf_, end - begin);
        continue;
      }
      const index_t mid = begin + (end - begin) / 2;
      const T* data = X.data;
      const index_t d = d_;
      std::nth_element(rows_.begin() + begin, rows_.begin() + mid, rows_.begin() + end,
                       [=](index_t a, index_t b) {
                         const T va = data[a * d + split], vb = data[b * d + split];
                         return va < vb || (va == vb && a < b);
                       });
      const index_t left = add_node(X, begin, mid);
      const index_t right = add_node(X, mid, end);
      nodes_[id].left = left;
      nodes_[id].right = right;
    }
  }

  void pack_leaves(Rows<T> X) {
    packed_.resize(rows_.size() * d_);
    for (index_t leaf : leaves_) {
      const index_t begin = nodes_[leaf].begin, size = nodes_[leaf].end - begin;
      T* out = &packed_[begin * d_];
      for (index_t j = 0; j < size; ++j) {
        const T* x = X.data + rows_[begin + j] * d_;
        for (index_t f = 0; f < d_; ++f) out[f * size + j] = x[f];
      }
    }
  }
};

}  // namespace fastml::radius
