// Cs20Word2vecUpdate: word2vec's negative-sampling SGD step as one TensorFlow op, updating the two
// embedding tables in place.
//
// What it implements: the skip-gram negative-sampling update of the word2vec tool (Mikolov et al.
// 2013b, "Distributed Representations of Words and Phrases and their Compositionality"; the C tool's
// inner loop, derived in Rong 2014, "word2vec Parameter Learning Explained", eqs. 59-61). For each
// pair of an input word i (a context word) and an output word o (the center) with noise words k:
//
//   for each target t in (o, k_1, ..., k_K), label 1 for o and 0 for the noise words:
//     x = u_t . v_i;  g = alpha * (label - sigmoid(x))
//     e += g * u_t               (the input vector's step, applied after all targets)
//     u_t += g * v_i             (the output vector's step, applied at once)
//   v_i += e
//
// The pairs of a row (one output word and its input words, sharing the row's noise words, as in
// Ji et al. 2016) run in column order, the rows in order. The loss returned is the mean over pairs of
// softplus(-x_o) + sum_k softplus(x_k), each x taken just before its update.
//
// Modes (attribute `hogwild`):
//   false: one thread, rows in order: the same inputs give the same bits (tests, exact resume);
//   true:  the rows are split into contiguous blocks, one per thread of TensorFlow's intra-op pool,
//          and the blocks run at once with no locks on the rows ("Hogwild!", Niu et al. 2011; the
//          C tool and gensim train this way): faster, not bit-reproducible.
//
// Both tables are resource variables, looked up and locked for the call; a table whose buffer is
// shared with a live tensor (an earlier dense read) is copied first, so no reader sees it change.
// The same design is TensorFlow's own tutorial kernel (tensorflow/models, tutorials/embedding,
// word2vec_kernels.cc, NegTrainWord2vec); this one is written anew for resource variables, rows of
// several input words and shared noise words.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/blocking_counter.h"
#include "tensorflow/core/platform/threadpool.h"

namespace tensorflow {
namespace {

using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

REGISTER_OP("Cs20Word2vecUpdate")
    .Input("embed_matrix: resource")
    .Input("output_weight: resource")
    .Input("output_ids: int32")
    .Input("input_ids: int32")
    .Input("negatives: int32")
    .Input("learning_rate: float")
    .Output("loss: float")
    .Attr("hogwild: bool = false")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle unused;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 0, &unused));
      c->set_output(0, c->Scalar());
      return absl::OkStatus();
    })
    .Doc(R"doc(
word2vec's negative-sampling SGD (Mikolov et al. 2013b), per pair, in place on both tables.
Row b pairs output word output_ids[b] with each input word input_ids[b, j] (-1: none), sharing the
noise words negatives[b]; learning_rate is the step of one pair. Returns the mean loss per pair.
)doc");

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

// An InvalidArgument status whose message is the arguments, concatenated.
template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
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

// Working memory of one thread: the input vector's step (dims floats), and per target its row and g.
struct Workspace {
  std::vector<float> step;
  std::vector<float*> rows;
  std::vector<float> x;
};

// Trains rows [begin, end) in order, each pair as the C tool does (see the top of this file).
//
// When a row's targets are distinct, a target's step changes no other target's vector and the input
// vector changes only at the end, so all the logits of a pair can be taken first (independent dot
// products, which the CPU overlaps), then all the steps: the same arithmetic as one target at a time.
// A row with a repeated target (a noise word drawn twice, or equal to the output word) is done one
// target at a time.
Sums TrainRows(float* embed, float* output, const int32_t* output_ids, const int32_t* input_ids,
               const int32_t* negatives, int64_t columns, int64_t noise, int64_t dims, float alpha,
               int64_t begin, int64_t end, Workspace* work) {
  Sums sums;
  float* step = work->step.data();
  float** rows = work->rows.data();
  float* x = work->x.data();
  const int64_t targets = noise + 1;
  for (int64_t b = begin; b < end; ++b) {
    if (b + 1 < end) {  // the next row's targets, and its first input words
      Prefetch(output + static_cast<int64_t>(output_ids[b + 1]) * dims, dims);
      for (int64_t t = 0; t < noise; ++t) {
        Prefetch(output + static_cast<int64_t>(negatives[(b + 1) * noise + t]) * dims, dims);
      }
    }
    rows[0] = output + static_cast<int64_t>(output_ids[b]) * dims;
    bool distinct = true;
    for (int64_t t = 1; t < targets; ++t) {
      rows[t] = output + static_cast<int64_t>(negatives[b * noise + t - 1]) * dims;
      for (int64_t s = 0; s < t; ++s) distinct = distinct && rows[s] != rows[t];
    }
    for (int64_t j = 0; j < columns; ++j) {
      const int32_t input = input_ids[b * columns + j];
      if (input < 0) continue;
      float* v = embed + static_cast<int64_t>(input) * dims;
      const int64_t next = b * columns + j + 1;  // the next pair's input word
      if (next < end * columns && input_ids[next] >= 0) {
        Prefetch(embed + static_cast<int64_t>(input_ids[next]) * dims, dims);
      }
      std::fill(step, step + dims, 0.0f);
      if (distinct) {
        for (int64_t t = 0; t < targets; ++t) x[t] = Dot(v, rows[t], dims);
        for (int64_t t = 0; t < targets; ++t) {
          StepTarget(Gradient(x[t], t == 0, alpha, &sums), v, rows[t], step, dims);
        }
      } else {
        for (int64_t t = 0; t < targets; ++t) {
          StepTarget(Gradient(Dot(v, rows[t], dims), t == 0, alpha, &sums), v, rows[t], step, dims);
        }
      }
      Axpy(1.0f, step, v, dims);
      ++sums.pairs;
      if (sums.product > 1e250) sums.Flush();
    }
    sums.Flush();
  }
  return sums;
}

// The first id in `ids` outside [low, high), or -1 when all are in range.
int64_t FirstOutOfRange(const int32_t* ids, int64_t count, int32_t low, int64_t high) {
  for (int64_t n = 0; n < count; ++n) {
    if (ids[n] < low || ids[n] >= high) return n;
  }
  return -1;
}

// The variable's float matrix, with a buffer of its own (copied if a dense read still shares it).
absl::Status WritableMatrix(OpKernelContext* ctx, Var* var, const char* name, Tensor** out) {
  Tensor* tensor = var->tensor();
  if (!var->is_initialized || !tensor->IsInitialized()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is not initialized"));
  }
  if (tensor->dtype() != DT_FLOAT || tensor->dims() != 2) {
    return Invalid(name, " must be a float32 matrix, not ", DataTypeString(tensor->dtype()),
                                   " of shape ", tensor->shape().DebugString());
  }
  if (!tensor->RefCountIsOne()) {
    Tensor copy;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(DT_FLOAT, tensor->shape(), &copy));
    std::copy_n(tensor->flat<float>().data(), tensor->NumElements(), copy.flat<float>().data());
    *tensor = copy;
  }
  *out = tensor;
  return absl::OkStatus();
}

class Word2vecUpdateOp : public OpKernel {
 public:
  explicit Word2vecUpdateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("hogwild", &hogwild_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& output_ids = ctx->input(2);
    const Tensor& input_ids = ctx->input(3);
    const Tensor& negatives = ctx->input(4);
    const Tensor& learning_rate = ctx->input(5);
    OP_REQUIRES(ctx, output_ids.dims() == 1 && input_ids.dims() == 2 && negatives.dims() == 2,
                Invalid("output_ids must be [B], input_ids [B, C] and negatives [B, K]; got ",
                                        output_ids.shape().DebugString(), ", ", input_ids.shape().DebugString(),
                                        ", ", negatives.shape().DebugString()));
    const int64_t rows = output_ids.dim_size(0);
    OP_REQUIRES(ctx, input_ids.dim_size(0) == rows && negatives.dim_size(0) == rows,
                Invalid("output_ids, input_ids and negatives must have the same rows; got ",
                                        rows, ", ", input_ids.dim_size(0), ", ", negatives.dim_size(0)));
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(learning_rate.shape()),
                Invalid("learning_rate must be a scalar"));
    const float alpha = learning_rate.scalar<float>()();

    core::RefCountPtr<Var> embed_var, output_var;
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 0), &embed_var));
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 1), &output_var));
    OP_REQUIRES(ctx, embed_var.get() != output_var.get(),
                Invalid("embed_matrix and output_weight must be two variables"));
    // lock both, always in the same order (by address), so two calls cannot deadlock
    Var* first = std::min(embed_var.get(), output_var.get());
    Var* second = std::max(embed_var.get(), output_var.get());
    mutex_lock lock_first(*first->mu());
    mutex_lock lock_second(*second->mu());
    Tensor* embed = nullptr;
    Tensor* output = nullptr;
    OP_REQUIRES_OK(ctx, WritableMatrix(ctx, embed_var.get(), "embed_matrix", &embed));
    OP_REQUIRES_OK(ctx, WritableMatrix(ctx, output_var.get(), "output_weight", &output));
    const int64_t dims = embed->dim_size(1);
    OP_REQUIRES(ctx, output->dim_size(1) == dims,
                Invalid("embed_matrix has ", dims, " columns but output_weight has ",
                                        output->dim_size(1)));

    // every id checked before anything is written: a bad id is an error, never a write out of bounds
    const int64_t columns = input_ids.dim_size(1), noise = negatives.dim_size(1);
    const int32_t* outputs = output_ids.flat<int32_t>().data();
    const int32_t* inputs = input_ids.flat<int32_t>().data();
    const int32_t* noise_ids = negatives.flat<int32_t>().data();
    const int64_t output_rows = output->dim_size(0), embed_rows = embed->dim_size(0);
    int64_t bad = FirstOutOfRange(outputs, rows, 0, output_rows);
    OP_REQUIRES(ctx, bad < 0,
                Invalid("output_ids[", bad, "] = ", bad < 0 ? 0 : outputs[bad],
                                        " is not a row of output_weight (", output_rows, " rows)"));
    bad = FirstOutOfRange(noise_ids, rows * noise, 0, output_rows);
    OP_REQUIRES(ctx, bad < 0,
                Invalid("negatives[", bad < 0 ? 0 : bad / noise, ", ", bad < 0 ? 0 : bad % noise,
                                        "] = ", bad < 0 ? 0 : noise_ids[bad], " is not a row of output_weight (",
                                        output_rows, " rows)"));
    bad = FirstOutOfRange(inputs, rows * columns, -1, embed_rows);
    OP_REQUIRES(ctx, bad < 0,
                Invalid("input_ids[", bad < 0 ? 0 : bad / columns, ", ",
                                        bad < 0 ? 0 : bad % columns, "] = ", bad < 0 ? 0 : inputs[bad],
                                        " is neither -1 (no word) nor a row of embed_matrix (", embed_rows,
                                        " rows)"));

    float* embed_data = embed->flat<float>().data();
    float* output_data = output->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    const int64_t blocks = hogwild_ ? std::max<int64_t>(1, std::min<int64_t>(workers->NumThreads(), rows)) : 1;
    std::vector<Sums> sums(blocks);
    std::vector<Workspace> work(blocks);
    for (Workspace& w : work) {
      w.step.resize(dims);
      w.rows.resize(noise + 1);
      w.x.resize(noise + 1);
    }
    auto run = [&](int64_t block) {
      const int64_t begin = rows * block / blocks, end = rows * (block + 1) / blocks;
      sums[block] = TrainRows(embed_data, output_data, outputs, inputs, noise_ids, columns, noise, dims, alpha,
                              begin, end, &work[block]);
    };
    if (blocks == 1) {
      run(0);
    } else {
      BlockingCounter done(blocks - 1);
      for (int64_t block = 1; block < blocks; ++block) {
        workers->Schedule([&run, &done, block] {
          run(block);
          done.DecrementCount();
        });
      }
      run(0);
      done.Wait();
    }
    double loss = 0.0;
    int64_t pairs = 0;
    for (const Sums& s : sums) {
      loss += s.loss;
      pairs += s.pairs;
    }
    Tensor* result = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &result));
    result->scalar<float>()() = static_cast<float>(loss / std::max<int64_t>(pairs, 1));
  }

 private:
  bool hogwild_ = false;
};

REGISTER_KERNEL_BUILDER(Name("Cs20Word2vecUpdate").Device(DEVICE_CPU), Word2vecUpdateOp);

}  // namespace
}  // namespace tensorflow
