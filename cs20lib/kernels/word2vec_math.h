// word2vec_math.h: the arithmetic of the word2vec ops (word2vec_op.cc), apart from TensorFlow, so that it can
// be read, tested and timed on its own. See the top of word2vec_op.cc for the equations.
//
// A row is one output word, its noise words and its input words (Ji et al. 2016: the noise words of a row
// are shared by its pairs). A row is trained either pair by pair (PairsOfRow: each pair's steps applied at
// once, in column order, as the word2vec C tool does) or all its pairs together (RowTogether: HogBatch,
// every step from the row's start values). Two drivers feed rows to them: TrainRows takes rows that were
// made outside (ids and noise words as arrays), TrainCenters makes them itself, as the C tool's loop does,
// from the positions of center words in the corpus (their windows, and noise words drawn with a counter-
// based generator keyed by the step and the row).

#ifndef CS20LIB_KERNELS_WORD2VEC_MATH_H_
#define CS20LIB_KERNELS_WORD2VEC_MATH_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace cs20 {

// sum_d a[d] * b[d]; the simd pragma lets the compiler vectorise the sum (-fopenmp-simd) without
// -ffast-math, which would also let it assume that no value is NaN or infinite.
inline float Dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t d = 0; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// y += alpha * x
inline void Axpy(float alpha, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

// One target's two steps in one pass over u: e += g * u (u before its step), then u += g * v.
inline void StepTarget(float g, const float* __restrict__ v, float* __restrict__ u, float* __restrict__ e,
                       int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d) {
    const float old = u[d];
    e[d] += g * old;
    u[d] = old + g * v[d];
  }
}

// x[t] = v . u[t] for t < count: up to three dot products per pass over v, so v is read once for three
// targets and the sums are independent (the CPU overlaps them).
inline void Dots(const float* __restrict__ v, float* const* u, int64_t count, float* x, int64_t n) {
  int64_t t = 0;
  for (; t + 3 <= count; t += 3) {
    const float* __restrict__ u0 = u[t];
    const float* __restrict__ u1 = u[t + 1];
    const float* __restrict__ u2 = u[t + 2];
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
#pragma omp simd reduction(+ : a0, a1, a2)
    for (int64_t d = 0; d < n; ++d) {
      const float vd = v[d];
      a0 += vd * u0[d];
      a1 += vd * u1[d];
      a2 += vd * u2[d];
    }
    x[t] = a0;
    x[t + 1] = a1;
    x[t + 2] = a2;
  }
  for (; t < count; ++t) x[t] = Dot(v, u[t], n);
}

// y += sum_t g[t * stride] * u[t] for t < count: up to three terms per pass over y.
inline void Combine(float* __restrict__ y, const float* g, int64_t stride, float* const* u, int64_t count, int64_t n) {
  int64_t t = 0;
  for (; t + 3 <= count; t += 3) {
    const float g0 = g[t * stride], g1 = g[(t + 1) * stride], g2 = g[(t + 2) * stride];
    const float* __restrict__ u0 = u[t];
    const float* __restrict__ u1 = u[t + 1];
    const float* __restrict__ u2 = u[t + 2];
#pragma omp simd
    for (int64_t d = 0; d < n; ++d) y[d] += g0 * u0[d] + g1 * u1[d] + g2 * u2[d];
  }
  for (; t < count; ++t) Axpy(g[t * stride], u[t], y, n);
}

// The loss of a block of pairs: sum of softplus terms. softplus(y) = max(y, 0) + log1p(exp(-|y|)), and
// exp(-|y|) = exp(-|x|) for y = +-x; the log1p terms are gathered as one product, whose log is taken
// rarely (one log per row instead of one per target: the loss is only reported).
struct Sums {
  double loss = 0.0;
  double product = 1.0;  // prod (1 + exp(-|x|)) not yet in `loss`
  int64_t pairs = 0;

  void Add(float signed_x, float e) {
    loss += std::max(signed_x, 0.0f);
    product *= 1.0 + e;
  }
  void Flush() {
    loss += std::log(product);
    product = 1.0;
  }
};

// The step of one target with logit x: adds its loss to `sums`, returns g = alpha * (label - sigmoid(x)).
inline float Gradient(float x, bool is_output, float alpha, Sums* sums) {
  // sigmoid and softplus from one exp, stable for any x: e = exp(-|x|)
  const float e = std::exp(-std::fabs(x));
  const float sigmoid = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  // -log sigmoid(x) = softplus(-x) for the output word; -log sigmoid(-x) = softplus(x) for noise
  sums->Add(is_output ? -x : x, e);
  return alpha * ((is_output ? 1.0f : 0.0f) - sigmoid);
}

// Asks the CPU to start loading a row into cache (for writing): rows are picked at random from tables of
// tens of megabytes, so without this each pair waits for memory.
inline void Prefetch(const float* row, int64_t dims) {
  for (int64_t d = 0; d < dims; d += 64 / sizeof(float)) __builtin_prefetch(row + d, 1, 3);
}

// Working memory of one thread: the input vector's step (dims floats); a row's target rows, input rows and
// logits; for rows trained together also the targets' steps.
struct Workspace {
  std::vector<float> step;
  std::vector<float*> rows;
  std::vector<float*> inputs;
  std::vector<float> x;
  std::vector<float> output_steps;
  std::vector<int32_t> negatives;  // TrainCenters: the next row's noise words, drawn ahead

  void Reserve(int64_t targets, int64_t columns, int64_t dims) {
    step.resize(dims);
    rows.resize(targets);
    inputs.resize(columns);
    x.resize(std::max<int64_t>(columns, 1) * targets);
    output_steps.resize(targets * dims);
    negatives.resize(2 * targets);
  }
};

// ---------------------------------------------------------------------------------------------------------
// One row
// ---------------------------------------------------------------------------------------------------------

// The row's pairs one after the other, as the C tool does: for each input word v (in column order) and each
// target u (the output word first, then the noise words), x = u . v, g = alpha * (label - sigmoid(x)),
// e += g u, u += g v; then v += e.
//
// When the row's targets are distinct, a target's step changes no other target's vector and v changes only
// at the end, so all the logits of a pair can be taken first (independent dot products, which the CPU
// overlaps), then all the steps: the same arithmetic as one target at a time. A row with a repeated target
// (a noise word drawn twice, or equal to the output word) is done one target at a time.
inline void PairsOfRow(float* const* rows, int64_t targets, float* const* inputs, int64_t n, int64_t dims,
                       float alpha, Workspace* work, Sums* sums) {
  float* step = work->step.data();
  float* x = work->x.data();
  bool distinct = true;
  for (int64_t t = 1; t < targets; ++t) {
    for (int64_t s = 0; s < t; ++s) distinct = distinct && rows[s] != rows[t];
  }
  for (int64_t j = 0; j < n; ++j) {
    float* v = inputs[j];
    if (j + 1 < n) Prefetch(inputs[j + 1], dims);
    std::fill(step, step + dims, 0.0f);
    if (distinct) {
      for (int64_t t = 0; t < targets; ++t) x[t] = Dot(v, rows[t], dims);
      for (int64_t t = 0; t < targets; ++t) StepTarget(Gradient(x[t], t == 0, alpha, sums), v, rows[t], step, dims);
    } else {
      for (int64_t t = 0; t < targets; ++t) {
        StepTarget(Gradient(Dot(v, rows[t], dims), t == 0, alpha, sums), v, rows[t], step, dims);
      }
    }
    Axpy(1.0f, step, v, dims);
    ++sums->pairs;
    if (sums->product > 1e250) sums->Flush();
  }
  sums->Flush();
}

// The row's pairs together, every step from the row's start values (HogBatch; Ji et al. 2016): with V the n
// input vectors and U the targets, X = V U^T, G = alpha * (labels - sigmoid(X)), then the output vectors'
// steps G^T V (kept aside), the input vectors' V += G U, and U += G^T V. A vector that appears twice gets
// both steps, each from the start values, as the row's summed loss asks.
inline void RowTogether(float* const* rows, int64_t targets, float* const* inputs, int64_t n, int64_t dims,
                        float alpha, Workspace* work, Sums* sums) {
  float* x = work->x.data();  // [n x targets]: logits, then g
  float* output_steps = work->output_steps.data();  // [targets x dims]
  for (int64_t j = 0; j < n; ++j) Dots(inputs[j], rows, targets, x + j * targets, dims);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t t = 0; t < targets; ++t) x[j * targets + t] = Gradient(x[j * targets + t], t == 0, alpha, sums);
    if (sums->product > 1e250) sums->Flush();
  }
  for (int64_t t = 0; t < targets; ++t) {
    float* step = output_steps + t * dims;
    std::fill(step, step + dims, 0.0f);
    Combine(step, x + t, targets, inputs, n, dims);
  }
  for (int64_t j = 0; j < n; ++j) Combine(inputs[j], x + j * targets, 1, rows, targets, dims);  // V += G U
  for (int64_t t = 0; t < targets; ++t) Axpy(1.0f, output_steps + t * dims, rows[t], dims);  // U += G^T V
  sums->pairs += n;
  sums->Flush();
}

inline void TrainRow(bool together, float* const* rows, int64_t targets, float* const* inputs, int64_t n,
                     int64_t dims, float alpha, Workspace* work, Sums* sums) {
  if (n == 0) return;
  if (together) {
    RowTogether(rows, targets, inputs, n, dims, alpha, work, sums);
  } else {
    PairsOfRow(rows, targets, inputs, n, dims, alpha, work, sums);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Rows made outside: ids as arrays
// ---------------------------------------------------------------------------------------------------------

// Trains rows [begin, end) in order. Row b: output word output_ids[b], noise words negatives[b, :noise],
// input words input_ids[b, :columns] (-1: none).
inline Sums TrainRows(float* embed, float* output, const int32_t* output_ids, const int32_t* input_ids,
                      const int32_t* negatives, int64_t columns, int64_t noise, int64_t dims, float alpha,
                      int64_t begin, int64_t end, bool together, Workspace* work) {
  Sums sums;
  float** rows = work->rows.data();
  float** inputs = work->inputs.data();
  const int64_t targets = noise + 1;
  for (int64_t b = begin; b < end; ++b) {
    if (b + 1 < end) {  // the next row's targets and input words
      Prefetch(output + static_cast<int64_t>(output_ids[b + 1]) * dims, dims);
      for (int64_t t = 0; t < noise; ++t) {
        Prefetch(output + static_cast<int64_t>(negatives[(b + 1) * noise + t]) * dims, dims);
      }
      for (int64_t j = 0; j < columns; ++j) {
        const int32_t next = input_ids[(b + 1) * columns + j];
        if (next >= 0) Prefetch(embed + static_cast<int64_t>(next) * dims, dims);
      }
    }
    rows[0] = output + static_cast<int64_t>(output_ids[b]) * dims;
    for (int64_t t = 1; t < targets; ++t) rows[t] = output + static_cast<int64_t>(negatives[b * noise + t - 1]) * dims;
    int64_t n = 0;
    for (int64_t j = 0; j < columns; ++j) {
      const int32_t input = input_ids[b * columns + j];
      if (input >= 0) inputs[n++] = embed + static_cast<int64_t>(input) * dims;
    }
    TrainRow(together, rows, targets, inputs, n, dims, alpha, work, &sums);
  }
  return sums;
}

// ---------------------------------------------------------------------------------------------------------
// Rows made here, as the C tool's loop makes them: windows from the corpus, noise words drawn
// ---------------------------------------------------------------------------------------------------------

// SplitMix64's finaliser (Steele, Lea & Flood 2014): a 64-bit mix whose outputs for consecutive inputs are
// statistically independent; the generator of the noise words is mix(key + counter).
inline uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The key of a step's noise words: seed and step mixed, so that every step draws its own.
inline uint64_t NoiseKey(uint64_t seed, uint64_t step) { return Mix(Mix(seed) ^ step); }

// Noise word `k` of row `row`: an id drawn from Walker's alias table (keep, alias; Vose 1991), with the two
// uniform draws it needs taken from one 64-bit mix: the high 32 bits pick a column i in [0, vocab) by
// multiplication (Lemire 2019), the low 24 bits give u in [0, 1); the id is i if u < keep[i], else alias[i].
inline int32_t DrawNoise(uint64_t key, int64_t row, int64_t k, int64_t noise, const float* keep,
                         const int32_t* alias, int64_t vocab) {
  const uint64_t h = Mix(key + static_cast<uint64_t>(row * noise + k) * 0xD1B54A32D192ED03ULL);
  const int64_t i = static_cast<int64_t>(((h >> 32) * static_cast<uint64_t>(vocab)) >> 32);
  const float u = static_cast<float>(h & 0xFFFFFFULL) * (1.0f / 16777216.0f);
  return u < keep[i] ? static_cast<int32_t>(i) : alias[i];
}

// Trains the rows of the centers positions[begin, end) in order. Row b: the output word is the center
// corpus[p] (p = positions[b]); its input words are the corpus's words at p - r .. p - 1 and p + 1 .. p + r,
// inside the corpus, with r = reach[p] (the window word2vec drew for that position); its noise words are
// DrawNoise(key, b, k) for k < noise. The same rows as TrainRows gets from the stream's window batches,
// made without building those batches.
inline Sums TrainCenters(float* embed, float* output, const int32_t* corpus, int64_t corpus_size,
                         const int8_t* reach, const int32_t* positions, const float* keep, const int32_t* alias,
                         int64_t vocab, uint64_t key, int64_t noise, int64_t dims, float alpha, int64_t begin,
                         int64_t end, bool together, Workspace* work) {
  Sums sums;
  float** rows = work->rows.data();
  float** inputs = work->inputs.data();
  int32_t* drawn = work->negatives.data();  // [2 x noise]: this row's noise words, then the next row's
  const int64_t targets = noise + 1;
  auto draw = [&](int64_t b, int32_t* into) {
    for (int64_t k = 0; k < noise; ++k) into[k] = DrawNoise(key, b, k, noise, keep, alias, vocab);
  };
  if (begin < end) draw(begin, drawn + noise);
  for (int64_t b = begin; b < end; ++b) {
    std::copy(drawn + noise, drawn + 2 * noise, drawn);
    const int64_t p = positions[b];
    if (b + 1 < end) {  // the next row's noise words, drawn now, and its rows, asked for now
      draw(b + 1, drawn + noise);
      const int64_t q = positions[b + 1];
      Prefetch(output + static_cast<int64_t>(corpus[q]) * dims, dims);
      for (int64_t k = 0; k < noise; ++k) Prefetch(output + static_cast<int64_t>(drawn[noise + k]) * dims, dims);
      const int64_t r = reach[q];
      for (int64_t o = std::max<int64_t>(q - r, 0); o <= std::min<int64_t>(q + r, corpus_size - 1); ++o) {
        if (o != q) Prefetch(embed + static_cast<int64_t>(corpus[o]) * dims, dims);
      }
    }
    rows[0] = output + static_cast<int64_t>(corpus[p]) * dims;
    for (int64_t k = 0; k < noise; ++k) rows[k + 1] = output + static_cast<int64_t>(drawn[k]) * dims;
    const int64_t r = reach[p];
    int64_t n = 0;
    for (int64_t o = std::max<int64_t>(p - r, 0); o <= std::min<int64_t>(p + r, corpus_size - 1); ++o) {
      if (o != p) inputs[n++] = embed + static_cast<int64_t>(corpus[o]) * dims;
    }
    TrainRow(together, rows, targets, inputs, n, dims, alpha, work, &sums);
  }
  return sums;
}

}  // namespace cs20

#endif  // CS20LIB_KERNELS_WORD2VEC_MATH_H_
