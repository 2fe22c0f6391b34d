#pragma once
// Dimensionality reduction of one teacher matrix to a student's shape (METHOD.md step 5):
// from the sensitivity scores S [R, C] of a teacher matrix, choose which teacher rows and
// columns make up the student's [r, c] matrix (r <= R, c <= C).
//
// Structures (paper Fig. 4c):
//   Submatrix  the contiguous window [row, row+r) x [col, col+c) with the largest total
//              score (the method's default);
//   RowCol     the r rows with the highest mean score over columns and the c columns
//              with the highest mean score over rows, each kept in ascending order;
//   Neuron     the r output neurons (rows) with the highest total score; columns as RowCol;
//   Random     seeded random rows and columns, the same on every platform.
// Embedding and lm_head [vocab, d_T] -> [vocab, d_S] are the r == R case: only columns
// are reduced.
//
// Scores may be float32, float16, bfloat16 or float64 (integer scores are accepted too)
// on any device; everything is computed on the CPU with float64 accumulation.

#include <ATen/ATen.h>

#include "transfer/RecipeChoices.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nugget {

// ReductionStructure, parseReductionStructure and reductionStructureName:
// transfer/RecipeChoices.h

struct SubmatrixWindow
{
    int64_t row = 0, col = 0;     // top-left corner in the teacher matrix
    int64_t rows = 0, cols = 0;   // the student's shape
    double total = 0;             // total score inside the window (float64)
};

struct ReducedIndices
{
    std::vector<int64_t> rows, cols;        // ascending, unique teacher indices kept
    std::optional<SubmatrixWindow> window;  // set for Submatrix
};

// The window of shape [rows, cols] with the largest total score, in O(R*C) time with
// float64 sums, using the intra-op threads. Ties: the first maximum when scanning the
// windows' bottom-right corners row by row, left to right, i.e. the smallest row, then
// the smallest column. Totals are exact for small-integer scores, so constructed ties
// are honoured exactly; on real-valued data they can differ from the reference's in the
// last bits (different summation order).
SubmatrixWindow findBestWindow(const at::Tensor &scores, int64_t rows, int64_t cols);

// The reference implementation's algorithm, slow on purpose (tests and benchmark only):
// the float64 summed-area table, then a window-by-window loop over bottom-right corners
// with a strict '>' comparison.
SubmatrixWindow referenceWindowScan(const at::Tensor &scores, int64_t rows, int64_t cols);

// Float64 summed-area table of a 2-D score matrix, [R+1, C+1] with a zero first row and
// column: table[i][j] = sum of scores[0:i, 0:j]. Built with torch cumsum on the CPU.
at::Tensor summedAreaTable(const at::Tensor &scores);

// The scan half of referenceWindowScan over an already built summed-area table.
SubmatrixWindow referenceScanTable(const at::Tensor &table, int64_t rows, int64_t cols);

// Teacher rows and columns to keep for a student matrix of shape [rows, cols].
// `seed` is used by Random only.
ReducedIndices reduceIndices(const at::Tensor &scores, int64_t rows, int64_t cols, ReductionStructure structure,
                             uint64_t seed = 0);

// weight[indices.rows][:, indices.cols] as a new tensor with weight's dtype and device
// (a copy even when everything is kept).
at::Tensor gatherReduced(const at::Tensor &weight, const ReducedIndices &indices);

} // namespace nugget
