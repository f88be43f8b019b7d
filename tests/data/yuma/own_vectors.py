#!/usr/bin/env python3
"""Writes own_vectors.json: subtensor unit tests transcribed as Yuma vectors.

Source: opentensor/subtensor at 14bc6f9f964b9cc362e9635dd110a487fa5d15a0,
pallets/subtensor/src/tests/math.rs (the mat_ema_alpha / mat_ema_alpha_sparse family,
test_math_sigmoid_safe) and tests/epoch.rs
(test_epoch_outputs_single_staker_registered_no_weights). Every number below is a literal
of those tests; the script only converts literals to I32F32 the way each test builds
them: `I32F32::from_num(x)` of an f32 (vec_to_fixed, vec_to_mat_fixed, mat_to_fixed)
rounds the f32 value to the nearest multiple of 2^-32, of an f64 literal the f64 value.
Nothing here is computed by the implementation under test.

    python3 tests/data/yuma/own_vectors.py > tests/data/yuma/own_vectors.json
"""
import json
from fractions import Fraction
import struct

COMMIT = "14bc6f9f964b9cc362e9635dd110a487fa5d15a0"
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def raw(x, single=True):
    v = f32(x) if single else x
    return round(Fraction(v) * 2**32)


def mat(rows, single=True):
    return [[raw(x, single) for x in r] for r in rows]


def reshape(flat, rows):
    cols = len(flat) // rows
    return [flat[r * cols:(r + 1) * cols] for r in range(rows)]


def sparse(rows, single=False):
    return [[[j, raw(x, single)] for j, x in r] for r in rows]


def source(test, file="pallets/subtensor/src/tests/math.rs"):
    return {"repo": "opentensor/subtensor", "commit": COMMIT, "file": file, "test": test}


# ---- test_math_mat_ema_alpha and the dense mat_ema_alpha tests ---------------------------
old1 = [0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12]
dense_cases = [
    {"new_raw_i32f32": mat(reshape([1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4)),
     "old_raw_i32f32": mat(reshape(old1, 4)),
     "alpha_raw_i32f32": mat(reshape([0.1] * 12, 4)),
     "expected_raw_i32f32": mat(reshape([0.19, 0.38, 1., 0.436, 0.545, 0.6539, 0.763, 0.8719, 0.981, 1., 1., 1.], 4)),
     "abs_tol": 1e-4, "case": "test_math_mat_ema_alpha 1"},
    {"new_raw_i32f32": mat(reshape([10., 20., 30., 40., 50., 60., 70., 80., 90., 100., 110., 120.], 4)),
     "old_raw_i32f32": mat(reshape(old1, 4)),
     "alpha_raw_i32f32": mat(reshape([0.] * 12, 4)),
     "expected_raw_i32f32": mat(reshape([0.10, 0.2, 1., 0.0399, 0.05, 0.0599, 0.07, 0.07999, 0.09, 0.1, 0.10999, 0.11999], 4)),
     "abs_tol": 1e-4, "case": "test_math_mat_ema_alpha 2"},
    {"new_raw_i32f32": mat(reshape(old1, 4)),
     "old_raw_i32f32": mat(reshape([0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012], 4)),
     "alpha_raw_i32f32": mat(reshape([1.] * 12, 4)),
     "expected_raw_i32f32": mat(reshape([0.10, 0.2, 1., 0.0399, 0.05, 0.0599, 0.07, 0.07999, 0.09, 0.1, 0.10999, 0.11999], 4)),
     "abs_tol": 1e-4, "case": "test_math_mat_ema_alpha 3"},
    {"new_raw_i32f32": mat([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
     "old_raw_i32f32": mat([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]]),
     "alpha_raw_i32f32": mat([[0.5] * 3] * 2, single=False),
     "expected_raw_i32f32": mat([[0.75, 1.0, 1.0], [1.0, 1.0, 1.0]]),
     "abs_tol": 0, "case": "test_mat_ema_alpha_basic"},
    {"new_raw_i32f32": mat([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
     "old_raw_i32f32": mat([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]]),
     "alpha_raw_i32f32": mat([[0.2, 0.5, 0.8]] * 2, single=False),
     "expected_raw_i32f32": mat([[0.6, 1.0, 1.0], [1.0, 1.0, 1.0]]),
     "abs_tol": 1e-6, "case": "test_mat_ema_alpha_varying_alpha"},
    {"new_raw_i32f32": [], "old_raw_i32f32": [], "alpha_raw_i32f32": [], "expected_raw_i32f32": [[]],
     "expected_rows": 1, "abs_tol": 0, "case": "test_mat_ema_alpha_empty_matrices"},
    {"new_raw_i32f32": mat([[1.0]]), "old_raw_i32f32": mat([[0.5]]), "alpha_raw_i32f32": mat([[0.5]], single=False),
     "expected_raw_i32f32": mat([[0.75]]), "abs_tol": 0, "case": "test_mat_ema_alpha_single_element"},
    {"new_raw_i32f32": mat([[1.0, 2.0], [3.0, 4.0]]),
     "old_raw_i32f32": mat([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
     "alpha_raw_i32f32": mat([[0.5] * 3] * 2, single=False),
     "expected_raw_i32f32": [[raw(1.0)]], "abs_tol": 0,
     "case": "test_mat_ema_alpha_mismatched_dimensions (asserts result[0][0] == old[0][0] only)"},
]

# ---- test_math_sparse_mat_ema_alpha (dense literals, zeros dropped by the test) ----------
z = [0.] * 12
sparse_dense_cases = []
for new, old, target, tol in [
    ([1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], old1,
     [0.19, 0.38, 1., 0.43599, 0.545, 0.65399, 0.763, 0.87199, 0.981, 1., 1., 1.], 1e-4),
    (old1, [0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012],
     [0.0109, 0.0218, 0.30270, 0.007599, 0.05, 0.01139, 0.0133, 0.01519, 0.017, 0.01899, 0.02089, 0.0227], 1e-4),
    (old1, z, [0.01, 0.02, 0.3, 0.00399, 0.005, 0.00599, 0.007, 0.00799, 0.009, 0.01, 0.011, 0.01199], 1e-4),
    (z, z, z, 1e-4),
    ([0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 0.], [1.] + [0.] * 11,
     [0.0, 0., 0., 0., 0.2, 0., 0., 0., 0., 0., 0., 0.], 1e-1),
]:
    sparse_dense_cases.append({
        "new_raw_i32f32": mat(reshape(new, 4)), "old_raw_i32f32": mat(reshape(old, 4)),
        "alpha_raw_i32f32": mat(reshape([0.1] * 12, 4)), "expected_raw_i32f32": mat(reshape(target, 4)),
        "abs_tol": tol, "case": "test_math_sparse_mat_ema_alpha %d" % (len(sparse_dense_cases) + 1)})

# ---- the sparse-form mat_ema_alpha_sparse tests (f64 literals) ---------------------------
def sp(case, new, old, alpha, expected, tol):
    return {"new_raw_i32f32": sparse(new), "old_raw_i32f32": sparse(old),
            "alpha_raw_i32f32": mat(alpha, single=False), "expected_raw_i32f32": sparse(expected),
            "abs_tol": tol, "case": case}

sparse_form_cases = [
    sp("test_mat_ema_alpha_sparse_empty", [], [], [], [], 0),
    sp("test_mat_ema_alpha_sparse_single_element", [[(0, 1.0)]], [[(0, 2.0)]], [[0.5]], [[(0, 1.0)]], 0),
    sp("test_mat_ema_alpha_sparse_multiple_elements",
       [[(0, 1.0), (1, 2.0)], [(0, 3.0), (1, 4.0)]], [[(0, 5.0), (1, 6.0)], [(0, 7.0), (1, 8.0)]],
       [[0.1, 0.2]] * 2, [[(0, 1.0), (1, 1.0)], [(0, 1.0), (1, 1.0)]], 1e-6),
    sp("test_mat_ema_alpha_sparse_zero_alpha", [[(0, 1.0)]], [[(0, 2.0)]], [[0.1, 0.0]], [[(0, 1.0)]], 0),
    sp("test_mat_ema_alpha_sparse_one_alpha", [[(0, 1.0)]], [[(0, 2.0)]], [[1.0, 0.0]], [[(0, 1.0)]], 0),
    sp("test_mat_ema_alpha_sparse_mixed_alpha",
       [[(0, 1.0), (1, 2.0)], [(0, 3.0), (1, 4.0)]], [[(0, 5.0), (1, 6.0)], [(0, 7.0), (1, 8.0)]],
       [[0.3, 0.7]] * 2, [[(0, 1.0), (1, 1.0)], [(0, 1.0), (1, 1.0)]], 1e-6),
    sp("test_mat_ema_alpha_sparse_sparse_matrix", [[(0, 1.0)], [(1, 4.0)]], [[(0, 5.0)], [(1, 8.0)]],
       [[0.5, 0.5]] * 2, [[(0, 1.0)], [(1, 1.0)]], 0),
    sp("test_mat_ema_alpha_sparse_varying_alpha",
       [[(0, 0.1), (1, 0.2)], [(0, 0.3), (1, 0.4)]], [[(0, 0.5), (1, 0.6)], [(0, 0.7), (1, 0.8)]],
       [[0.9, 0.8], [0.5, 0.7]], [[(0, 0.14), (1, 0.28)], [(0, 0.499999), (1, 0.519999)]], 1e-6),
]

# ---- test_math_sigmoid_safe (assert_eq: bit-exact) -----------------------------------------
MIN, MAX = {"raw": I64_MIN}, {"raw": I64_MAX}
sig_cases = []
def sig(inputs, rho, kappa, targets, single_targets, label):
    for x, t in zip(inputs, targets):
        sig_cases.append({"input_raw_i32f32": x, "rho_raw_i32f32": rho, "kappa_raw_i32f32": kappa,
                          "expected_raw_i32f32": raw(t, single_targets), "abs_tol": 0, "case": label})
trust = [I64_MIN, 0, raw(0.4, False), raw(0.5, False), raw(0.6, False), raw(1, False), I64_MAX]
tiny = 0.0000000019
sig(trust, I64_MAX, I64_MAX, [tiny] * 6 + [0.5], True, "rho = kappa = max")
sig(trust, I64_MIN, I64_MIN, [0.5] + [tiny] * 6, True, "rho = kappa = min")
sig(trust, raw(30, False), raw(0.5, False),
    [0.0000000019, 0.0000003057, 0.0474258729, 0.5, 0.952574127, 0.9999996943, 0.9999999981], False,
    "rho = 30, kappa = 0.5")
trust2 = [raw(x) for x in [0., 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.]]
sig(trust2, raw(40, False), raw(0.5, False),
    [0.0000000019, 0.0000001125, 0.0000061442, 0.0003353502, 0.017986214, 0.5, 0.9820138067,
     0.9996646498, 0.9999938558, 0.9999998875, 0.9999999981], False, "rho = 40, kappa = 0.5")

vectors = [
    {"name": "math_mat_ema_alpha", "kind": "math", "function": "mat_ema_alpha",
     "source": source("test_math_mat_ema_alpha", ) | {"also": ["test_mat_ema_alpha_basic", "test_mat_ema_alpha_varying_alpha",
                                                          "test_mat_ema_alpha_empty_matrices", "test_mat_ema_alpha_single_element",
                                                          "test_mat_ema_alpha_mismatched_dimensions"]},
     "notes": "Dense EMA with per-entry alpha; inputs as each test builds them.", "cases": dense_cases},
    {"name": "math_mat_ema_alpha_sparse", "kind": "math", "function": "mat_ema_alpha_sparse",
     "source": source("test_math_sparse_mat_ema_alpha") | {"also": [c["case"] for c in sparse_form_cases]},
     "notes": "cases: dense literals that the test turns sparse keeping entries > 0; cases_sparse_form: "
              "explicit sparse rows. Results must have exactly the expected entries.",
     "cases": sparse_dense_cases, "cases_sparse_form": sparse_form_cases},
    {"name": "math_sigmoid_safe", "kind": "math", "function": "sigmoid_safe",
     "source": source("test_math_sigmoid_safe"),
     "notes": "Bit-exact (assert_eq). Checks exp_safe's fixed-point exp through the sigmoid.", "cases": sig_cases},
    {"name": "epoch_test_epoch_outputs_single_staker_registered_no_weights", "kind": "epoch",
     "source": source("test_epoch_outputs_single_staker_registered_no_weights", "pallets/subtensor/src/tests/epoch.rs"),
     "notes": ["One hotkey registered at block 1 (new_test_ext(1)) with 1 rao of alpha stake, no weights, no stored "
               "permit; tempo u16::MAX - 1 so the epoch runs only by hand; mock defaults otherwise "
               "(kappa 32767, bonds moving average 900000, bonds penalty 65535, Yuma3 off, 100 validators, "
               "stake threshold 0, no owner uid). The test asserts that incentive plus dividends paid add "
               "up to the 1e9 pending within 1000."],
     "hyperparams": {"kappa_u16": 32767, "bonds_moving_average": 900000, "bonds_penalty_u16": 65535, "yuma3": False,
                     "liquid_alpha": {"enabled": False, "alpha_low_u16": 45875, "alpha_high_u16": 58982, "steepness": 1000},
                     "max_allowed_validators": 100, "tempo": 65534, "activity_cutoff_blocks": 910201,
                     "stake_threshold": 0, "owner_uid": None, "last_mechanism_step_block": 0,
                     "rao_emission": 1000000000, "commit_reveal": False},
     "variant": "sparse",
     "epochs": [{"label": "the only epoch",
                 "inputs": {"current_block": 1, "stake": [1], "validator_permit": [False], "last_update": [1],
                            "block_at_registration": [1], "weights": [[]]},
                 "expected": {"relations": [{"op": "abs_diff_le",
                                             "a": "sum(server_emission_rao) + sum(validator_emission_rao)",
                                             "b": 1000000000, "tol": 1000}]}}]},
]

print(json.dumps({"format": "yuma-epoch-vectors/1", "part": "own",
                  "upstream": {"repo": "opentensor/subtensor", "commit": COMMIT},
                  "description": "Transcribed by tests/data/yuma/own_vectors.py; see its header.",
                  "vectors": vectors}, indent=1))
