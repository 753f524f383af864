"""Build glue: the cffi extension lives in csrc/ (see csrc/build_ffi.py).

The extension uses only the limited C API (cffi's out-of-line API mode), so
wheels are tagged abi3 for CPython and install on every later version.
"""

import platform

from setuptools import setup

try:
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # pragma: no cover - wheel not installed: plain sdist/develop builds
    _bdist_wheel = None

cmdclass = {}
if _bdist_wheel is not None and platform.python_implementation() == "CPython":

    class bdist_wheel_abi3(_bdist_wheel):  # noqa: N801 - setuptools command naming
        def get_tag(self):
            python, abi, plat = super().get_tag()
            if python.startswith("cp"):
                return "cp39", "abi3", plat
            return python, abi, plat

    cmdclass["bdist_wheel"] = bdist_wheel_abi3

setup(cffi_modules=["csrc/build_ffi.py:ffibuilder"], cmdclass=cmdclass)
