/* Typed copy-in and finiteness check (template, see linalg_inst.h). */

void SFX(em__la_load)(const em_tensor *x, int core, int64_t off, T *dst, bool trans) {
    const T *p = (const T *)em__ptr(x) + off;
    int nd = x->ndim;
    int64_t rows = x->shape[nd - core], cols = core == 2 ? x->shape[nd - 1] : 1;
    int64_t rs = x->strides[nd - core], cs = core == 2 ? x->strides[nd - 1] : 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            T v = p[i * rs + j * cs];
            if (trans) dst[j * rows + i] = v;
            else dst[i * cols + j] = v;
        }
}

bool SFX(em__la_finite)(int64_t n, const T *a) {
    T acc = 0;
    for (int64_t i = 0; i < n; i++) acc += a[i] * 0; /* NaN/inf give NaN */
    return acc == 0;
}
