"""Two hand-built variants for report tests: the two-level U-Net and the same network without its skips."""

from tests.graph.handmade import Net, two_level_u


def no_skip_u() -> Net:
    """two_level_u without the two skip additions: x -> e1 -> p1 -> e2 -> p2 -> m -> up -> d2 -> up -> d1."""
    return (Net("u2_noskip").input("x", 1, 4, 16, 16)
            .conv("e1", "x", 8, k=3).pool("p1", "e1")
            .conv("e2", "p1", 16, k=3).pool("p2", "e2")
            .conv("m", "p2", 16, k=3).up("u2", "m").conv("d2", "u2", 8, k=3)
            .up("u1", "d2").conv("d1", "u1", 4, k=3))


def variant_graphs():
    return [two_level_u().build(), no_skip_u().build()]
