//! Packing of strided operands into the panel layouts the microkernels stream through.
//!
//! An A panel holds `mr` rows, stored k-major (`dst[k * mr + i]`); a B panel holds `nr`
//! columns, stored k-major (`dst[k * nr + j]`). Rows/columns past the matrix edge are zero
//! so the kernels always compute full tiles. (The bf16-pair layout is in `bf16.rs`.)

use crate::convert;
use crate::mat::{ElemKind, Element, MatRef};
use crate::Isa;

/// Converts a contiguous run, using the vector converters for the half types.
#[inline]
fn convert_run<T: Element>(isa: Isa, src: &[T], dst: &mut [f32]) {
    match T::KIND {
        ElemKind::F32 => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = s.to_f32();
            }
        }
        ElemKind::Bf16 | ElemKind::F16 => convert::widen_with(isa, src, dst),
    }
}

/// Packs rows `[i0, i0 + rows)` and k-range `[p0, p0 + kc)` of `a` as consecutive
/// `mr`-row panels into `dst` (length `ceil(rows / mr) * mr * kc`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_a_f32<T: Element>(
    isa: Isa,
    a: &MatRef<'_, T>,
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [f32],
) {
    for (pi, panel) in dst.chunks_exact_mut(mr * kc).enumerate() {
        let r0 = pi * mr;
        let valid = mr.min(rows.saturating_sub(r0));
        pack_panel(isa, a, i0 + r0, valid, p0, kc, mr, panel);
    }
}

/// Packs k-range `[p0, p0 + kc)` and columns `[j0, j0 + cols)` of `b` as consecutive
/// `nr`-column panels into `dst`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_b_f32<T: Element>(
    isa: Isa,
    b: &MatRef<'_, T>,
    j0: usize,
    cols: usize,
    p0: usize,
    kc: usize,
    nr: usize,
    dst: &mut [f32],
) {
    if b.col_stride() == 1 && cols > 0 {
        // Rows of B are contiguous: walk k outermost so each source row is read as one
        // sequential run across all panels (per-panel order would touch a new page for
        // every k and defeat the prefetchers).
        let data = b.data();
        for k in 0..kc {
            let s = (p0 + k) * b.row_stride() + j0;
            let mut panels = dst.chunks_exact_mut(nr * kc);
            for chunk in data[s..s + cols].chunks(nr) {
                if let Some(panel) = panels.next() {
                    let d = &mut panel[k * nr..(k + 1) * nr];
                    convert_run(isa, chunk, &mut d[..chunk.len()]);
                    d[chunk.len()..].fill(0.0);
                }
            }
            for panel in panels {
                panel[k * nr..(k + 1) * nr].fill(0.0);
            }
        }
        return;
    }
    // A B panel is an A panel of the transposed matrix.
    let bt = b.t();
    for (pi, panel) in dst.chunks_exact_mut(nr * kc).enumerate() {
        let c0 = pi * nr;
        let valid = nr.min(cols.saturating_sub(c0));
        pack_panel(isa, &bt, j0 + c0, valid, p0, kc, nr, panel);
    }
}

/// One panel: `dst[k * w + i] = m(r0 + i, p0 + k)` for `i < valid`, zero for `i` in `valid..w`.
#[allow(clippy::too_many_arguments)]
fn pack_panel<T: Element>(
    isa: Isa,
    m: &MatRef<'_, T>,
    r0: usize,
    valid: usize,
    p0: usize,
    kc: usize,
    w: usize,
    dst: &mut [f32],
) {
    let data = m.data();
    let (rs, cs) = (m.row_stride(), m.col_stride());
    if valid < w {
        for row in dst.chunks_exact_mut(w) {
            row[valid..].fill(0.0);
        }
    }
    if valid == 0 {
        return;
    }
    let base = r0 * rs + p0 * cs;
    if rs == 1 && valid == w {
        // Each k step is one contiguous run of `w` elements.
        for (k, row) in dst.chunks_exact_mut(w).enumerate() {
            let s = base + k * cs;
            convert_run(isa, &data[s..s + w], row);
        }
    } else if cs == 1 && isa == Isa::Avx512 && cfg!(target_arch = "x86_64") {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512 is supported (Isa invariant); rows r0..r0 + valid and columns
        // p0..p0 + kc are in bounds (MatRef invariant); `dst` holds `kc * w` floats.
        unsafe {
            super::transpose::pack_rows_transposed(
                data[base..].as_ptr(),
                rs,
                valid,
                kc,
                w,
                dst.as_mut_ptr(),
            );
        }
    } else if cs == 1 && isa == Isa::Avx2 && cfg!(target_arch = "x86_64") {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as for AVX-512 above, with AVX2 supported.
        unsafe {
            super::transpose::pack_rows_transposed_avx2(
                data[base..].as_ptr(),
                rs,
                valid,
                kc,
                w,
                dst.as_mut_ptr(),
            );
        }
    } else if cs == 1 {
        // Rows are contiguous along k: read each row once, scatter with stride `w`.
        for i in 0..valid {
            let s = base + i * rs;
            for (k, v) in data[s..s + kc].iter().enumerate() {
                dst[k * w + i] = v.to_f32();
            }
        }
    } else {
        for (k, row) in dst.chunks_exact_mut(w).enumerate() {
            for (i, d) in row[..valid].iter_mut().enumerate() {
                *d = data[base + i * rs + k * cs].to_f32();
            }
        }
    }
}
