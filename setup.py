"""The compiled preprocessing kernel (imgcls_onnx/runtime/_kernel.c); everything else is in pyproject.toml.

The extension is optional: without a C compiler (or on a platform where it fails to build) the package installs
without it and the runtime uses the numpy code it must equal bit for bit (runtime/resize.py)."""
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# the float steps must be numpy's, operation by operation: no contraction of a * b + c into one FMA (GCC's default
# outside ISO C mode, e.g. on aarch64), no x87 excess precision on 32-bit x86
UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c99"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildKernel(build_ext):
    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = list(flags)
        super().build_extensions()


setup(
    ext_modules=[Extension("imgcls_onnx.runtime._kernel", ["imgcls_onnx/runtime/_kernel.c"], optional=True)],
    cmdclass={"build_ext": BuildKernel},
)
