"""The ExecuTorch rewrites of exported graphs: each is exact and removes the op XNNPACK would leave to the
portable kernels, or changes the lowering without changing the results."""
import collections

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edge_sdk.backends.executorch._passes import make_delegable

from conftest import relative_error


class Everything(nn.Module):
    """One of each op the rewrites target, in the shapes the deploy graphs use them."""

    def __init__(self):
        super().__init__()
        self.group_norm = nn.GroupNorm(4, 16, eps=1e-6)
        self.layer_norm = nn.LayerNorm(16)
        self.conv = nn.Conv2d(32, 16, 1)

    def forward(self, x, mask):
        h = self.group_norm(x)
        tokens = self.layer_norm(h.flatten(2).transpose(1, 2))
        h = tokens.transpose(1, 2).reshape(h.shape)
        up = F.interpolate(h, scale_factor=2.0, mode="nearest")
        down = F.interpolate(mask, size=h.shape[-2:], mode="nearest")
        value, gate = torch.cat([up, up], dim=1).chunk(2, dim=1)
        q = h.flatten(2).transpose(1, 2)
        attention = F.scaled_dot_product_attention(q, q, q).transpose(1, 2).reshape(h.shape)
        pair = torch.cat([h, attention], dim=1).repeat(2, 1, 1, 1)
        return self.conv(pair) / 2, value * F.silu(gate), 1 - down


TARGETED = ("group_norm", "layer_norm", "upsample_nearest2d", "scaled_dot_product_attention", "chunk", "split", "repeat")


def targets(program) -> collections.Counter:
    return collections.Counter(
        str(node.target) for node in program.graph.nodes if node.op == "call_function" and any(t in str(node.target) for t in TARGETED)
    )


@pytest.fixture(scope="module")
def rewritten():
    torch.manual_seed(0)
    module = Everything().eval()
    inputs = (torch.randn(1, 16, 8, 8), (torch.rand(1, 1, 64, 64) > 0.5).float())
    program = torch.export.export(module, inputs)
    assert targets(program)  # the original graph does contain the ops
    return module, inputs, make_delegable(program)


def test_rewrites_remove_the_ops_xnnpack_lacks_and_keep_the_numbers(rewritten):
    module, inputs, program = rewritten
    assert not targets(program), targets(program)
    with torch.no_grad():
        expected, got = module(*inputs), program.module()(*inputs)
    assert relative_error(got[0], expected[0]) < 1e-5
    assert relative_error(got[1], expected[1]) < 1e-5
    assert torch.equal(got[2], expected[2])  # nearest resizing is a copy: bit-exact


def test_rewritten_graph_is_fully_delegated_and_runs_in_executorch(rewritten, tmp_path):
    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    from edge_sdk.backends.executorch.export import delegation_summary, partitioner_for

    module, inputs, program = rewritten
    edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for("xnnpack")])
    summary = delegation_summary(edge.exported_program())
    assert summary["portable_ops"] == 0, summary["portable_by_op"]
    assert summary["delegated_subgraphs"] == 1
    path = tmp_path / "everything.pte"
    with open(path, "wb") as handle:
        edge.to_executorch().write_to_file(handle)
    outputs = Runtime.get().load_program(path).load_method("forward").execute(list(inputs))
    with torch.no_grad():
        expected = module(*inputs)
    for got, want in zip(outputs[:2], expected[:2]):
        assert relative_error(got, want) < 1e-5
    assert torch.equal(outputs[2], expected[2])


def test_fp16_graph_stays_fp16_and_in_one_xnnpack_subgraph(rewritten, tmp_path):
    """Python numbers and SiLU in an fp16 graph would otherwise become fp32 islands behind portable casts."""
    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    from edge_sdk.backends.executorch.export import delegation_summary, partitioner_for
    from edge_sdk.backends.graphs import HalfPrecisionGraph

    module, inputs, _ = rewritten
    half = HalfPrecisionGraph(module)
    program = make_delegable(torch.export.export(half, inputs))
    edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for("xnnpack")])
    summary = delegation_summary(edge.exported_program())
    # only the casts at the fp32 interface: 2 inputs, 3 outputs
    assert summary["delegated_subgraphs"] == 1 and summary["portable_by_op"] == {"dim_order_ops__to_dim_order_copy_default": 5}
    path = tmp_path / "half.pte"
    with open(path, "wb") as handle:
        edge.to_executorch().write_to_file(handle)
    outputs = Runtime.get().load_program(path).load_method("forward").execute(list(inputs))
    with torch.no_grad():
        expected = module(*inputs)
    for got, want in zip(outputs, expected):
        assert got.dtype == torch.float32 and relative_error(got, want) < 1e-2


class TokensBetweenConvolutions(nn.Module):
    """conv → tokens → linear (+ residual) → map → conv: the token ↔ map round trips of the deploy graphs."""

    def __init__(self):
        super().__init__()
        self.before, self.linear, self.after = nn.Conv2d(8, 16, 3, padding=1), nn.Linear(16, 16), nn.Conv2d(16, 8, 3, padding=1)

    def forward(self, x):
        h = self.before(x)
        b, c, height, width = h.shape
        tokens = h.permute(0, 2, 3, 1).reshape(b, height * width, c)
        tokens = self.linear(tokens) + tokens
        return self.after(tokens.reshape(b, height, width, c).permute(0, 3, 1, 2))


def run_lowered(program, inputs, path, skip_round_trips: bool, counts: list):
    import contextlib

    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    from edge_sdk.backends.executorch.export import partitioner_for
    from edge_sdk.backends.executorch._passes.layout_round_trips_as_reshapes import without_layout_round_trips

    with without_layout_round_trips(counts) if skip_round_trips else contextlib.nullcontext():
        edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for("xnnpack")])
    with open(path, "wb") as handle:
        edge.to_executorch().write_to_file(handle)
    return Runtime.get().load_program(path).load_method("forward").execute(list(inputs))[0]


@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
def test_layout_round_trips_become_reshapes_with_the_same_result(int8, tmp_path):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    torch.manual_seed(0)
    module, inputs = TokensBetweenConvolutions().eval(), (torch.randn(2, 8, 12, 12),)
    if int8:  # int8 convolutions and linear: the round trips carry quantize/dequantize pairs
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(torch.export.export(module, inputs).module(), quantizer)
        prepared(*inputs)
        module = convert_pt2e(prepared)
    program = torch.export.export(module, inputs)
    counts = []
    stock = run_lowered(program, inputs, tmp_path / "stock.pte", False, counts)
    skipped = run_lowered(program, inputs, tmp_path / "skipped.pte", True, counts)
    assert counts == [2]  # map → tokens and tokens → map
    assert torch.equal(skipped, stock)  # a transpose pair and a reshape move the same bytes


def test_channel_sum_becomes_a_delegated_convolution():
    from edge_sdk.backends.executorch._passes.channel_sum_as_convolution import sum_dim

    class ChannelSum(nn.Module):
        def forward(self, x):
            return x.sum(dim=1, keepdim=True), x.mean(dim=(2, 3), keepdim=True)

    x = torch.randn(2, 24, 5, 7)
    program = make_delegable(torch.export.export(ChannelSum(), (x,)))
    assert not [node for node in program.graph.nodes if node.target == torch.ops.aten.sum.dim_IntList]
    got = program.module()(x)
    assert relative_error(got[0], x.sum(dim=1, keepdim=True)) < 1e-6 and torch.equal(got[1], x.mean(dim=(2, 3), keepdim=True))
    assert sum_dim(x, [1], keepdim=False) is NotImplemented  # only what the deploy graphs use is rewritten


def test_division_by_one_is_dropped_and_other_divisions_stay():
    class Residual(nn.Module):
        def forward(self, x, y):
            return (x + y) / 1.0, x / 2

    inputs = (torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6))
    program = make_delegable(torch.export.export(Residual(), inputs))
    divisions = [node.args[1] for node in program.graph.nodes if node.target == torch.ops.aten.div.Tensor]
    assert divisions == [2.0]  # the division by 2 stays, in the graph's dtype (scalars_in_graph_dtype)
    got, expected = program.module()(*inputs), Residual()(*inputs)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


class InterleavedThenNormalized(nn.Module):
    """The decoder's pattern: a map interleaved through channels-last permutes, then GroupNorm, SiLU, conv."""

    def __init__(self):
        super().__init__()
        self.norm = nn.GroupNorm(4, 16, eps=1e-6)
        self.conv = nn.Conv2d(16, 8, 3, padding=1)
        self.shortcut = nn.Conv2d(16, 8, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        phases = x.permute(0, 2, 3, 1).reshape(b, h, w, 1, c)
        interleaved = torch.cat([phases, phases], dim=3).reshape(b, h, 2 * w, c).permute(0, 3, 1, 2)
        return self.conv(F.silu(self.norm(interleaved))) + self.shortcut(interleaved)


@pytest.mark.parametrize("layout_round_trips", [False, True], ids=["channels-last-statistics", "round-trip-graph"])
def test_group_norm_statistics_form_follows_the_lowering_and_both_run_exactly(layout_round_trips, tmp_path):
    """Graphs lowered without round trips take the statistic through a 1×1 mean (channels-last in XNNPACK);
    round-trip graphs keep the plain form, the only one XNNPACK 1.5.1's runtime accepts there."""
    from edge_sdk.backends.executorch.export import lowered
    from executorch.runtime import Runtime

    torch.manual_seed(0)
    module, inputs = InterleavedThenNormalized().eval(), (torch.randn(1, 16, 6, 6),)
    program = torch.export.export(module, inputs)
    means = lambda p: sum(node.target == torch.ops.aten.mean.dim for node in p.graph.nodes)
    stock_means = means(make_delegable(program, layout_round_trips=True))
    assert means(make_delegable(program, layout_round_trips=False)) == stock_means + 2  # mean and variance
    data, summary = lowered(program, "xnnpack", layout_round_trips=layout_round_trips)
    assert summary["portable_ops"] == 0 and summary["delegated_subgraphs"] == 1
    path = tmp_path / "graph.pte"
    path.write_bytes(data)
    got = Runtime.get().load_program(path).load_method("forward").execute(list(inputs))[0]
    with torch.no_grad():
        assert relative_error(got, module(*inputs)) < 1e-5


# Peak RSS growth of a fresh process while it loads a program and runs it once, in MB. VmHWM, not ru_maxrss:
# Linux carries ru_maxrss across exec, so a child of the large pytest process would start at its parent's peak.
_PROGRAM_PEAK_PROBE = """
import re, sys, torch
from executorch.runtime import Runtime
peak_mb = lambda: int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
runtime, x = Runtime.get(), torch.load(sys.argv[2])
before = peak_mb()
runtime.load_program(sys.argv[1]).load_method("forward").execute([x])
print(peak_mb() - before)
"""


def test_transient_indirection_buffers_give_the_same_result_and_free_the_buffers(tmp_path):
    """Six 3×3 convolutions at 256² keep 4.7 MB of pointers each with ExecuTorch's stock lowering; with the
    flag only the running one's buffer exists. Depthwise and transposed convolutions lower and run too."""
    import contextlib
    import subprocess
    import sys

    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    from edge_sdk.backends.executorch._passes.transient_indirection_buffers import transient_indirection_buffers
    from edge_sdk.backends.executorch.export import partitioner_for

    torch.manual_seed(0)
    convolutions = [nn.Conv2d(8, 8, 3, padding=1) for _ in range(6)]
    module = nn.Sequential(*convolutions, nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ConvTranspose2d(8, 8, 2, stride=2)).eval()
    x = torch.randn(1, 8, 256, 256)
    torch.save(x, tmp_path / "x.pt")
    program = torch.export.export(module, (x,))
    outputs, peaks = {}, {}
    for transient in (False, True):
        with transient_indirection_buffers() if transient else contextlib.nullcontext():
            edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for("xnnpack")])
        path = tmp_path / f"transient-{transient}.pte"
        path.write_bytes(edge.to_executorch().buffer)
        outputs[transient] = Runtime.get().load_program(path).load_method("forward").execute([x])[0]
        probe = subprocess.run([sys.executable, "-c", _PROGRAM_PEAK_PROBE, str(path), str(tmp_path / "x.pt")], capture_output=True, text=True, check=True)
        peaks[transient] = float(probe.stdout.split()[-1])
    assert torch.equal(outputs[True], outputs[False])
    with torch.no_grad():
        assert relative_error(outputs[True], module(x)) < 1e-5
    buffer_mb = 256 * 256 * 9 * 8 / 2**20
    assert peaks[True] < peaks[False] - 4 * buffer_mb, peaks  # 7 persistent buffers → about one at a time


def test_shared_node_provenance_lowers_to_the_same_bytes_and_is_scoped(rewritten):
    """Sharing each node's recorded history instead of deep-copying it changes nothing in the `.pte`, the debug
    handles included (ExecuTorch derives them from each node's oldest ancestor)."""
    from executorch.exir import to_edge_transform_and_lower
    from torch.fx.traceback import NodeSource

    from edge_sdk.backends.executorch._passes.shared_node_provenance import shared_node_provenance
    from edge_sdk.backends.executorch.export import partitioner_for

    module, inputs, _ = rewritten

    def lowered_bytes() -> bytes:
        program = make_delegable(torch.export.export(module, inputs))
        return to_edge_transform_and_lower(program, partitioner=[partitioner_for("xnnpack")]).to_executorch().buffer

    stock = NodeSource.__init__
    copied = lowered_bytes()
    with pytest.raises(RuntimeError, match="inside"):
        with shared_node_provenance():
            assert NodeSource.__init__ is not stock
            assert lowered_bytes() == copied
            raise RuntimeError("inside")
    assert NodeSource.__init__ is stock  # restored, even after an error
