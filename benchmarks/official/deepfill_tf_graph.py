"""Run the official DeepFill v2 TensorFlow graph (JiahuiYu/generative_inpainting v2) on TF 2.x.

Run by a Python that has TensorFlow (not inpaintkit's environment)::

    python deepfill_tf_graph.py GENERATIVE_INPAINTING_CHECKOUT WORKDIR SIZE [SIZE ...]

``inpaint_model.py`` / ``inpaint_ops.py`` are imported unmodified from the checkout and run
through ``tf.compat.v1`` (graph mode). What they import and TF 2 / this machine lack is
replaced at run time, in ``sys.modules`` only, by stand-ins with the same behaviour for
this graph:

* ``tensorflow`` -> the ``tf.compat.v1`` namespace, with ``tf.layers.conv2d`` (gone with
  Keras 3) as the layer it was: variables ``<scope>/<name>/kernel`` (HWIO) and ``/bias``,
  ``tf.nn.conv2d`` with stride / dilation / padding, bias added;
* ``tensorflow.contrib.framework.python.ops``: ``arg_scope`` (gen_conv's defaults are the
  values the graph passes: padding "SAME"; ``training`` is unused) and ``add_arg_scope``;
* neuralgym: ``resize`` as neuralgym's (``func(x, [int(h*scale), int(w*scale)] or to_shape,
  align_corners=True)``); the summary / GAN / loss helpers are not called at inference;
* ``cv2`` / ``PIL``: not called by the graph (the photo comes as a numpy array).

Per size: ``WORKDIR/image_{size}.npy`` (H,W,3 uint8 RGB; flipped to BGR here, as
``cv2.imread`` gives it) and ``mask_{size}.npy`` (H,W bool) -> ``build_server_graph`` as
``test.py`` calls it, every global variable loaded from ``WORKDIR/release`` by name as
``test.py`` does -> ``tf_complete_{size}.npy`` (the float composite, BGR, [-1, 1]) and
``tf_u8_{size}.npy`` (``test.py``'s uint8 result, RGB). ``variables.txt``: the names.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any

import numpy as np


def _module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def _install_stand_ins() -> Any:
    import tensorflow as real_tf

    v1 = real_tf.compat.v1
    v1.disable_eager_execution()

    def conv2d(x: Any, filters: int, kernel_size: int, strides: int = 1, dilation_rate: int = 1,
               activation: Any = None, padding: str = "SAME", name: str | None = None) -> Any:
        with v1.variable_scope(name):
            kernel = v1.get_variable("kernel", [kernel_size, kernel_size, x.get_shape().as_list()[-1], filters])
            bias = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer())
        y = real_tf.nn.conv2d(x, kernel, strides=[1, strides, strides, 1], padding=padding.upper(),
                              dilations=[1, dilation_rate, dilation_rate, 1])
        y = real_tf.nn.bias_add(y, bias)
        return activation(y) if activation is not None else y

    def resize(x: Any, scale: float = 2, to_shape: Any = None, align_corners: bool = True,
               dynamic: bool = False, func: Any = None, name: str = "resize") -> Any:
        shape = x.get_shape().as_list()
        size = [int(shape[1] * scale), int(shape[2] * scale)] if to_shape is None else list(to_shape[:2])
        with v1.variable_scope(name):
            return func(x, size, align_corners=align_corners)

    @contextlib.contextmanager
    def arg_scope(*args: Any, **kwargs: Any) -> Any:
        yield

    def unused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("not part of the inference graph")

    shim = _module("tensorflow")
    shim.__dict__.update({k: getattr(v1, k) for k in dir(v1) if not k.startswith("__")})
    shim.layers = types.SimpleNamespace(conv2d=conv2d)
    for name in ("tensorflow.contrib", "tensorflow.contrib.framework", "tensorflow.contrib.framework.python"):
        _module(name)
    _module("tensorflow.contrib.framework.python.ops", arg_scope=arg_scope, add_arg_scope=lambda f: f)
    _module("neuralgym", Config=unused)
    _module("neuralgym.models", Model=type("Model", (), {"__init__": lambda self, name: None}))
    _module("neuralgym.ops")
    _module("neuralgym.ops.layers", resize=resize, flatten=unused)
    _module("neuralgym.ops.summary_ops", scalar_summary=unused, images_summary=unused, gradients_summary=unused)
    _module("neuralgym.ops.gan_ops", gan_hinge_loss=unused, random_interpolates=unused)
    _module("neuralgym.ops.loss_ops")
    _module("cv2")
    _module("PIL", Image=None, ImageDraw=None)
    return real_tf


def main(checkout: str, work: str, sizes: list[int]) -> None:
    real_tf = _install_stand_ins()
    v1 = real_tf.compat.v1
    sys.path.insert(0, checkout)
    from inpaint_model import InpaintCAModel  # type: ignore[import-not-found]

    for size in sizes:
        bgr = np.load(f"{work}/image_{size}.npy")[..., ::-1]
        mask = np.repeat(np.load(f"{work}/mask_{size}.npy")[..., None].astype(np.uint8) * 255, 3, axis=2)
        with real_tf.Graph().as_default():
            batch = v1.constant(np.concatenate([bgr[None], mask[None]], axis=2), dtype=real_tf.float32)
            output = InpaintCAModel().build_server_graph(types.SimpleNamespace(guided=False), batch)
            result = v1.saturate_cast(v1.reverse((output + 1.0) * 127.5, [-1]), real_tf.uint8)  # test.py
            reader = real_tf.train.load_checkpoint(f"{work}/release")
            variables = v1.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
            names = [v.name.split(":")[0] for v in variables]
            assign = [v1.assign(v, reader.get_tensor(n)) for v, n in zip(variables, names, strict=True)]
            with v1.Session() as session:
                session.run(assign)
                complete, u8 = session.run([output, result])
        np.save(f"{work}/tf_complete_{size}.npy", complete[0])
        np.save(f"{work}/tf_u8_{size}.npy", u8[0])
        with open(f"{work}/variables.txt", "w") as fh:
            fh.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]])
