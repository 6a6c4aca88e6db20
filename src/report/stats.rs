//! The statistics of repeated measurements: mean, sample standard deviation, a Student-t confidence
//! interval for the mean, and Welch's t-test for the difference of two means (unequal variances), the
//! way load tools such as latte report error margins. Small and self-contained: the t distribution's CDF
//! comes from the regularized incomplete beta function (continued fraction, Numerical Recipes 6.4).

/// Confidence level of every interval and test in the report.
pub const CONFIDENCE: f64 = 0.95;

/// Mean, spread and a confidence interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); 0 for a single value.
    pub std_dev: f64,
    /// Half-width of the [`CONFIDENCE`] interval of the mean; `None` with fewer than two values.
    pub ci_half_width: Option<f64>,
}

impl Summary {
    /// Summarizes `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std_dev = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let ci_half_width = (n > 1).then(|| {
            t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * std_dev / (n as f64).sqrt()
        });
        Some(Summary {
            n,
            mean,
            std_dev,
            ci_half_width,
        })
    }

    /// The half-width relative to the mean, in percent (`None` without an interval or with a zero mean).
    pub fn ci_percent(&self) -> Option<f64> {
        let h = self.ci_half_width?;
        (self.mean != 0.0).then(|| 100.0 * h / self.mean.abs())
    }
}

/// The outcome of Welch's t-test of `b - a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// `mean(b) - mean(a)`.
    pub difference: f64,
    /// Half-width of the [`CONFIDENCE`] interval of the difference.
    pub ci_half_width: f64,
    /// The t statistic.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

impl Welch {
    /// Whether the difference is larger than the noise at [`CONFIDENCE`].
    pub fn significant(&self) -> bool {
        self.p_value < 1.0 - CONFIDENCE
    }
}

/// Welch's t-test of `mean(b) - mean(a)`; `None` unless both samples have at least two values. Two samples
/// without any variance are significantly different exactly when their means differ.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    let (sa, sb) = (Summary::of(a)?, Summary::of(b)?);
    if sa.n < 2 || sb.n < 2 {
        return None;
    }
    let (va, vb) = (
        sa.std_dev.powi(2) / sa.n as f64,
        sb.std_dev.powi(2) / sb.n as f64,
    );
    let difference = sb.mean - sa.mean;
    let se = (va + vb).sqrt();
    if se == 0.0 {
        let p_value = if difference == 0.0 { 1.0 } else { 0.0 };
        let t = if difference == 0.0 {
            0.0
        } else {
            f64::INFINITY * difference.signum()
        };
        let df = (sa.n + sb.n - 2) as f64;
        return Some(Welch {
            difference,
            ci_half_width: 0.0,
            t,
            df,
            p_value,
        });
    }
    let df = (va + vb).powi(2) / (va.powi(2) / (sa.n - 1) as f64 + vb.powi(2) / (sb.n - 1) as f64);
    let t = difference / se;
    let p_value = 2.0 * (1.0 - t_cdf(t.abs(), df));
    let ci_half_width = t_quantile(0.5 + CONFIDENCE / 2.0, df) * se;
    Some(Welch {
        difference,
        ci_half_width,
        t,
        df,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// The CDF of Student's t distribution with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `p` quantile of Student's t distribution (bisection on [`t_cdf`]).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (-1e6, 1e6);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
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
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = C[0]
        + C[1..]
            .iter()
            .enumerate()
            .map(|(i, c)| c / (x + i as f64 + 1.0))
            .sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_printed_tables() {
        // Two-sided 95%: t(0.975, df).
        for (df, want) in [
            (1.0, 12.706),
            (2.0, 4.303),
            (4.0, 2.776),
            (10.0, 2.228),
            (30.0, 2.042),
        ] {
            let got = t_quantile(0.975, df);
            assert!(close(got, want, 1e-3), "df {df}: {got} != {want}");
        }
        assert!(close(t_cdf(0.0, 5.0), 0.5, 1e-12));
    }

    #[test]
    fn summary_has_an_interval_only_with_repeats() {
        assert!(Summary::of(&[]).is_none());
        let one = Summary::of(&[5.0]).unwrap();
        assert_eq!((one.mean, one.std_dev, one.ci_half_width), (5.0, 0.0, None));
        let s = Summary::of(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!(s.mean, 12.0);
        assert!(close(s.std_dev, 2.0, 1e-12));
        // 4.303 * 2 / sqrt(3)
        assert!(close(s.ci_half_width.unwrap(), 4.9687, 1e-3));
    }

    #[test]
    fn welch_matches_a_worked_example() {
        // Checked by hand (Python: Welch's formulas, p by numerical integration of the t density):
        // t = 3.96666, df = 5.99353, p = 0.0074113.
        let a = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9];
        let b = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1];
        let w = welch(&a, &b).unwrap();
        assert!(close(w.t, 3.96666, 1e-4), "t {}", w.t);
        assert!(close(w.df, 5.99353, 1e-4), "df {}", w.df);
        assert!(close(w.p_value, 0.0074113, 1e-5), "p {}", w.p_value);
        assert!(w.significant());
        let far = welch(&[100.0, 101.0], &[100.5, 99.5]).unwrap();
        assert!(!far.significant(), "{far:?}");
    }

    #[test]
    fn welch_needs_two_values_each_and_survives_zero_variance() {
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        let same = welch(&[3.0, 3.0], &[3.0, 3.0]).unwrap();
        assert!(!same.significant());
        let apart = welch(&[3.0, 3.0], &[4.0, 4.0]).unwrap();
        assert!(apart.significant());
    }
}
