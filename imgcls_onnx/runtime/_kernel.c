/* The compiled preprocessing kernel: runtime/resize.py and the normalisation table lookup, in C.
 *
 * Bit-exact with runtime/resize.py (the oracle the tests hold it to, which follows OpenCV's x86-64 resize.cpp) and
 * with PreprocessSpec.fill. Every step is integer arithmetic except the interpolation tables, whose float steps are
 * numpy's, operation by operation:
 *
 *   INTER_LINEAR table (resize.py linear_table; OpenCV resizeGeneric_ with HResizeLinear / VResizeLinear):
 *     scale = 1.0 / ((double)dst / src)                    float64, as numpy's 1.0 / (dst / src)
 *     f = (float)((d + 0.5) * scale - 0.5)                  float64 multiply and subtract, then one cast to float32
 *     s = floorf(f); f -= s                                 float32 (exact)
 *     a0 = rintf((1.0f - f) * 2048.0f), a1 = rintf(f * 2048.0f)   float32 products, round half to even
 *   Built with -ffp-contract=off (setup.py): a contracted (d + 0.5) * scale - 0.5 is one rounding where numpy has two.
 *   The horizontal pass keeps value * 2048 >> 4 in int32, the vertical pass is VResizeLinearVec_32s8u's
 *   (((b0 * r0) >> 16) + ((b1 * r1) >> 16) + 2) >> 2; an exact halving is INTER_AREA's (a + b + c + d + 2) >> 2.
 *   INTER_NEAREST (resizeNN): s = min(floor(d * (1.0 / ((double)dst / src))), src - 1) in float64.
 *
 * The source is any strided uint8 (h, w, c) buffer (numpy views, negative strides, a Pillow RGBX buffer read as RGB);
 * only the output window's pixels are computed, from the source rows and columns they need. The GIL is released
 * while the pixels are computed.
 *
 *   resize(src, mode, new_w, new_h, x0, y0, cw, ch, out)        out: C-contiguous uint8 (ch, cw, c)
 *   resize(src, mode, new_w, new_h, x0, y0, cw, ch, out, lut)   out: C-contiguous float32 (3, ch, cw) = lut[c][v]
 *   mode: 0 INTER_LINEAR (with the exact-halving and same-size cases), 1 INTER_NEAREST
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* x86-64 Linux (GCC, clang): the integer loops are also compiled for AVX2 and picked at load time (ifunc); integer
 * results do not depend on the instructions, so both clones give the same bytes */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && \
    (defined(__clang__) ? __clang_major__ >= 14 : __GNUC__ >= 6)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

#define COEF_BITS 11
#define COEF_SCALE (1 << COEF_BITS)

typedef struct {
    const uint8_t *base; /* address of pixel (0, 0), channel 0 */
    Py_ssize_t h, w, cn;
    Py_ssize_t sy, sx, sc; /* strides in bytes (any sign) */
} Source;

typedef struct {
    uint8_t *u8;      /* uint8 HWC output, or NULL */
    float *f32;       /* float32 CHW output, or NULL */
    const float *lut; /* 3 x 256, with f32 */
    Py_ssize_t cw, ch, cn;
} Dest;

static inline uint8_t px(const Source *s, Py_ssize_t y, Py_ssize_t x, Py_ssize_t c) {
    return s->base[y * s->sy + x * s->sx + c * s->sc];
}

/* resize.py linear_table for output positions first .. first + count - 1 */
static void linear_table(Py_ssize_t src, Py_ssize_t dst, Py_ssize_t first, Py_ssize_t count, int clamp,
                         Py_ssize_t *ofs, int32_t *a0, int32_t *a1) {
    double scale = 1.0 / ((double)dst / (double)src);
    for (Py_ssize_t i = 0; i < count; i++) {
        double d = (double)(first + i);
        double t = (d + 0.5) * scale;
        float f = (float)(t - 0.5);
        float s = floorf(f);
        f = f - s;
        Py_ssize_t o = (Py_ssize_t)s;
        if (clamp) {
            if (o < 0) {
                f = 0.0f;
                o = 0;
            }
            if (o >= src - 1) {
                f = 0.0f;
                o = src - 1;
            }
        }
        float p0 = (1.0f - f) * (float)COEF_SCALE;
        float p1 = f * (float)COEF_SCALE;
        ofs[i] = o;
        a0[i] = (int32_t)rintf(p0);
        a1[i] = (int32_t)rintf(p1);
    }
}

/* the horizontal pass of one source row: the window's two taps gathered into g0 and g1 (cw * cn bytes each), then
 * out[i] = (g0[i] * ha0[i] + g1[i] * ha1[i]) >> 4 in one loop the compiler vectorises */
CLONES static void hpass(const Source *s, Py_ssize_t row, Py_ssize_t cw, const Py_ssize_t *restrict off0,
                  const Py_ssize_t *restrict off1, const int32_t *restrict ha0, const int32_t *restrict ha1,
                  uint8_t *restrict g0, uint8_t *restrict g1, int32_t *restrict out) {
    Py_ssize_t cn = s->cn, sc = s->sc, n = cw * cn;
    const uint8_t *r = s->base + row * s->sy;
    if (cn == 3 && sc == 1) { /* RGB pixels (packed, or RGBX as Pillow stores them): the common case */
        for (Py_ssize_t x = 0; x < cw; x++) {
            const uint8_t *p0 = r + off0[x], *p1 = r + off1[x];
            g0[3 * x] = p0[0];
            g0[3 * x + 1] = p0[1];
            g0[3 * x + 2] = p0[2];
            g1[3 * x] = p1[0];
            g1[3 * x + 1] = p1[1];
            g1[3 * x + 2] = p1[2];
        }
    } else {
        for (Py_ssize_t x = 0; x < cw; x++)
            for (Py_ssize_t c = 0; c < cn; c++) {
                g0[x * cn + c] = r[off0[x] + c * sc];
                g1[x * cn + c] = r[off1[x] + c * sc];
            }
    }
    for (Py_ssize_t i = 0; i < n; i++) out[i] = ((int32_t)g0[i] * ha0[i] + (int32_t)g1[i] * ha1[i]) >> 4;
}

/* one finished output row of uint8 values (cw * cn, HWC order) into the destination */
static void emit(const Dest *d, Py_ssize_t y, const uint8_t *line) {
    Py_ssize_t cw = d->cw;
    if (d->u8) {
        memcpy(d->u8 + y * cw * d->cn, line, (size_t)(cw * d->cn));
        return;
    }
    for (Py_ssize_t c = 0; c < 3; c++) {
        const float *t = d->lut + 256 * c;
        float *o = d->f32 + (c * d->ch + y) * cw;
        for (Py_ssize_t x = 0; x < cw; x++) o[x] = t[line[3 * x + c]];
    }
}

/* VResizeLinearVec_32s8u: line[i] = (((c0 * t0[i]) >> 16) + ((c1 * t1[i]) >> 16) + 2) >> 2 */
CLONES static void vpass(const int32_t *restrict t0, const int32_t *restrict t1, int32_t c0, int32_t c1,
                         Py_ssize_t n, uint8_t *restrict line) {
    for (Py_ssize_t i = 0; i < n; i++) line[i] = (uint8_t)((((c0 * t0[i]) >> 16) + ((c1 * t1[i]) >> 16) + 2) >> 2);
}

static int resize_linear(const Source *s, Py_ssize_t new_w, Py_ssize_t new_h, Py_ssize_t x0, Py_ssize_t y0,
                         const Dest *d) {
    Py_ssize_t cw = d->cw, ch = d->ch, cn = s->cn, h = s->h, w = s->w, n = cw * cn;
    /* one allocation: offsets (xofs, the byte offsets of both taps, yofs), coefficient tables (per column, then
     * per value), two horizontal rows, the gathered taps and one output line */
    size_t bytes = sizeof(Py_ssize_t) * (3 * cw + ch) + sizeof(int32_t) * (2 * cw + 2 * ch + 2 * n + 2 * n) +
                   (size_t)(3 * n);
    char *mem = malloc(bytes);
    if (!mem) return -1;
    Py_ssize_t *xofs = (Py_ssize_t *)mem, *off0 = xofs + cw, *off1 = off0 + cw, *yofs = off1 + cw;
    int32_t *a0 = (int32_t *)(yofs + ch), *a1 = a0 + cw, *b0 = a1 + cw, *b1 = b0 + ch;
    int32_t *ha0 = b1 + ch, *ha1 = ha0 + n, *rows = ha1 + n;
    uint8_t *g0 = (uint8_t *)(rows + 2 * n), *g1 = g0 + n, *line = g1 + n;
    linear_table(w, new_w, x0, cw, 1, xofs, a0, a1);
    linear_table(h, new_h, y0, ch, 0, yofs, b0, b1);
    for (Py_ssize_t x = 0; x < cw; x++) {
        off0[x] = xofs[x] * s->sx;
        off1[x] = (xofs[x] + 1 < w - 1 ? xofs[x] + 1 : w - 1) * s->sx;
        for (Py_ssize_t c = 0; c < cn; c++) {
            ha0[x * cn + c] = a0[x];
            ha1[x * cn + c] = a1[x];
        }
    }
    /* two horizontal rows, each remembered with its source row: output rows read rows sy0 <= sy1, both rising */
    int32_t *slot[2] = {rows, rows + n};
    Py_ssize_t held[2] = {-1, -1};
    for (Py_ssize_t y = 0; y < ch; y++) {
        Py_ssize_t r0 = yofs[y] < 0 ? 0 : (yofs[y] > h - 1 ? h - 1 : yofs[y]);
        Py_ssize_t r1 = yofs[y] + 1 < 0 ? 0 : (yofs[y] + 1 > h - 1 ? h - 1 : yofs[y] + 1);
        int32_t *t0 = NULL, *t1 = NULL;
        for (int k = 0; k < 2; k++) {
            if (held[k] == r0) t0 = slot[k];
            if (held[k] == r1) t1 = slot[k];
        }
        if (!t0) {
            int k = (t1 == slot[0]) ? 1 : 0; /* never overwrite the row this output also reads */
            hpass(s, r0, cw, off0, off1, ha0, ha1, g0, g1, slot[k]);
            held[k] = r0;
            t0 = slot[k];
            if (r1 == r0) t1 = t0;
        }
        if (!t1) {
            int k = (t0 == slot[0]) ? 1 : 0;
            hpass(s, r1, cw, off0, off1, ha0, ha1, g0, g1, slot[k]);
            held[k] = r1;
            t1 = slot[k];
        }
        vpass(t0, t1, b0[y], b1[y], n, line);
        emit(d, y, line);
    }
    free(mem);
    return 0;
}

static int resize_half(const Source *s, Py_ssize_t x0, Py_ssize_t y0, const Dest *d) {
    uint8_t *line = malloc((size_t)(d->cw * s->cn));
    if (!line) return -1;
    for (Py_ssize_t y = 0; y < d->ch; y++) {
        Py_ssize_t sy = 2 * (y0 + y);
        for (Py_ssize_t x = 0; x < d->cw; x++) {
            Py_ssize_t sx = 2 * (x0 + x);
            for (Py_ssize_t c = 0; c < s->cn; c++) {
                int v = px(s, sy, sx, c) + px(s, sy, sx + 1, c) + px(s, sy + 1, sx, c) + px(s, sy + 1, sx + 1, c);
                line[x * s->cn + c] = (uint8_t)((v + 2) >> 2);
            }
        }
        emit(d, y, line);
    }
    free(line);
    return 0;
}

static int resize_nearest(const Source *s, Py_ssize_t new_w, Py_ssize_t new_h, Py_ssize_t x0, Py_ssize_t y0,
                          const Dest *d) {
    Py_ssize_t *sx = malloc(sizeof(Py_ssize_t) * d->cw);
    uint8_t *line = malloc((size_t)(d->cw * s->cn));
    if (!sx || !line) {
        free(sx);
        free(line);
        return -1;
    }
    double fx = 1.0 / ((double)new_w / (double)s->w), fy = 1.0 / ((double)new_h / (double)s->h);
    for (Py_ssize_t x = 0; x < d->cw; x++) {
        Py_ssize_t v = (Py_ssize_t)floor((double)(x0 + x) * fx);
        sx[x] = v < s->w - 1 ? v : s->w - 1;
    }
    for (Py_ssize_t y = 0; y < d->ch; y++) {
        Py_ssize_t sy = (Py_ssize_t)floor((double)(y0 + y) * fy);
        if (sy > s->h - 1) sy = s->h - 1;
        for (Py_ssize_t x = 0; x < d->cw; x++)
            for (Py_ssize_t c = 0; c < s->cn; c++) line[x * s->cn + c] = px(s, sy, sx[x], c);
        emit(d, y, line);
    }
    free(sx);
    free(line);
    return 0;
}

static int copy_window(const Source *s, Py_ssize_t x0, Py_ssize_t y0, const Dest *d) {
    uint8_t *line = malloc((size_t)(d->cw * s->cn));
    if (!line) return -1;
    for (Py_ssize_t y = 0; y < d->ch; y++) {
        for (Py_ssize_t x = 0; x < d->cw; x++)
            for (Py_ssize_t c = 0; c < s->cn; c++) line[x * s->cn + c] = px(s, y0 + y, x0 + x, c);
        emit(d, y, line);
    }
    free(line);
    return 0;
}

static int is_format(const Py_buffer *b, const char *want) {
    const char *f = b->format ? b->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@' || f[0] == '|') f++;
    return strcmp(f, want) == 0;
}

static int c_contiguous(const Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t n) {
    return b->len == n * itemsize && PyBuffer_IsContiguous(b, 'C') && !b->readonly;
}

static PyObject *kernel_resize(PyObject *self, PyObject *args) {
    PyObject *src_obj, *out_obj, *lut_obj = Py_None;
    int mode;
    Py_ssize_t new_w, new_h, x0, y0, cw, ch;
    if (!PyArg_ParseTuple(args, "OinnnnnnO|O:resize", &src_obj, &mode, &new_w, &new_h, &x0, &y0, &cw, &ch,
                          &out_obj, &lut_obj))
        return NULL;
    Py_buffer src, out, lut;
    if (PyObject_GetBuffer(src_obj, &src, PyBUF_RECORDS_RO) < 0) return NULL;
    PyObject *result = NULL;
    int have_out = 0, have_lut = 0;
    if (src.ndim != 3 || !is_format(&src, "B")) {
        PyErr_SetString(PyExc_ValueError, "resize: the source must be a uint8 buffer of shape (h, w, c)");
        goto done;
    }
    Source s = {(const uint8_t *)src.buf, src.shape[0], src.shape[1], src.shape[2],
                src.strides[0], src.strides[1], src.strides[2]};
    if (s.h <= 0 || s.w <= 0 || s.cn <= 0 || new_w <= 0 || new_h <= 0 || (mode != 0 && mode != 1)) {
        PyErr_Format(PyExc_ValueError, "resize: cannot resize %zdx%zd to %zdx%zd", s.w, s.h, new_w, new_h);
        goto done;
    }
    if (x0 < 0 || y0 < 0 || cw <= 0 || ch <= 0 || x0 + cw > new_w || y0 + ch > new_h) {
        PyErr_SetString(PyExc_ValueError, "resize: the window is outside the output");
        goto done;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_RECORDS) < 0) goto done;
    have_out = 1;
    Dest d = {NULL, NULL, NULL, cw, ch, s.cn};
    if (lut_obj == Py_None) {
        if (!is_format(&out, "B") || !c_contiguous(&out, 1, ch * cw * s.cn)) {
            PyErr_SetString(PyExc_ValueError, "resize: out must be a writable C-contiguous uint8 (ch, cw, c) buffer");
            goto done;
        }
        d.u8 = (uint8_t *)out.buf;
    } else {
        if (PyObject_GetBuffer(lut_obj, &lut, PyBUF_RECORDS_RO) < 0) goto done;
        have_lut = 1;
        if (s.cn != 3 || !is_format(&lut, "f") || lut.len != 3 * 256 * 4 || !PyBuffer_IsContiguous(&lut, 'C') ||
            !is_format(&out, "f") || !c_contiguous(&out, 4, 3 * ch * cw)) {
            PyErr_SetString(PyExc_ValueError,
                            "resize: with a table, the source has 3 channels, lut is C-contiguous float32 (3, 256) "
                            "and out a writable C-contiguous float32 (3, ch, cw) buffer");
            goto done;
        }
        d.f32 = (float *)out.buf;
        d.lut = (const float *)lut.buf;
    }
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    if (new_w == s.w && new_h == s.h) {
        rc = copy_window(&s, x0, y0, &d);
    } else if (mode == 1) {
        rc = resize_nearest(&s, new_w, new_h, x0, y0, &d);
    } else if (new_w * 2 == s.w && new_h * 2 == s.h) {
        rc = resize_half(&s, x0, y0, &d);
    } else {
        rc = resize_linear(&s, new_w, new_h, x0, y0, &d);
    }
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (have_lut) PyBuffer_Release(&lut);
    if (have_out) PyBuffer_Release(&out);
    PyBuffer_Release(&src);
    return result;
}

static PyObject *kernel_lookup(PyObject *self, PyObject *args) {
    /* lookup(staged, lut, out): out[c, y, x] = lut[c, staged[y, x, c]] (PreprocessSpec.fill) */
    PyObject *src_obj, *lut_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOO:lookup", &src_obj, &lut_obj, &out_obj)) return NULL;
    Py_buffer src;
    if (PyObject_GetBuffer(src_obj, &src, PyBUF_RECORDS_RO) < 0) return NULL;
    if (src.ndim != 3 || !is_format(&src, "B") || src.shape[0] <= 0 || src.shape[1] <= 0) {
        PyBuffer_Release(&src);
        PyErr_SetString(PyExc_ValueError, "lookup: the source must be a uint8 buffer of shape (h, w, 3)");
        return NULL;
    }
    Py_ssize_t h = src.shape[0], w = src.shape[1];
    PyBuffer_Release(&src);
    /* the same as resize() at the source's own size, whose window copy is the identity */
    PyObject *call = Py_BuildValue("(OinnnnnnOO)", src_obj, 0, w, h, (Py_ssize_t)0, (Py_ssize_t)0, w, h, out_obj,
                                   lut_obj);
    if (!call) return NULL;
    PyObject *r = kernel_resize(self, call);
    Py_DECREF(call);
    return r;
}

/* ---- Pillow's pixels without a copy: Arrow's C data interface (Pillow >= 11.2, Image.__arrow_c_array__) ---- */

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* A read-only buffer over the bytes an Arrow array exports; it holds the two capsules, and with them the exporter's
 * memory (the capsule's destructor calls the array's release). */
typedef struct {
    PyObject_HEAD
    PyObject *schema, *array;
    const void *ptr;
    Py_ssize_t len;
} Pixels;

static int pixels_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Pixels *p = (Pixels *)self;
    return PyBuffer_FillInfo(view, self, (void *)p->ptr, p->len, 1, flags);
}

static void pixels_dealloc(PyObject *self) {
    Pixels *p = (Pixels *)self;
    Py_XDECREF(p->array);
    Py_XDECREF(p->schema);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs pixels_as_buffer = {pixels_getbuffer, NULL};

static PyTypeObject PixelsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "imgcls_onnx.runtime._kernel.Pixels",
    .tp_basicsize = sizeof(Pixels),
    .tp_dealloc = pixels_dealloc,
    .tp_as_buffer = &pixels_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "the bytes of an Arrow array of uint8 pixels (read-only, no copy)",
};

static PyObject *kernel_arrow_pixels(PyObject *self, PyObject *args) {
    /* arrow_pixels((schema_capsule, array_capsule), nbytes) -> Pixels: the pixel bytes of an image exported as
     * Pillow does (uint8 "C" for one band; "+w:4" of uint8 for 4-byte pixels), exactly nbytes long */
    PyObject *schema_obj, *array_obj;
    Py_ssize_t nbytes;
    if (!PyArg_ParseTuple(args, "(OO)n:arrow_pixels", &schema_obj, &array_obj, &nbytes)) return NULL;
    struct ArrowSchema *schema = PyCapsule_GetPointer(schema_obj, "arrow_schema");
    if (!schema) return NULL;
    struct ArrowArray *array = PyCapsule_GetPointer(array_obj, "arrow_array");
    if (!array) return NULL;
    const void *ptr = NULL;
    int64_t count = -1;
    if (!array->release || !schema->format) {
        /* released: nothing to read */
    } else if (strcmp(schema->format, "C") == 0 && array->n_buffers == 2 && array->offset == 0) {
        ptr = array->buffers[1];
        count = array->length;
    } else if (strcmp(schema->format, "+w:4") == 0 && schema->n_children == 1 &&
               strcmp(schema->children[0]->format, "C") == 0 && array->n_children == 1 && array->offset == 0) {
        struct ArrowArray *child = array->children[0];
        if (child->n_buffers == 2 && child->offset == 0 && child->length == 4 * array->length) {
            ptr = child->buffers[1];
            count = child->length;
        }
    }
    if (!ptr || count != nbytes) {
        PyErr_Format(PyExc_ValueError, "arrow_pixels: not a contiguous uint8 pixel array of %zd bytes (format %s)",
                     nbytes, schema->format ? schema->format : "?");
        return NULL;
    }
    Pixels *p = PyObject_New(Pixels, &PixelsType);
    if (!p) return NULL;
    p->schema = Py_NewRef(schema_obj);
    p->array = Py_NewRef(array_obj);
    p->ptr = ptr;
    p->len = nbytes;
    return (PyObject *)p;
}

static PyMethodDef methods[] = {
    {"arrow_pixels", kernel_arrow_pixels, METH_VARARGS, "arrow_pixels((schema, array), nbytes) -> Pixels"},
    {"resize", kernel_resize, METH_VARARGS, "resize(src, mode, new_w, new_h, x0, y0, cw, ch, out[, lut])"},
    {"lookup", kernel_lookup, METH_VARARGS, "lookup(staged, lut, out): out[c, y, x] = lut[c, staged[y, x, c]]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel",
                                    "imgcls-onnx's compiled preprocessing kernel (see _kernel.c)", -1, methods};

PyMODINIT_FUNC PyInit__kernel(void) {
    if (PyType_Ready(&PixelsType) < 0) return NULL;
    return PyModule_Create(&module);
}
