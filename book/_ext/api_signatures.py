"""Signatures of the masked Keras layers in the API reference: their ``__init__``'s, not Keras's ``__new__``.

Keras's ``Operation`` defines ``__new__(cls, *args, **kwargs)``, which Sphinx's autodoc reads before
``__init__``; a class of this library whose ``__init__`` is its own (or a mixin's) shows that one.
"""

import inspect

from sphinx.util.inspect import stringify_signature


def _own_init_signature(app, what, name, obj, options, signature, return_annotation):
    if what not in ("class", "exception") or not isinstance(obj, type):
        return None
    init = next((vars(cls)["__init__"] for cls in obj.__mro__ if "__init__" in vars(cls)), None)
    new_owner = next((cls for cls in obj.__mro__ if "__new__" in vars(cls)), object)
    if init is None or not new_owner.__module__.startswith("keras") or init.__module__.startswith("keras"):
        return None
    parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
    return stringify_signature(inspect.Signature(parameters), show_return_annotation=False), return_annotation


def setup(app):
    app.connect("autodoc-process-signature", _own_init_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
