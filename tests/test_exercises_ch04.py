"""Fairness and sharpness of chapter 4's exercise tests (issue 4).

The source notebook's test cells run in this process (coursekit.runner,
scored as nbgrader scores them) against answers a learner could write:
every correct one must pass every test; every plausible mistake must fail
the cells it should, with a message that teaches, and no other item's.
"""

from pathlib import Path
import textwrap

import pytest
from exercise_checks import assert_all_pass, assert_fails_as_planned
from exercise_checks import code as _src

from coursekit.notebooks import read

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "ch04_graphs" / "exercises.ipynb"


def _mul(backward="return dout * self.y, dout * self.x",
         forward="self.x, self.y = x, y\n        return x * y",
         init="self.x = None\n        self.y = None"):
    return ("class MulLayer:\n"
            "    def __init__(self):\n"
            f"        {init}\n\n"
            "    def forward(self, x, y):\n"
            f"        {forward}\n\n"
            "    def backward(self, dout):\n"
            f"        {backward}\n")


def _add(backward="return dout, dout"):
    return ("class AddLayer:\n"
            "    def forward(self, x, y):\n"
            "        return x + y\n\n"
            "    def backward(self, dout):\n"
            f"        {backward}\n")


def _shop(body):
    head = ("def shopping_gradients(apple_price=100.0, apple_count=2.0,\n"
            "                       orange_price=150.0, orange_count=3.0,\n"
            "                       tax=1.1):\n")
    return head + textwrap.indent(_src(body), "    ") + "\n"


SHOP = """
    mul_apple, mul_orange, mul_tax = MulLayer(), MulLayer(), MulLayer()
    add = AddLayer()
    a = mul_apple.forward(apple_price, apple_count)
    o = mul_orange.forward(orange_price, orange_count)
    s = add.forward(a, o)
    total = mul_tax.forward(s, tax)
    ds, dtax = mul_tax.backward({d_total})
    da, do = add.backward({d_sum})
    dap, dac = mul_apple.backward(da)
    dop, doc = mul_orange.backward(do)
    return {{"total": total, "apple_price": {ap}, "apple_count": {ac},
            "orange_price": dop, "orange_count": doc, "tax": dtax}}
"""


def _shop_with(**changes):
    fields = {"d_total": "1.0", "d_sum": "ds", "ap": "dap", "ac": "dac"}
    fields.update(changes)
    return _shop(SHOP.format(**fields))


CORRECT = {
    "book-style classes with explicit dx, dy": {
        "MulLayer": _mul(backward="dx = dout * self.y\n"
                                  "        dy = dout * self.x\n"
                                  "        return dx, dy"),
        "AddLayer": _add(backward="dx = dout * 1\n"
                                  "        dy = dout * 1\n"
                                  "        return dx, dy"),
    },
    "MulLayer keeping a tuple, AddLayer copying dout": {
        "MulLayer": _mul(init="self.inputs = None",
                         forward="self.inputs = (x, y)\n"
                                 "        return np.multiply(x, y)",
                         backward="x, y = self.inputs\n"
                                  "        return y * dout, x * dout")
        .replace("class MulLayer", "import numpy as np\n\nclass MulLayer"),
        "AddLayer": _add(backward="return np.copy(dout), np.copy(dout)")
        .replace("class AddLayer", "import numpy as np\n\nclass AddLayer"),
    },
    "shopping with dlcore's nodes imported by name": {
        "shopping_gradients": "from dlcore.graph import MulLayer, AddLayer\n"
                              + _shop_with(),
    },
    "shopping with the formula-free graph, other names": {
        "shopping_gradients": _shop_with(),
    },
}

WRONG = {
    "MulLayer backward without the swap": (
        {"MulLayer": _mul(backward="return dout * self.x, dout * self.y")},
        {"test_MulLayer_numbers": "dx of MulLayer",
         "test_MulLayer_hidden_arrays": "dx",
         "test_MulLayer_hidden_two_nodes": "dx of the first node"}),
    "MulLayer backward ignores dout": (
        {"MulLayer": _mul(backward="return self.y, self.x")},
        {"test_MulLayer_numbers": "dx of MulLayer",
         "test_MulLayer_hidden_two_nodes": "dx of the first node"}),
    "MulLayer stores its inputs on the class": (
        {"MulLayer": _mul(init="pass",
                          forward="MulLayer.x, MulLayer.y = x, y\n"
                                  "        return x * y")},
        {"test_MulLayer_hidden_two_nodes": "keeps its own latest inputs"}),
    "MulLayer backward returns a list": (
        {"MulLayer": _mul(backward="return [dout * self.y, dout * self.x]")},
        {"test_MulLayer_numbers": "the pair",
         "test_MulLayer_hidden_arrays": "the pair"}),
    "MulLayer backward writes into dout": (
        {"MulLayer": _mul(backward="dy = dout * self.x\n"
                                   "        dout *= self.y\n"
                                   "        return dout, dy")},
        {"test_MulLayer_hidden_arrays": "changed its input dout"}),
    "AddLayer returns dout once": (
        {"AddLayer": _add(backward="return dout")},
        {"test_AddLayer_numbers": "the pair",
         "test_AddLayer_hidden_arrays": "not the pair"}),
    "AddLayer halves dout": (
        {"AddLayer": _add(backward="return dout / 2, dout / 2")},
        {"test_AddLayer_numbers": "dx of AddLayer",
         "test_AddLayer_hidden_arrays": "dx of AddLayer"}),
    "AddLayer returns ones": (
        {"AddLayer": _add(backward="return 1.0, 1.0")},
        {"test_AddLayer_numbers": "dx of AddLayer",
         "test_AddLayer_hidden_arrays": "dx of AddLayer"}),
    "AddLayer delegated by subclass": (
        {"AddLayer": _src("""
            from dlcore.graph import AddLayer as Base
            class AddLayer(Base):
                pass
        """)},
        {"test_AddLayer_numbers": "delegating",
         "test_AddLayer_hidden_arrays": "delegating"}),
    "shopping: fruit nodes get d total instead of d subtotal": (
        {"shopping_gradients": _shop_with(d_sum="1.0")},
        {"test_shopping_gradients_lesson": "apple_price",
         "test_shopping_gradients_hidden_other_prices": "apple_price"}),
    "shopping: price and count gradients swapped": (
        {"shopping_gradients": _shop_with(ap="dac", ac="dap")},
        {"test_shopping_gradients_lesson": "apple_price",
         "test_shopping_gradients_hidden_other_prices": "apple_price"}),
    "shopping: one MulLayer object for two nodes": (
        {"shopping_gradients": _shop_with().replace(
            "MulLayer(), MulLayer(), MulLayer()",
            "MulLayer(), MulLayer(), None\n    mul_tax = mul_apple")},
        {"test_shopping_gradients_lesson": "apple",
         "test_shopping_gradients_hidden_other_prices": "separate"}),
    "shopping: hard-coded lesson numbers": (
        {"shopping_gradients": _shop("""
            return {"total": 715.0, "apple_price": 2.2, "apple_count": 110.0,
                    "orange_price": 3.3, "orange_count": 165.0, "tax": 650.0}
        """)},
        {"test_shopping_gradients_hidden_other_prices": "arguments used"}),
    "shopping: returns a tuple": (
        {"shopping_gradients": _shop_with().split("    return {")[0]
         + "    return total, dap, dac, dop, doc, dtax\n"},
        {"test_shopping_gradients_lesson": "should return a dict",
         "test_shopping_gradients_hidden_other_prices": "return a dict"}),
}


@pytest.fixture(scope="module")
def nb():
    return read(SOURCE)


def test_reference_solution_passes_everything(nb, run):
    results = run(nb)
    assert len(results) == 7
    assert all(ok for ok, _ in results.values()), results


def test_shopping_template_is_correct(nb, run):
    results = run(nb, {"shopping_gradients": _shop_with()})
    assert all(ok for ok, _ in results.values()), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(nb, name, run):
    assert_all_pass(run(nb, CORRECT[name]))


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(nb, name, run):
    answers, must_fail = WRONG[name]
    assert_fails_as_planned(run(nb, answers), answers,
                            must_fail, name)
