//! Instruction-set selection: run-time detection, the `FERRITE_ISA` override and a
//! per-thread override for tests.
//!
//! Every public kernel resolves the ISA once on the calling thread (see [`active`]) and
//! passes it down explicitly, so work that a kernel fans out to other threads runs on the
//! same path as the caller even though the per-thread override is not visible there.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// A family of SIMD code paths. Ordered from least to most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable scalar Rust; always available and the numerical reference.
    Scalar,
    /// 256-bit AVX2 with FMA and F16C.
    Avx2,
    /// 512-bit AVX-512 (F, BW, VL, DQ) plus the AVX2/FMA/F16C baseline.
    Avx512,
}

impl Isa {
    /// All paths, from least to most capable.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// Whether the running CPU can execute this path.
    pub fn is_supported(self) -> bool {
        self <= detected()
    }

    /// Lower-case name, as accepted by `FERRITE_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returned by [`Isa::from_str`] for a name that is not an ISA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownIsa(pub String);

impl fmt::Display for UnknownIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown ISA {:?} (expected scalar, avx2 or avx512)",
            self.0
        )
    }
}

impl std::error::Error for UnknownIsa {}

impl FromStr for Isa {
    type Err = UnknownIsa;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Isa::Scalar),
            "avx2" => Ok(Isa::Avx2),
            "avx512" => Ok(Isa::Avx512),
            _ => Err(UnknownIsa(s.to_owned())),
        }
    }
}

struct Features {
    best: Isa,
    bf16_dot: bool,
}

fn features() -> &'static Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    FEATURES.get_or_init(probe)
}

#[cfg(target_arch = "x86_64")]
fn probe() -> Features {
    let avx2 = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq");
    let best = if avx512 {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Scalar
    };
    Features {
        best,
        bf16_dot: avx512 && is_x86_feature_detected!("avx512bf16"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn probe() -> Features {
    Features {
        best: Isa::Scalar,
        bf16_dot: false,
    }
}

/// The most capable ISA the CPU supports (detected once, then cached).
pub fn detected() -> Isa {
    features().best
}

/// Whether the CPU has the AVX-512 BF16 dot-product instruction (`vdpbf16ps`).
pub fn has_bf16_dot() -> bool {
    features().bf16_dot
}

#[cfg(target_arch = "x86_64")]
fn is_amd() -> bool {
    let r = std::arch::x86_64::__cpuid(0);
    // "AuthenticAMD" as EBX, EDX, ECX.
    (r.ebx, r.edx, r.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163)
}

#[cfg(not(target_arch = "x86_64"))]
fn is_amd() -> bool {
    false
}

/// `FERRITE_BF16_DOT=0|1` as set in the environment (read once); `None` if unset or
/// anything else.
fn bf16_dot_env() -> Option<bool> {
    static ENV: OnceLock<Option<bool>> = OnceLock::new();
    *ENV.get_or_init(|| {
        match std::env::var("FERRITE_BF16_DOT")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        }
    })
}

/// Process default for [`bf16_dot_active`]: `FERRITE_BF16_DOT=0|1` if set, else on for
/// AMD CPUs only, and never without the instruction.
///
/// Measured, not assumed: Zen 4 retires one 512-bit `vdpbf16ps` (64 flops) per cycle,
/// twice its f32 FMA rate, while the Intel Xeon this crate was tuned on sustains one per
/// two cycles, half its f32 FMA rate; there, widening bf16 to f32 while packing is faster.
pub fn bf16_dot_default() -> bool {
    bf16_dot_env().unwrap_or_else(is_amd) && has_bf16_dot()
}

/// Whether a bf16 x bf16 GEMM called on this thread under [`Isa::Avx512`] uses the
/// `vdpbf16ps` kernel (else it widens to f32 while packing): the innermost
/// [`with_bf16_dot`] override, else [`bf16_dot_default`].
pub fn bf16_dot_active() -> bool {
    BF16_DOT.with(|o| o.get()).unwrap_or_else(bf16_dot_default)
}

/// Whether an f32 x bf16 GEMM with more than one row, called on this thread under
/// [`Isa::Avx512`], rounds the f32 operand to bf16 and uses the `vdpbf16ps` kernel.
///
/// Only when asked for explicitly (a [`with_bf16_dot`]`(true, ..)` override, else
/// `FERRITE_BF16_DOT=1`), never by the AMD default of [`bf16_dot_default`]: rounding
/// activations changes results, and would make a prompt's batched pass disagree with
/// the exact one-token steps that follow it, so it is never done silently.
pub fn bf16_activation_rounding() -> bool {
    let asked = BF16_DOT
        .with(|o| o.get())
        .or_else(bf16_dot_env)
        .unwrap_or(false);
    asked && has_bf16_dot()
}

/// Runs `f` with the bf16 dot-product kernel forced on or off for this thread.
///
/// Returns `None` without running `f` when `enabled` but the CPU lacks the instruction.
pub fn with_bf16_dot<R>(enabled: bool, f: impl FnOnce() -> R) -> Option<R> {
    if enabled && !has_bf16_dot() {
        return None;
    }
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BF16_DOT.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(BF16_DOT.with(|o| o.replace(Some(enabled))));
    Some(f())
}

/// The ISAs this CPU supports, least capable first.
pub fn available() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
}

/// The process-wide default: the detected ISA, lowered by `FERRITE_ISA` if set.
///
/// The variable is read once. A request above what the CPU supports is clamped to the
/// detected ISA (running unsupported instructions would be undefined behaviour), and an
/// unparsable value is ignored.
pub fn default_isa() -> Isa {
    static DEFAULT: OnceLock<Isa> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let best = detected();
        std::env::var("FERRITE_ISA")
            .ok()
            .and_then(|v| v.parse::<Isa>().ok())
            .map_or(best, |requested| requested.min(best))
    })
}

thread_local! {
    static OVERRIDE: Cell<Option<Isa>> = const { Cell::new(None) };
    static BF16_DOT: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The ISA a kernel called on this thread right now will use: the innermost
/// [`with_isa`] override, else [`default_isa`].
pub fn active() -> Isa {
    OVERRIDE.with(|o| o.get()).unwrap_or_else(default_isa)
}

/// Runs `f` with every kernel called from this thread forced onto `isa`.
///
/// Returns `None` without running `f` when the CPU does not support `isa`. Nesting is
/// allowed; the previous setting is restored even if `f` panics.
pub fn with_isa<R>(isa: Isa, f: impl FnOnce() -> R) -> Option<R> {
    if !isa.is_supported() {
        return None;
    }
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(Some(isa))));
    Some(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_override() {
        assert_eq!("AVX512".parse::<Isa>(), Ok(Isa::Avx512));
        assert!("sse".parse::<Isa>().is_err());
        assert_eq!(with_isa(Isa::Scalar, active), Some(Isa::Scalar));
        assert!(available().contains(&Isa::Scalar));
        assert_eq!(available().last().copied(), Some(detected()));
        assert_eq!(with_bf16_dot(false, bf16_dot_active), Some(false));
        assert_eq!(
            with_bf16_dot(true, bf16_dot_active).is_some(),
            has_bf16_dot()
        );
        // Activation rounding follows an explicit override, and never the CPU default.
        assert_eq!(with_bf16_dot(false, bf16_activation_rounding), Some(false));
        if has_bf16_dot() {
            assert_eq!(with_bf16_dot(true, bf16_activation_rounding), Some(true));
        }
        if bf16_dot_env().is_none() {
            assert!(!bf16_activation_rounding());
        }
    }
}
