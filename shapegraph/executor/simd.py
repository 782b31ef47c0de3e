"""Eight-lane float32 vectors in compiled kernels: a numba type and its few operations.

numba has no vector type, and its loop vectorizer keeps a register-blocked product's
accumulators in memory (or gathers its operands) unless every index is provably affine.
:class:`F32x8` is LLVM's ``<8 x float>`` as a numba value: a kernel holds each accumulator
in a local variable, and LLVM keeps them in registers (``vgemm``'s 8 x 24 tile is 24 of
them). Loads and stores take an array (any view) and an element offset from its first
element (or an address, an integer, and an offset from it), as BLAS takes a pointer and
leading dimensions: strides are the caller's.

Nothing here checks bounds: the caller's indices must stay within the array's memory. On a
machine without AVX the vectors are split into smaller ones by LLVM: slower, not wrong.

>>> import numpy as np
>>> from shapegraph.executor.jit import njit
>>> @njit
... def axpy8(a, x, y):
...     vstore(y, 0, vfma(vsplat(a), vload(x, 0), vload(y, 0)))
>>> y = np.ones(8, np.float32)
>>> axpy8(np.float32(2.0), np.arange(8, dtype=np.float32), y)
>>> y.tolist()
[1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from shapegraph.executor.jit import njit

__all__ = ["LANES", "WIDE_LANES", "F32x8", "F32x16", "address", "empty64", "fload", "fstore",
           "iload", "keep", "prefetch", "prefetchw", "set_thread_count", "thread_count", "vadd",
           "vdiv", "vfma", "vload", "vloadn", "vloadnf", "vmax", "vmul", "vnext", "vout", "vprev",
           "vput", "vrelu", "vsplat", "vstore", "vstoren", "vsub", "vtranspose8", "vunzip",
           "vzero", "vzip", "wfma", "whi", "wlo", "wload", "wmax", "wout", "wput", "wsplat",
           "wstore", "wzero"]

LANES = 8
_VT = ir.VectorType(ir.FloatType(), LANES)
_I32 = ir.IntType(32)


class _F32xN(types.Type):
    """numba's type of an ``<N x float>`` value (``lanes`` floats in one register)."""

    lanes = 0

    def __init__(self) -> None:
        super().__init__(name=f"f32x{self.lanes}")


class F32x8(_F32xN):
    """``<8 x float>``: one AVX register."""

    lanes = LANES


# Sixteen lanes (one AVX-512 register), for the register tiles on machines that have it
# (``kernels_vgemm.WIDE``): what the tiles and pools need
WIDE_LANES = 16
_WT = ir.VectorType(ir.FloatType(), WIDE_LANES)


class F32x16(_F32xN):
    """``<16 x float>``: one AVX-512 register."""

    lanes = WIDE_LANES


class _F32xNModel(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type,  # type: ignore[no-untyped-call]
                         ir.VectorType(ir.FloatType(), fe_type.lanes))


register_model(F32x8)(_F32xNModel)
register_model(F32x16)(_F32xNModel)
f32x8 = F32x8()
f32x16 = F32x16()


def _addr(context: Any, builder: Any, aryty: Any, ary: Any, idx: Any, ty: Any) -> Any:
    """The address of the element ``idx`` places after the array's first (or after the
    address ``ary``, an integer), as ``ty*``."""
    if isinstance(aryty, types.Integer):  # elements of ty's scalar type from there
        elem = ty.element if isinstance(ty, ir.VectorType) else ty
        return builder.bitcast(builder.gep(builder.inttoptr(ary, elem.as_pointer()), [idx]),
                               ty.as_pointer())
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [idx]), ty.as_pointer())


def _check_f32(arr: Any) -> None:
    if isinstance(arr, types.Integer):  # an address
        return
    if not isinstance(arr, types.Array) or arr.dtype != types.float32:
        raise TypeError(f"simd: a float32 array or an address is needed, got {arr}")


def _fload(typingctx: Any, arr: Any, i: Any) -> Any:
    _check_f32(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load(_addr(context, builder, sig.args[0], args[0], args[1],
                                  ir.FloatType()), align=4)
    return types.float32(arr, types.intp), codegen


def _iload(typingctx: Any, addr: Any, i: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load(_addr(context, builder, sig.args[0], args[0], args[1],
                                  ir.IntType(64)), align=8)
    return types.int64(types.intp, types.intp), codegen


def _fstore(typingctx: Any, arr: Any, i: Any, x: Any) -> Any:
    _check_f32(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.store(args[2], _addr(context, builder, sig.args[0], args[0], args[1],
                                     ir.FloatType()), align=4)
        return context.get_dummy_value()
    return types.none(arr, types.intp, types.float32), codegen


def _prefetch_of(write: int) -> Any:
    """The typer of ``prefetch`` (``write`` 0) and ``prefetchw`` (1)."""
    def typer(typingctx: Any, addr: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            i8p = ir.IntType(8).as_pointer()
            fn = _llvm_function(builder, "llvm.prefetch.p0i8",
                                ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32]))
            builder.call(fn, [builder.inttoptr(args[0], i8p), ir.Constant(_I32, write),
                              ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
            return context.get_dummy_value()
        return types.none(types.intp), codegen
    return typer


def _address(typingctx: Any, arr: Any) -> Any:
    if not isinstance(arr, types.Array):
        raise TypeError(f"simd.address: an array is needed, got {arr}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.ptrtoint(data, ir.IntType(64))
    return types.intp(arr), codegen


def _vtranspose8(typingctx: Any, r0: Any, r1: Any, r2: Any, r3: Any, r4: Any, r5: Any,
                 r6: Any, r7: Any) -> Any:
    vs = (r0, r1, r2, r3, r4, r5, r6, r7)
    if any(v != f32x8 for v in vs):
        raise TypeError("simd.vtranspose8: eight f32x8 vectors are needed")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        def shuf(a: Any, b: Any, idx: list[int]) -> Any:
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, LANES), idx))
        # t[2u + e]: rows 2u and 2u + 1 interleaved, their lanes 0, 1, 4, 5 (e = 0) or
        # 2, 3, 6, 7 (e = 1); then pairs of those, then halves (the AVX 8x8 transpose)
        lo, hi = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
        t = [shuf(args[i & ~1], args[i | 1], lo if i % 2 == 0 else hi) for i in range(LANES)]
        lo2, hi2 = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
        # s[4h + j] (rows 4h .. 4h+3, j < 4): their columns j and j + 4
        s = [shuf(t[4 * (i // 4) + (i % 4) // 2], t[4 * (i // 4) + 2 + (i % 4) // 2],
                  lo2 if i % 2 == 0 else hi2) for i in range(LANES)]
        out = [shuf(s[r % 4], s[4 + r % 4],
                    [0, 1, 2, 3, 8, 9, 10, 11] if r < 4 else [4, 5, 6, 7, 12, 13, 14, 15])
               for r in range(LANES)]
        return context.make_tuple(builder, sig.return_type, out)
    return types.UniTuple(f32x8, LANES)(*vs), codegen  # type: ignore[no-untyped-call]


def _llvm_function(builder: Any, name: str, fnty: Any) -> Any:
    return cgutils.get_or_insert_function(builder.module, fnty, name)  # type: ignore


def _fma(builder: Any, a: Any, b: Any, c: Any, vt: Any = _VT) -> Any:
    """a * b + c with one rounding (LLVM's fma intrinsic: vfmadd where there is one)."""
    fn = _llvm_function(builder, f"llvm.fma.v{vt.count}f32", ir.FunctionType(vt, [vt] * 3))
    return builder.call(fn, [a, b, c])


def _splat(builder: Any, x: Any, vt: Any = _VT) -> Any:
    v = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, vt.count), [0] * vt.count))


def _whalf(hi: bool) -> Any:
    def typer(typingctx: Any, v: Any) -> Any:
        if v != f32x16:
            raise TypeError("simd.wlo/whi: an f32x16 vector is needed")

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            idx = [i + (LANES if hi else 0) for i in range(LANES)]
            return builder.shuffle_vector(args[0], ir.Constant(_WT, ir.Undefined),
                                          ir.Constant(ir.VectorType(_I32, LANES), idx))
        return f32x8(f32x16), codegen
    return typer


def _vt(ty: Any) -> Any:
    """The LLVM vector type of a numba vector type (``f32x8``, ``f32x16``)."""
    return ir.VectorType(ir.FloatType(), ty.lanes)


def _load_of(ty: Any) -> Any:
    """The typer of ``vload``/``wload``: ``ty.lanes`` floats from an array or address."""
    def typer(typingctx: Any, arr: Any, i: Any) -> Any:
        _check_f32(arr)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.load(_addr(context, builder, sig.args[0], args[0], args[1],
                                      _vt(ty)), align=4)
        return ty(arr, types.intp), codegen
    return typer


def _store_of(ty: Any) -> Any:
    """The typer of ``vstore``/``wstore``: ``ty.lanes`` floats to an array or address."""
    def typer(typingctx: Any, arr: Any, i: Any, v: Any) -> Any:
        _check_f32(arr)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            builder.store(args[2], _addr(context, builder, sig.args[0], args[0], args[1],
                                         _vt(ty)), align=4)
            return context.get_dummy_value()
        return types.none(arr, types.intp, ty), codegen
    return typer


def _max_of(ty: Any) -> Any:
    """The typer of ``vmax``/``wmax``."""
    def typer(typingctx: Any, m: Any, v: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            m_, v_ = args
            take = builder.or_(builder.fcmp_ordered(">", v_, m_),
                               builder.fcmp_unordered("uno", v_, v_))
            return builder.select(take, v_, m_)
        return ty(ty, ty), codegen
    return typer


def _put_of(ty: Any) -> Any:
    """The typer of ``vput``/``wput``: v (+ beta * what was there) at an address."""
    def typer(typingctx: Any, addr: Any, i: Any, v: Any, beta: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            vt = _vt(ty)
            ptr = _addr(context, builder, sig.args[0], args[0], args[1], vt)
            b32 = context.cast(builder, args[3], sig.args[3], types.float32)
            with builder.if_else(builder.fcmp_ordered(
                    "==", b32, ir.Constant(ir.FloatType(), 0.0))) as (zero, other):
                with zero:
                    builder.store(args[2], ptr, align=4)
                with other:
                    old = builder.load(ptr, align=4)
                    builder.store(_fma(builder, _splat(builder, b32, vt), old, args[2], vt),
                                  ptr, align=4)
            return context.get_dummy_value()
        return types.none(types.intp, types.intp, ty, types.float64), codegen
    return typer


def _out_of(ty: Any) -> Any:
    """The typer of ``vout``/``wout``: an accumulator finished and stored at an address:
    plus a bias, plus beta times what was there, ReLU'd."""
    def typer(typingctx: Any, addr: Any, i: Any, v: Any, beta: Any, bias: Any,
              relu: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            vt = _vt(ty)
            ptr = _addr(context, builder, sig.args[0], args[0], args[1], vt)
            b32 = context.cast(builder, args[3], sig.args[3], types.float32)
            bias32 = context.cast(builder, args[4], sig.args[4], types.float32)
            v = builder.fadd(args[2], _splat(builder, bias32, vt))
            with builder.if_else(builder.fcmp_ordered(
                    "==", b32, ir.Constant(ir.FloatType(), 0.0))) as (zero, other):
                with zero:
                    at_zero = builder.basic_block
                with other:
                    added = _fma(builder, _splat(builder, b32, vt),
                                 builder.load(ptr, align=4), v, vt)
                    at_other = builder.basic_block
            out = builder.phi(vt)
            out.add_incoming(v, at_zero)
            out.add_incoming(added, at_other)
            zero_v = ir.Constant(vt, [0.0] * ty.lanes)
            relu_v = builder.select(builder.fcmp_ordered("<", out, zero_v), zero_v, out)
            flag = context.cast(builder, args[5], sig.args[5], types.boolean)
            builder.store(builder.select(flag, relu_v, out), ptr, align=4)
            return context.get_dummy_value()
        return types.none(types.intp, types.intp, ty, types.float64, types.float32,
                          types.intp), codegen
    return typer


def _splat_of(ty: Any) -> Any:
    def typer(typingctx: Any, x: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return _splat(builder, args[0], _vt(ty))
        return ty(types.float32), codegen
    return typer


def _zero_of(ty: Any) -> Any:
    def typer(typingctx: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return ir.Constant(_vt(ty), [0.0] * ty.lanes)
        return ty(), codegen
    return typer


def _fma_of(ty: Any) -> Any:
    def typer(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return _fma(builder, args[0], args[1], args[2], _vt(ty))
        return ty(ty, ty, ty), codegen
    return typer


def _lanes_below(builder: Any, n: Any) -> Any:
    """The mask of the lanes i < n (n an integer of any width)."""
    n32 = builder.trunc(n, _I32) if n.type.width > 32 else n
    splat = builder.shuffle_vector(
        builder.insert_element(ir.Constant(ir.VectorType(_I32, LANES), ir.Undefined), n32,
                               ir.Constant(_I32, 0)),
        ir.Constant(ir.VectorType(_I32, LANES), ir.Undefined),
        ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))
    return builder.icmp_signed("<", ir.Constant(ir.VectorType(_I32, LANES), list(range(LANES))),
                               splat)


_MASK = ir.VectorType(ir.IntType(1), LANES)


def _vloadn(typingctx: Any, arr: Any, i: Any, n: Any) -> Any:
    _check_f32(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _addr(context, builder, sig.args[0], args[0], args[1], _VT)
        fn = _llvm_function(builder, "llvm.masked.load.v8f32.p0",
                            ir.FunctionType(_VT, [ptr.type, _I32, _MASK, _VT]))
        return builder.call(fn, [ptr, ir.Constant(_I32, 4), _lanes_below(builder, args[2]),
                                 ir.Constant(_VT, [0.0] * LANES)])
    return f32x8(arr, types.intp, types.intp), codegen


def _vloadnf(typingctx: Any, arr: Any, i: Any, n: Any, x: Any) -> Any:
    _check_f32(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _addr(context, builder, sig.args[0], args[0], args[1], _VT)
        fn = _llvm_function(builder, "llvm.masked.load.v8f32.p0",
                            ir.FunctionType(_VT, [ptr.type, _I32, _MASK, _VT]))
        fill = _splat(builder, context.cast(builder, args[3], sig.args[3], types.float32))
        return builder.call(fn, [ptr, ir.Constant(_I32, 4), _lanes_below(builder, args[2]),
                                 fill])
    return f32x8(arr, types.intp, types.intp, types.float32), codegen


def _vstoren(typingctx: Any, arr: Any, i: Any, v: Any, n: Any) -> Any:
    _check_f32(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _addr(context, builder, sig.args[0], args[0], args[1], _VT)
        fn = _llvm_function(builder, "llvm.masked.store.v8f32.p0",
                            ir.FunctionType(ir.VoidType(), [_VT, ptr.type, _I32, _MASK]))
        builder.call(fn, [args[2], ptr, ir.Constant(_I32, 4), _lanes_below(builder, args[3])])
        return context.get_dummy_value()
    return types.none(arr, types.intp, f32x8, types.intp), codegen


def _vadd(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fadd(args[0], args[1])
    return f32x8(f32x8, f32x8), codegen


def _vmul(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fmul(args[0], args[1])
    return f32x8(f32x8, f32x8), codegen


def _vsub(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fsub(args[0], args[1])
    return f32x8(f32x8, f32x8), codegen




def _vdiv(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fdiv(args[0], args[1])
    return f32x8(f32x8, f32x8), codegen


def _vrelu(typingctx: Any, a: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        zero = ir.Constant(_VT, [0.0] * LANES)
        return builder.select(builder.fcmp_ordered("<", args[0], zero), zero, args[0])
    return f32x8(f32x8), codegen


def _shuffle_pair(name: str, lo: list[int], hi: list[int]) -> Any:
    def typer(typingctx: Any, a: Any, b: Any) -> Any:
        if a != f32x8 or b != f32x8:
            raise TypeError(f"simd.{name}: two f32x8 vectors are needed")

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            idx = [ir.Constant(ir.VectorType(_I32, LANES), v) for v in (lo, hi)]
            out = [builder.shuffle_vector(args[0], args[1], i) for i in idx]
            return context.make_tuple(builder, sig.return_type, out)
        return types.UniTuple(f32x8, 2)(a, b), codegen  # type: ignore[no-untyped-call]
    return typer


def _vnext(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        idx = ir.Constant(ir.VectorType(_I32, LANES), list(range(1, LANES + 1)))
        return builder.shuffle_vector(args[0], args[1], idx)
    return f32x8(f32x8, f32x8), codegen


def _vprev(typingctx: Any, a: Any, b: Any) -> Any:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        idx = ir.Constant(ir.VectorType(_I32, LANES), list(range(LANES - 1, 2 * LANES - 1)))
        return builder.shuffle_vector(args[0], args[1], idx)
    return f32x8(f32x8, f32x8), codegen


def _launch_threads() -> None:
    """numba's threading layer started: its functions have their names from then on."""
    from numba.np.ufunc import parallel

    parallel._launch_threads()  # type: ignore[no-untyped-call]


def _thread_count(typingctx: Any) -> Any:
    _launch_threads()

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fnty = ir.FunctionType(cgutils.intp_t, [])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "get_num_threads")
        return builder.call(fn, [])
    return types.intp(), codegen


def _set_thread_count(typingctx: Any, n: Any) -> Any:
    _launch_threads()
    if not isinstance(n, types.Integer):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.VoidType(), [_I32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "set_num_threads")
        builder.call(fn, [context.cast(builder, args[0], sig.args[0], types.int32)])
        return context.get_dummy_value()
    return types.void(n), codegen


_F = Callable[..., Any]
# called in compiled code only (the typing context is numba's)
vload = cast(_F, intrinsic(_load_of(f32x8)))
"""vload(arr, i): the 8 floats at elements i .. i+7 after ``arr``'s first (``arr`` an
array, or an address: an int from ``address``; so for ``vstore``, ``fload``, ``fstore``)."""
vstore = cast(_F, intrinsic(_store_of(f32x8)))
"""vstore(arr, i, v): write v to elements i .. i+7 after ``arr``'s first."""
fload = cast(_F, intrinsic(_fload))
"""fload(arr, i): the float at element i after ``arr``'s first (no strides, no checks)."""
iload = cast(_F, intrinsic(_iload))
"""iload(addr, i): the int64 at element i from address ``addr``."""
fstore = cast(_F, intrinsic(_fstore))
"""fstore(arr, i, x): write the float32 x to element i after ``arr``'s first."""
address = cast(_F, intrinsic(_address))
"""address(arr): the address of ``arr``'s first element, as an int (for ``vput`` and the
other operations' address forms; the array must stay alive while it is used)."""
prefetch = cast(_F, intrinsic(_prefetch_of(0)))
"""prefetch(addr): ask for the cache line at address ``addr`` (a hint: never faults)."""
prefetchw = cast(_F, intrinsic(_prefetch_of(1)))
"""prefetchw(addr): ``prefetch``, the line to be written (``prefetchw`` on x86: a store to
it then finds it in the cache, owned)."""
thread_count = cast(_F, intrinsic(_thread_count))
"""thread_count(): the calling thread's number of numba threads, which a parallel loop
started now runs on. (numba's ``get_num_threads`` and ``set_num_threads`` in compiled code
call its threading layer at addresses put into the code, and a kernel calling them is not
cached on disk; these call the same functions by the names numba's parallel loops use.)"""
set_thread_count = cast(_F, intrinsic(_set_thread_count))
"""set_thread_count(n): the calling thread's parallel loops run on ``n`` threads from now
(1 to the number numba started: not checked)."""
vput = cast(_F, intrinsic(_put_of(f32x8)))
"""vput(addr, i, v, beta): the 8 floats at element i from address ``addr`` = v + beta *
them (not read when beta is 0: they may hold anything)."""
vout = cast(_F, intrinsic(_out_of(f32x8)))
"""vout(addr, i, v, beta, bias, relu): the 8 floats at element i from address ``addr`` = v +
bias + beta * them (not read when beta is 0), then ReLU'd where ``relu`` is not 0 (as
``vrelu``): a register tile's row finished as it is stored."""
vsplat = cast(_F, intrinsic(_splat_of(f32x8)))
"""vsplat(x): a float32 in every lane."""
vtranspose8 = cast(_F, intrinsic(_vtranspose8))
"""vtranspose8(r0, ..., r7): the 8 x 8 matrix of rows r0 .. r7, transposed: a tuple of its
8 columns (lane i of column j is lane j of r_i)."""
vzero = cast(_F, intrinsic(_zero_of(f32x8)))
"""vzero(): zeros."""
vfma = cast(_F, intrinsic(_fma_of(f32x8)))
"""vfma(a, b, c): a * b + c lane by lane, one rounding (``llvm.fma``)."""
vloadn = cast(_F, intrinsic(_vloadn))
"""vloadn(arr, i, n): ``vload`` of the first n lanes (0 <= n <= 8), zeros in the others;
memory past them is not touched."""
vstoren = cast(_F, intrinsic(_vstoren))
"""vstoren(arr, i, v, n): ``vstore`` of v's first n lanes (0 <= n <= 8); memory past them
is not touched."""
vadd = cast(_F, intrinsic(_vadd))
"""vadd(a, b): a + b lane by lane."""
vsub = cast(_F, intrinsic(_vsub))
"""vsub(a, b): a - b lane by lane."""
vmul = cast(_F, intrinsic(_vmul))
"""vmul(a, b): a * b lane by lane."""
vmax = cast(_F, intrinsic(_max_of(f32x8)))
"""vmax(m, v): lane by lane v where v > m or v is NaN, else m: a NaN on either side
propagates, as the scalar kernels' ``v if v > m or v != v else m`` (``np.maximum``)."""
vrelu = cast(_F, intrinsic(_vrelu))
"""vrelu(a): 0 in the lanes below 0, the lane itself elsewhere (NaN stays NaN), as the
scalar kernels' ``zero if v < zero else v``."""
vnext = cast(_F, intrinsic(_vnext))
"""vnext(a, b): a's lanes 1-7, then b's lane 0: a window one lane further along."""
vprev = cast(_F, intrinsic(_vprev))
"""vprev(a, b): a's lane 7, then b's lanes 0-6: a window one lane back (``vnext``'s twin)."""
vloadnf = cast(_F, intrinsic(_vloadnf))
"""vloadnf(arr, i, n, x): ``vloadn``, the other lanes x instead of zeros."""
vdiv = cast(_F, intrinsic(_vdiv))
"""vdiv(a, b): a / b lane by lane."""
vzip = cast(_F, intrinsic(_shuffle_pair("vzip", [0, 8, 1, 9, 2, 10, 3, 11],
                                        [4, 12, 5, 13, 6, 14, 7, 15])))
"""vzip(a, b): the lanes of a and b interleaved, as two vectors: (a0 b0 a1 b1 .. a3 b3,
a4 b4 .. a7 b7)."""
vunzip = cast(_F, intrinsic(_shuffle_pair("vunzip", [0, 2, 4, 6, 8, 10, 12, 14],
                                          [1, 3, 5, 7, 9, 11, 13, 15])))
"""vunzip(a, b): the 16 lanes of a then b split into the even ones and the odd ones (the
inverse of ``vzip``)."""
wload = cast(_F, intrinsic(_load_of(f32x16)))
"""wload(arr, i): ``vload`` of 16 floats (an ``f32x16``)."""
wstore = cast(_F, intrinsic(_store_of(f32x16)))
"""wstore(arr, i, v): ``vstore`` of 16 floats."""
wmax = cast(_F, intrinsic(_max_of(f32x16)))
"""wmax(m, v): ``vmax`` on 16 lanes."""
wput = cast(_F, intrinsic(_put_of(f32x16)))
"""wput(addr, i, v, beta): ``vput`` of 16 floats."""
wout = cast(_F, intrinsic(_out_of(f32x16)))
"""wout(addr, i, v, beta, bias, relu): ``vout`` of 16 floats."""
wsplat = cast(_F, intrinsic(_splat_of(f32x16)))
"""wsplat(x): a float32 in each of 16 lanes."""
wzero = cast(_F, intrinsic(_zero_of(f32x16)))
"""wzero(): 16 zeros."""
wfma = cast(_F, intrinsic(_fma_of(f32x16)))
"""wfma(a, b, c): ``vfma`` on 16 lanes."""
wlo = cast(_F, intrinsic(_whalf(False)))
"""wlo(v): lanes 0-7 of a 16-lane vector, as an ``f32x8``."""
whi = cast(_F, intrinsic(_whalf(True)))
"""whi(v): lanes 8-15 of a 16-lane vector, as an ``f32x8``."""


@njit(inline="always")
def empty64(n: int) -> Any:
    """``np.empty(n, np.float32)`` in compiled code with its first element 64-byte aligned
    (numba aligns to 32 bytes): a scratch buffer read by 16-lane vectors from its start,
    or from multiples of 16 floats, then never loads across two cache lines (a strip of
    ``vgemm``'s packed from B, a convolution's im2col tiles). A view: the buffer it is in
    lives as long as it does."""
    buf = np.empty(n + 16, np.float32)
    s = (-address(buf) & 63) >> 2
    return buf[s:s + n]


@njit(cache=True, nogil=True)
def keep(*arrays: Any) -> None:
    """Nothing, but a use of each array: numba frees an array right after its last use,
    and a raw address taken from it (``address``) is not a use. A kernel that works on an
    array it allocated through its address calls this after the last such access, so that
    the array lives until then (without it the memory was free while its address was
    still written: another allocation, on this thread or another, could take it; two
    threads' ``vgemm`` calls, each packing its strips, gave wrong rows about once in 300
    calls)."""
