"""cs20lib.profiling: time per op type from TF1 step stats and from TF2 profiler traces."""

import pytest
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from cs20lib import profiling

tf1 = tf.compat.v1


def write_trace(folder, events_by_line):
    """An XSpace with one host plane; ``events_by_line``: {line name: [(event name, start ps, duration ps)]}."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    for line_name, events in events_by_line.items():
        line = plane.lines.add(name=line_name)
        for name, start, duration in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].id = ids[name]
                plane.event_metadata[ids[name]].name = name
            line.events.add(metadata_id=ids[name], offset_ps=start, duration_ps=duration)
    path = folder / "plugins" / "profile" / "run" / "host.xplane.pb"
    path.parent.mkdir(parents=True)
    path.write_bytes(space.SerializeToString())
    return path


def test_a_trace_sums_op_self_time_by_type(tmp_path):
    us = 1_000_000  # picoseconds per microsecond
    write_trace(
        tmp_path,
        {
            "python": [("EagerLocalExecute: __inference_step_1", 0, 500 * us)],  # not an op event
            "tf_Compute/1": [
                ("ExecutorState::Process", 0, 400 * us),  # TensorFlow's bookkeeping, not an op
                ("call:PartitionedCall", 0, 100 * us),
                ("mm:MatMul", 10 * us, 30 * us),  # nested in the call: its time is not the call's
                ("g:ResourceGather", 50 * us, 20 * us),
                ("mm_1:MatMul", 200 * us, 5 * us),
            ],
            "tf_Compute/2": [("s:ResourceScatterSub", 0, 40 * us)],
        },
    )
    result = profiling.from_trace(tmp_path, steps=2)
    assert result.micros == pytest.approx(
        {"PartitionedCall": 50, "MatMul": 35, "ResourceGather": 20, "ResourceScatterSub": 40}
    )
    assert result.counts == {"PartitionedCall": 1, "MatMul": 2, "ResourceGather": 1, "ResourceScatterSub": 1}
    assert result.total_micros == pytest.approx(145)
    assert list(result.ms_per_step()) == ["PartitionedCall", "ResourceScatterSub", "MatMul", "ResourceGather"]
    assert result.ms_per_step()["MatMul"] == pytest.approx(0.0175)
    assert sum(result.shares().values()) == pytest.approx(1)
    table = result.table(top=2).splitlines()
    assert table[1].split()[0] == "PartitionedCall" and table[2].split()[0] == "ResourceScatterSub"
    assert table[3].startswith("2 other op types") and table[-1].startswith("all ops")


def test_no_trace_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no profiler trace \(\*\.xplane\.pb\) under .*profile"):
        profiling.from_trace(tmp_path)


def test_profile_records_a_tf2_step(tmp_path):
    table = tf.Variable(tf.random.stateless_normal([1000, 16], seed=[1, 2]))
    ids = tf.constant([3, 1, 4, 1, 5, 9, 2, 6])

    @tf.function
    def step():
        rows = tf.gather(table, ids)
        table.scatter_sub(tf.IndexedSlices(0.01 * tf.matmul(rows, rows, transpose_b=True) @ rows, ids))
        return tf.reduce_sum(rows)

    result = profiling.profile(step, steps=5, logdir=tmp_path / "trace")
    assert result.steps == 5
    assert result.counts["ResourceGather"] == 5 and result.counts["ResourceScatterSub"] == 5
    assert result.micros["ResourceScatterSub"] > 0 and result.total_micros > 0
    assert (tmp_path / "trace").is_dir()


def test_step_stats_of_a_tf1_session():
    with tf.Graph().as_default():
        table = tf1.get_variable("table", [1000, 16])
        ids = tf1.placeholder(tf.int32, [None])
        loss = tf.reduce_sum(tf.matmul(tf.nn.embedding_lookup(table, ids), table, transpose_b=True))
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
        options = tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE)
        traced = []
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(3):
                traced.append(tf1.RunMetadata())
                sess.run(train, {ids: [1, 2, 3]}, options=options, run_metadata=traced[-1])
    result = profiling.from_step_stats(traced)
    assert result.steps == 3
    assert result.counts["ResourceGather"] == 3  # the lookup, once a step
    assert result.counts["NoOp"] >= 3  # the optimizer's final group, once a step
    assert result.total_micros > 0
    assert profiling.from_step_stats(traced[0]).steps == 1
