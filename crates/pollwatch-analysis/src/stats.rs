//! Small numerical helpers the forensic methods and the quick count share: the chi-square tail
//! (regularised incomplete gamma), the normal distribution, robust location
//! estimates. Written out here so the crate needs no statistics dependency.

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative
/// error below 1e-14 over the range used here).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let s = (std::f64::consts::PI * x).sin();
        return (std::f64::consts::PI / s).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), by the
/// series (x < a + 1) or the continued fraction (otherwise), as in
/// Numerical Recipes §6.2.
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // P by the series, Q = 1 − P.
        let mut ap = a;
        let mut sum = 1.0 / a;
        let mut del = sum;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        let p = sum * (-x + a * x.ln() - gln).exp();
        (1.0 - p).clamp(0.0, 1.0)
    } else {
        // Lentz's continued fraction for Q.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        ((-x + a * x.ln() - gln).exp() * h).clamp(0.0, 1.0)
    }
}

/// P(χ²_k ≥ x): the p-value of a chi-square statistic with `k` degrees of
/// freedom.
pub(crate) fn chi2_sf(x: f64, k: f64) -> f64 {
    gamma_q(k / 2.0, x / 2.0)
}

/// Complementary error function (W. J. Cody's rational approximations as
/// reduced in Numerical Recipes `erfcc`; fractional error < 1.2e-7).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal CDF Φ(x).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Two-sided p-value of a standard normal z-score.
pub(crate) fn normal_two_sided(z: f64) -> f64 {
    if z.is_finite() {
        erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Standard normal quantile Φ⁻¹(p) (P. J. Acklam's rational approximation,
/// relative error < 1.2e-9). `p` is clamped into (0, 1).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = if p.is_nan() {
        0.5
    } else {
        p.clamp(1e-300, 1.0 - 1e-16)
    };
    let low = 0.024_25;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Mean and sample standard deviation (n − 1) of a list; (0, 0) when empty.
pub(crate) fn mean_sd(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Median of a sorted slice (None when empty).
pub(crate) fn median_sorted(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    })
}

/// The half-sample mode (Bickel & Frühwirth 2006) of a sorted slice:
/// repeatedly keep the shortest interval holding half of the points. A
/// robust, precise estimate of the peak of a unimodal bulk, insensitive to
/// a long tail or to a spike far from the bulk.
pub(crate) fn half_sample_mode(sorted: &[f64]) -> Option<f64> {
    let mut xs = sorted;
    loop {
        match xs.len() {
            0 => return None,
            1 => return Some(xs[0]),
            2 => return Some(0.5 * (xs[0] + xs[1])),
            3 => {
                let (l, r) = (xs[1] - xs[0], xs[2] - xs[1]);
                return Some(if l < r {
                    0.5 * (xs[0] + xs[1])
                } else if l > r {
                    0.5 * (xs[1] + xs[2])
                } else {
                    xs[1]
                });
            }
            n => {
                let h = n.div_ceil(2);
                let mut best = 0;
                let mut width = f64::INFINITY;
                // Among equally short intervals take the middle one, so
                // that a plateau does not pull the estimate to one side.
                let mut ties = Vec::new();
                for i in 0..=n - h {
                    let w = xs[i + h - 1] - xs[i];
                    if w < width {
                        width = w;
                        best = i;
                        ties.clear();
                        ties.push(i);
                    } else if w == width {
                        ties.push(i);
                    }
                }
                if ties.len() > 1 {
                    best = ties[ties.len() / 2];
                }
                let next = &xs[best..best + h];
                if next.len() == n {
                    return median_sorted(next);
                }
                xs = next;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_tail_matches_tables() {
        // Critical values of χ² with 9 degrees of freedom.
        assert!((chi2_sf(16.919, 9.0) - 0.05).abs() < 1e-4);
        assert!((chi2_sf(21.666, 9.0) - 0.01).abs() < 1e-4);
        assert!((chi2_sf(9.0, 9.0) - 0.437_274).abs() < 1e-5);
        assert!((chi2_sf(3.841_459, 1.0) - 0.05).abs() < 1e-6);
        assert_eq!(chi2_sf(0.0, 9.0), 1.0);
        assert!(chi2_sf(1e6, 9.0) < 1e-300);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn normal_helpers_are_consistent() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.001) + 3.090_232).abs() < 1e-5);
        assert!((normal_two_sided(1.959_964) - 0.05).abs() < 1e-6);
        for p in [0.01, 0.2, 0.5, 0.8, 0.99] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-6);
        }
    }

    #[test]
    fn half_sample_mode_finds_the_bulk() {
        let mut xs: Vec<f64> = (0..1000)
            .map(|i| 0.5 + 0.1 * normal_quantile((i as f64 + 0.5) / 1000.0))
            .collect();
        // A long tail and a spike at 1.
        xs.extend((0..300).map(|i| 0.6 + 0.4 * i as f64 / 300.0));
        xs.extend(std::iter::repeat_n(1.0, 50));
        xs.sort_by(f64::total_cmp);
        let m = half_sample_mode(&xs).unwrap();
        assert!((m - 0.5).abs() < 0.03, "{m}");
        assert_eq!(half_sample_mode(&[]), None);
        assert_eq!(half_sample_mode(&[2.0]), Some(2.0));
    }
}
