// Cs20Word2vecUpdate and Cs20Word2vecCenters: word2vec's negative-sampling SGD step as one TensorFlow op,
// updating the two embedding tables in place. Cs20Word2vecUpdate takes its rows as arrays of ids (the
// batches cs20lib.skipgram makes with NumPy); Cs20Word2vecCenters takes the positions of the batch's center
// words in the corpus and makes the rows itself, as the word2vec tool's loop does: each center's window of
// input words from the corpus and the window reach word2vec drew for it, and its noise words drawn from the
// unigram^3/4 distribution (an alias table) with a counter-based generator keyed by (seed, step, row).
// The arithmetic is in word2vec_math.h.
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
// Attribute `row_update` (HogBatch, Ji et al. 2016, "Parallelizing Word2Vec in Shared and Distributed
// Memory"): a row's pairs are taken together from the row's start values instead of one after the
// other. With V the row's n input vectors and U its 1+K output vectors,
//
//   X = V U^T  (n x (1+K) logits);  G = alpha * (labels - sigmoid(X))
//   V += G U;  U += G^T V            (both steps from the start values)
//
// which is SGD on the row's summed loss: the same gradient terms as the pairs one by one, each taken at
// the row's start rather than after the row's earlier pairs. The rows still run in order. The output
// rows are read and written once per row instead of once per pair, and no pair waits for the previous
// pair's writes to the same rows.
//
// Modes (attribute `hogwild`):
//   false: one thread, rows in order: the same inputs give the same bits (tests, exact resume);
//   true:  the rows are split into contiguous blocks, one per thread of TensorFlow's intra-op pool,
//          and the blocks run at once with no locks on the rows ("Hogwild!", Niu et al. 2011; the
//          C tool and gensim train this way): faster, not bit-reproducible. The noise words of
//          Cs20Word2vecCenters are keyed by row, so both modes draw the same ones.
//
// Both tables are resource variables, looked up and locked for the call; a table whose buffer is
// shared with a live tensor (an earlier dense read) is copied first, so no reader sees it change.
// The same design is TensorFlow's own tutorial kernel (tensorflow/models, tutorials/embedding,
// word2vec_kernels.cc, NegTrainWord2vec); this one is written anew for resource variables, rows of
// several input words and shared noise words.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
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
#include "word2vec_math.h"

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
    .Attr("row_update: bool = false")
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
word2vec's negative-sampling SGD (Mikolov et al. 2013b) in place on both tables.
Row b pairs output word output_ids[b] with each input word input_ids[b, j] (-1: none), sharing the
noise words negatives[b]; learning_rate is the step of one pair. Returns the mean loss per pair.
row_update: a row's pairs take their steps together, from the row's start values (HogBatch).
)doc");

REGISTER_OP("Cs20Word2vecCenters")
    .Input("embed_matrix: resource")
    .Input("output_weight: resource")
    .Input("corpus: int32")
    .Input("reach: int8")
    .Input("positions: int32")
    .Input("keep: float")
    .Input("alias: int32")
    .Input("seed: int64")
    .Input("step: int64")
    .Input("learning_rate: float")
    .Output("loss: float")
    .Output("pairs: int64")
    .Attr("negative: int")
    .Attr("hogwild: bool = false")
    .Attr("row_update: bool = false")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle unused;
      for (int i : {2, 3, 4, 5, 6}) TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 1, &unused));
      for (int i : {7, 8, 9}) TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 0, &unused));
      c->set_output(0, c->Scalar());
      c->set_output(1, c->Scalar());
      return absl::OkStatus();
    })
    .Doc(R"doc(
word2vec's loop (Mikolov et al. 2013b) in place on both tables, for the centers at positions of corpus:
each center is the output word of its window's input words (reach[p] words each way), with `negative`
noise words drawn from Walker's alias table (keep, alias) by a generator keyed by (seed, step, row).
Returns the mean loss per pair and the number of pairs.
)doc");

// An InvalidArgument status whose message is the arguments, concatenated.
template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
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
    return Invalid(name, " must be a float32 matrix, not ", DataTypeString(tensor->dtype()), " of shape ",
                   tensor->shape().DebugString());
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

// What both ops share: the two tables looked up, locked (always in the same order, so two calls cannot
// deadlock) and made writable; the rows run in one block or, Hogwild, in a block per thread of the pool.
class TablesOp : public OpKernel {
 public:
  explicit TablesOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("hogwild", &hogwild_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("row_update", &row_update_));
  }

 protected:
  // Locks the tables, then calls train(embed, output, embed rows, output rows, dims) under the locks.
  void WithTables(OpKernelContext* ctx, const std::function<void(float*, float*, int64_t, int64_t, int64_t)>& train) {
    core::RefCountPtr<Var> embed_var, output_var;
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 0), &embed_var));
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 1), &output_var));
    OP_REQUIRES(ctx, embed_var.get() != output_var.get(), Invalid("embed_matrix and output_weight must be two variables"));
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
                Invalid("embed_matrix has ", dims, " columns but output_weight has ", output->dim_size(1)));
    train(embed->flat<float>().data(), output->flat<float>().data(), embed->dim_size(0), output->dim_size(0), dims);
  }

  // Runs rows [0, rows) as blocks (one, or one per thread with hogwild) and returns the summed Sums.
  cs20::Sums RunBlocks(OpKernelContext* ctx, int64_t rows, int64_t targets, int64_t columns, int64_t dims,
                       const std::function<cs20::Sums(int64_t, int64_t, cs20::Workspace*)>& block_rows) {
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    const int64_t blocks = hogwild_ ? std::max<int64_t>(1, std::min<int64_t>(workers->NumThreads(), rows)) : 1;
    std::vector<cs20::Sums> sums(blocks);
    std::vector<cs20::Workspace> work(blocks);
    for (cs20::Workspace& w : work) w.Reserve(targets, columns, dims);
    auto run = [&](int64_t block) {
      sums[block] = block_rows(rows * block / blocks, rows * (block + 1) / blocks, &work[block]);
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
    cs20::Sums total;
    for (const cs20::Sums& s : sums) {
      total.loss += s.loss;
      total.pairs += s.pairs;
    }
    return total;
  }

  bool hogwild_ = false;
  bool row_update_ = false;
};

class Word2vecUpdateOp : public TablesOp {
 public:
  explicit Word2vecUpdateOp(OpKernelConstruction* ctx) : TablesOp(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& output_ids = ctx->input(2);
    const Tensor& input_ids = ctx->input(3);
    const Tensor& negatives = ctx->input(4);
    const Tensor& learning_rate = ctx->input(5);
    OP_REQUIRES(ctx, output_ids.dims() == 1 && input_ids.dims() == 2 && negatives.dims() == 2,
                Invalid("output_ids must be [B], input_ids [B, C] and negatives [B, K]; got ",
                        output_ids.shape().DebugString(), ", ", input_ids.shape().DebugString(), ", ",
                        negatives.shape().DebugString()));
    const int64_t rows = output_ids.dim_size(0);
    OP_REQUIRES(ctx, input_ids.dim_size(0) == rows && negatives.dim_size(0) == rows,
                Invalid("output_ids, input_ids and negatives must have the same rows; got ", rows, ", ",
                        input_ids.dim_size(0), ", ", negatives.dim_size(0)));
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(learning_rate.shape()), Invalid("learning_rate must be a scalar"));
    const float alpha = learning_rate.scalar<float>()();
    const int64_t columns = input_ids.dim_size(1), noise = negatives.dim_size(1);
    const int32_t* outputs = output_ids.flat<int32_t>().data();
    const int32_t* inputs = input_ids.flat<int32_t>().data();
    const int32_t* noise_ids = negatives.flat<int32_t>().data();
    cs20::Sums total;
    WithTables(ctx, [&](float* embed, float* output, int64_t embed_rows, int64_t output_rows, int64_t dims) {
      // every id checked before anything is written: a bad id is an error, never a write out of bounds
      int64_t bad = FirstOutOfRange(outputs, rows, 0, output_rows);
      OP_REQUIRES(ctx, bad < 0,
                  Invalid("output_ids[", bad, "] = ", bad < 0 ? 0 : outputs[bad], " is not a row of output_weight (",
                          output_rows, " rows)"));
      bad = FirstOutOfRange(noise_ids, rows * noise, 0, output_rows);
      OP_REQUIRES(ctx, bad < 0,
                  Invalid("negatives[", bad < 0 ? 0 : bad / noise, ", ", bad < 0 ? 0 : bad % noise, "] = ",
                          bad < 0 ? 0 : noise_ids[bad], " is not a row of output_weight (", output_rows, " rows)"));
      bad = FirstOutOfRange(inputs, rows * columns, -1, embed_rows);
      OP_REQUIRES(ctx, bad < 0,
                  Invalid("input_ids[", bad < 0 ? 0 : bad / columns, ", ", bad < 0 ? 0 : bad % columns, "] = ",
                          bad < 0 ? 0 : inputs[bad], " is neither -1 (no word) nor a row of embed_matrix (",
                          embed_rows, " rows)"));
      total = RunBlocks(ctx, rows, noise + 1, columns, dims, [&](int64_t begin, int64_t end, cs20::Workspace* w) {
        return cs20::TrainRows(embed, output, outputs, inputs, noise_ids, columns, noise, dims, alpha, begin, end,
                               row_update_, w);
      });
    });
    if (!ctx->status().ok()) return;
    Tensor* result = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &result));
    result->scalar<float>()() = static_cast<float>(total.loss / std::max<int64_t>(total.pairs, 1));
  }
};

class Word2vecCentersOp : public TablesOp {
 public:
  explicit Word2vecCentersOp(OpKernelConstruction* ctx) : TablesOp(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("negative", &negative_));
    OP_REQUIRES(ctx, negative_ >= 1, Invalid("negative must be at least 1, not ", negative_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& corpus = ctx->input(2);
    const Tensor& reach = ctx->input(3);
    const Tensor& positions = ctx->input(4);
    const Tensor& keep = ctx->input(5);
    const Tensor& alias = ctx->input(6);
    const int64_t corpus_size = corpus.dim_size(0), rows = positions.dim_size(0), vocab = keep.dim_size(0);
    OP_REQUIRES(ctx, reach.dim_size(0) == corpus_size,
                Invalid("corpus and reach must have the same length; got ", corpus_size, " and ", reach.dim_size(0)));
    OP_REQUIRES(ctx, alias.dim_size(0) == vocab && vocab > 0,
                Invalid("keep and alias must have the same, positive length; got ", vocab, " and ", alias.dim_size(0)));
    const uint64_t seed = static_cast<uint64_t>(ctx->input(7).scalar<int64_t>()());
    const uint64_t step = static_cast<uint64_t>(ctx->input(8).scalar<int64_t>()());
    const float alpha = ctx->input(9).scalar<float>()();
    // raw buffers: the corpus and reach may be NumPy's own arrays handed over by DLPack, which Eigen's
    // aligned views (flat<T>()) refuse; they are read one element at a time
    const int32_t* words = reinterpret_cast<const int32_t*>(corpus.tensor_data().data());
    const int8_t* reaches = reinterpret_cast<const int8_t*>(reach.tensor_data().data());
    const int32_t* centers = reinterpret_cast<const int32_t*>(positions.tensor_data().data());
    const float* keeps = reinterpret_cast<const float*>(keep.tensor_data().data());
    const int32_t* aliases = reinterpret_cast<const int32_t*>(alias.tensor_data().data());
    cs20::Sums total;
    WithTables(ctx, [&](float* embed, float* output, int64_t embed_rows, int64_t output_rows, int64_t dims) {
      OP_REQUIRES(ctx, vocab <= output_rows, Invalid("the alias table has ", vocab, " entries but output_weight has ",
                                                     output_rows, " rows"));
      int64_t bad = FirstOutOfRange(centers, rows, 0, corpus_size);
      OP_REQUIRES(ctx, bad < 0, Invalid("positions[", bad, "] = ", bad < 0 ? 0 : centers[bad],
                                        " is not a position of the corpus (", corpus_size, " words)"));
      bad = FirstOutOfRange(aliases, vocab, 0, vocab);
      OP_REQUIRES(ctx, bad < 0, Invalid("alias[", bad, "] is not an id of the alias table"));
      // the words this batch reads (its centers' windows), checked before anything is written: a bad word is
      // an error, never a write out of bounds (the whole corpus is not scanned on every step)
      const int64_t table_rows = std::min(embed_rows, output_rows);
      int64_t columns = 0;  // the widest window among the batch's centers: the workspace's size
      for (int64_t b = 0; b < rows; ++b) {
        const int64_t p = centers[b], r = reaches[p];
        OP_REQUIRES(ctx, r >= 0, Invalid("reach[", p, "] = ", r, " is negative"));
        columns = std::max<int64_t>(columns, 2 * r);
        for (int64_t o = std::max<int64_t>(p - r, 0); o <= std::min<int64_t>(p + r, corpus_size - 1); ++o) {
          OP_REQUIRES(ctx, words[o] >= 0 && words[o] < table_rows,
                      Invalid("corpus[", o, "] = ", words[o], " is not a row of the tables (", table_rows, " rows)"));
        }
      }
      total = RunBlocks(ctx, rows, negative_ + 1, columns, dims,
                        [&](int64_t begin, int64_t end, cs20::Workspace* w) {
                          return cs20::TrainCenters(embed, output, words, corpus_size, reaches, centers, keeps,
                                                    aliases, vocab, cs20::NoiseKey(seed, step), negative_, dims,
                                                    alpha, begin, end, row_update_, w);
                        });
    });
    if (!ctx->status().ok()) return;
    Tensor* loss = nullptr;
    Tensor* pairs = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &loss));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({}), &pairs));
    loss->scalar<float>()() = static_cast<float>(total.loss / std::max<int64_t>(total.pairs, 1));
    pairs->scalar<int64_t>()() = total.pairs;
  }

 private:
  int64_t negative_ = 5;
};

REGISTER_KERNEL_BUILDER(Name("Cs20Word2vecUpdate").Device(DEVICE_CPU), Word2vecUpdateOp);
REGISTER_KERNEL_BUILDER(Name("Cs20Word2vecCenters").Device(DEVICE_CPU), Word2vecCentersOp);

}  // namespace
}  // namespace tensorflow
