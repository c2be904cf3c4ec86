"""Layers, live ranges, skip tensors and M_sc on graphs worked out by hand."""

from hwsim.graph.analysis import dedupe_runs, graph_stats, layer_io, live_curve, live_ranges, msc_curve, skip_tensors

from tests.graph.handmade import attention_block, two_level_u


def test_two_level_u_layers_fuse_the_skip_adds_into_the_upsampling():
    g = two_level_u().build()
    assert [list(la.ops) for la in g.layers] == [
        ["e1"], ["p1"], ["e2"], ["p2"], ["m"], ["u2", "s2"], ["d2"], ["u1", "s1"], ["d1"]]


def test_two_level_u_encoder_outputs_are_the_skip_tensors():
    g = two_level_u().build()
    assert skip_tensors(g) == ("e1", "e2")
    r = live_ranges(g)
    assert (r["e1"].start, r["e1"].end) == (0, 7)
    assert (r["e2"].start, r["e2"].end) == (2, 5)


def test_two_level_u_msc_curve_by_hand():
    # e1 = 8x16x16 = 2048 B, e2 = 16x8x8 = 1024 B at 8 bits
    g = two_level_u().build()
    assert msc_curve(g, 8) == [2048, 2048, 3072, 3072, 3072, 3072, 2048, 2048, 0]
    assert dedupe_runs(msc_curve(g, 8)) == [2048, 3072, 2048, 0]
    assert max(msc_curve(g, 16)) == 6144


def test_attention_residual_is_not_a_skip():
    g = attention_block().build()
    assert [list(la.ops) for la in g.layers] == [["a", "r"], ["g"], ["c", "m"], ["o", "res"]]
    assert skip_tensors(g) == ()
    assert max(msc_curve(g, 8)) == 0
    # the residual 'a' waits across the pooling, but the only other size read there is 1x1
    assert (live_ranges(g)["a"].start, live_ranges(g)["a"].end) == (0, 3)


def test_layer_io_reads_and_writes():
    g = attention_block().build()
    io = layer_io(g)
    assert io[0].writes == ("a", "r")  # both needed later; nothing else leaves the layer
    assert io[2].reads == ("g", "r") and io[2].writes == ("m",)
    assert io[3].reads == ("m", "a") and io[3].params == ("o.w", "o.b")


def test_live_curve_by_hand():
    g = attention_block().build()
    # 8x16x16 = 2048 B per full map, 8 B for the pooled vector
    # step 0: a, r; 1: a, r, g; 2: a, r, g, m; 3: a, m, res
    assert live_curve(g, 8) == [4096, 4104, 6152, 6144]


def test_info_figures_of_the_u():
    s = graph_stats(two_level_u().build(), 8)
    # conv MACs = out elements x cin x k x k
    e1 = 8 * 16 * 16 * 4 * 9
    e2 = 16 * 8 * 8 * 8 * 9
    m = 16 * 4 * 4 * 16 * 9
    d2 = 8 * 8 * 8 * 16 * 9
    d1 = 4 * 16 * 16 * 8 * 9
    assert s["macs"] == e1 + e2 + m + d2 + d1
    assert s["params"] == (8 * 4 * 9 + 8) + (16 * 8 * 9 + 16) + (16 * 16 * 9 + 16) + (8 * 16 * 9 + 8) + (4 * 8 * 9 + 4)
    assert s["msc_bytes"] == 3072
    assert [t["name"] for t in s["skip_tensors"]] == ["e1", "e2"]
    assert s["skip_tensors"][0]["producer"] == "e1" and s["skip_tensors"][0]["last_consumer"] == "u1"


def test_fuse_none_makes_every_op_a_layer():
    g = two_level_u().build(fuse="none")
    assert len(g.layers) == len(g.ops) == 11
