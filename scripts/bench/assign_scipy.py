#!/usr/bin/env python3
"""The independent solver for pollwatch's nearest-to-home assignment.

Reads a JSON object with "rows", "cols" and "cost" (row-major, whole
metres), as `pollwatch bench plan` or the planning crate's example
`plan_bench` writes it, and prints scipy.optimize.linear_sum_assignment's
optimal total and the time it took (the solve alone, not the reading).

    python3 scripts/bench/assign_scipy.py CASE.json            # print
    python3 scripts/bench/assign_scipy.py --store CASE.json    # also write
        "scipy_total" (and scipy's version) into CASE.json, as the test
        fixture crates/pollwatch-planning/tests/data/nearest-150.json keeps it

Needs python3 with numpy and scipy (`pip install scipy`); CI has neither,
which is why the fixture keeps scipy's answer.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment


def main(argv):
    store = "--store" in argv
    paths = [a for a in argv if a != "--store"]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = paths[0]
    with open(path, encoding="utf-8") as f:
        case = json.load(f)
    rows, cols = case["rows"], case["cols"]
    cost = np.asarray(case["cost"], dtype=np.int64)
    if cost.size != rows * cols:
        print(f"{path}: {cost.size} costs for {rows} x {cols}", file=sys.stderr)
        return 1
    cost = cost.reshape(rows, cols)
    start = time.perf_counter()
    r, c = linear_sum_assignment(cost)
    seconds = time.perf_counter() - start
    total = int(cost[r, c].sum())
    print(json.dumps({"rows": rows, "cols": cols, "pairs": len(r), "total": total,
                      "seconds": round(seconds, 6), "scipy": scipy.__version__}))
    if store:
        case["scipy_total"] = total
        case["scipy_version"] = scipy.__version__
        with open(path, "w", encoding="utf-8") as f:
            # The cost matrix last, so the file's head says what it is.
            ordered = {k: v for k, v in case.items() if k != "cost"}
            ordered["cost"] = case["cost"]
            json.dump(ordered, f, separators=(",", ":"))
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
