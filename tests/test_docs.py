"""Every public function, class, method and property of ember, ember.random
and ember.linalg has a docstring, and every callable an inspectable
signature (C functions start their docstring with "name(args)\\n--\\n\\n"),
so help(), Jupyter's ``?`` and editors show them."""
import inspect

import pytest

import ember
import ember.linalg
import ember.random

NOT_CONSTRUCTIBLE = {ember.Tensor}  # made by ember.tensor / asarray / zeros, never Tensor(...)


def members(owner, prefix):
    return [(f"{prefix}.{n}", getattr(owner, n)) for n in sorted(dir(owner)) if not n.startswith("_")]


def api():
    """(qualified name, object) of every public function, class and module of the namespaces."""
    out = []
    for mod in (ember, ember.random, ember.linalg):
        out += [(n, o) for n, o in members(mod, mod.__name__) if callable(o) or inspect.ismodule(o)]
    return out


def methods(cls):
    """(qualified name, attribute as found on the class) of cls's public methods and properties."""
    return [(f"ember.{cls.__name__}.{n}", inspect.getattr_static(cls, n))
            for n in sorted(dir(cls)) if not n.startswith("_")]


EVERYTHING = api() + methods(ember.Tensor) + methods(ember.random.Generator) + methods(ember.DType)
IDS = [name for name, _ in EVERYTHING]


def is_data(attr):
    return isinstance(attr, property) or inspect.isgetsetdescriptor(attr) or inspect.ismemberdescriptor(attr)


@pytest.mark.parametrize("name, obj", EVERYTHING, ids=IDS)
def test_has_docstring(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"{name} has no docstring"
    if not is_data(obj) and not inspect.ismodule(obj):
        # A docstring that is only the signature line says nothing: there must be prose after it.
        short = obj.__name__ if hasattr(obj, "__name__") else name.rsplit(".", 1)[1]
        lines = [ln for ln in doc.splitlines() if ln.strip() and not ln.startswith(short + "(")]
        assert lines, f"{name}'s docstring is only its signature"


CALLABLES = [(n, o) for n, o in EVERYTHING if callable(o) and not is_data(o) and o not in NOT_CONSTRUCTIBLE]


@pytest.mark.parametrize("name, obj", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_has_signature(name, obj):
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError) as e:
        pytest.fail(f"{name} has no inspectable signature ({e}): give its C docstring a "
                    f"'{name.rsplit('.', 1)[1]}(args)\\n--\\n\\n' first line")
    assert "args" not in sig.parameters or "kwargs" not in sig.parameters, \
        f"{name}{sig} is the generic fallback signature"


@pytest.mark.parametrize("name", ["item", "astype", "numpy", "stride", "clone"])
def test_c_methods_signature_includes_self(name):
    """The C methods' text signatures start with $self, so the unbound method shows self and the
    bound one does not."""
    unbound = inspect.signature(getattr(ember.Tensor, name))
    assert list(unbound.parameters)[0] == "self"
    assert "self" not in inspect.signature(getattr(ember.zeros(2), name)).parameters


def test_generator_methods_signature_includes_self():
    g = ember.random.Generator(0)
    assert str(inspect.signature(ember.random.Generator.normal)).startswith("(self, /, loc=0.0")
    assert str(inspect.signature(g.normal)).startswith("(loc=0.0, scale=1.0")


def test_c_function_signature_round_trip():
    """inspect reads the C functions' signatures exactly (positional-only and keyword-only markers)."""
    assert str(inspect.signature(ember.sum)) == "(x, /, *, axis=None, keepdims=False, dtype=None)"
    assert str(inspect.signature(ember.add)) == "(x1, x2, /)"
    assert ember.zeros.__doc__ and not ember.zeros.__doc__.startswith("zeros(")  # the line is consumed


def test_the_checks_can_fail():
    def undocumented(x):
        pass

    with pytest.raises(AssertionError, match="no docstring"):
        test_has_docstring("undocumented", undocumented)
    with pytest.raises(pytest.fail.Exception, match="no inspectable signature"):
        test_has_signature("ember.Tensor", ember.Tensor)
