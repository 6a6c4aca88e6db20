//! Random numbers shaped exactly like sysbench 1.0's (`src/sb_rand.c`): the five id distributions of
//! `--rand-type` with sysbench's default parameters, and the `#`-template strings of the `c` and `pad`
//! columns. Everything draws from a caller-owned [`SmallRng`], so a seeded run repeats.

use super::Distribution;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

/// sysbench `--rand-spec-iter`: uniform draws summed by the gaussian and special distributions.
const SPEC_ITER: u32 = 12;
/// sysbench `--rand-spec-pct`: the percentage of the range that holds the special values.
const SPEC_PCT: f64 = 1.0;
/// sysbench `--rand-spec-res`: the percentage of draws that land on the special values.
const SPEC_RES: f64 = 75.0;
/// sysbench `--rand-pareto-h`.
const PARETO_H: f64 = 0.2;
/// sysbench `--rand-zipfian-exp`.
const ZIPF_EXP: f64 = 0.8;

/// Length of a `c` value: ten groups of eleven digits joined by `-` (119 characters, as sysbench's
/// `c_value_template`; eleven groups would not fit in `CHAR(120)`).
pub const C_LEN: usize = 10 * 11 + 9;
/// Length of a `pad` value: five groups of eleven digits joined by `-`.
pub const PAD_LEN: usize = 5 * 11 + 4;

/// A seeded generator for one client or one loader task.
pub fn seeded_rng(seed: u64, stream: u64) -> SmallRng {
    // Distinct streams from one seed: mix the stream number in with a large odd constant.
    SmallRng::seed_from_u64(seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Draws integers in `[a, b]` with one of sysbench's distributions (parameters precomputed once).
#[derive(Debug, Clone, Copy)]
pub struct IdGenerator {
    distribution: Distribution,
    pareto_power: f64,
    zipf_s: f64,
    zipf_h_integral_x1: f64,
}

impl IdGenerator {
    /// A generator for `distribution` with sysbench's default parameters.
    pub fn new(distribution: Distribution) -> IdGenerator {
        IdGenerator {
            distribution,
            pareto_power: PARETO_H.ln() / (1.0 - PARETO_H).ln(),
            zipf_s: 2.0
                - h_integral_inverse(h_integral(2.5, ZIPF_EXP) - h(2.0, ZIPF_EXP), ZIPF_EXP),
            zipf_h_integral_x1: h_integral(1.5, ZIPF_EXP) - 1.0,
        }
    }

    /// The distribution drawn from.
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// One value in `[a, b]` (`a <= b`), like sysbench's `sb_rand_default(a, b)`.
    #[inline]
    pub fn draw(&self, rng: &mut SmallRng, a: u32, b: u32) -> u32 {
        match self.distribution {
            Distribution::Uniform => uniform(rng, a, b),
            Distribution::Gaussian => {
                let t = f64::from(b - a + 1);
                let sum: f64 = (0..SPEC_ITER).map(|_| unit(rng) * t).sum();
                a + (sum / f64::from(SPEC_ITER)) as u32
            }
            Distribution::Special => special(rng, a, b),
            Distribution::Pareto => {
                let t = f64::from(b - a + 1);
                a + (t * unit(rng).powf(self.pareto_power)) as u32
            }
            Distribution::Zipfian => a + self.zipfian(rng, b - a + 1) - 1,
        }
    }

    /// Rejection-inversion sampling of a bounded Zipf distribution on `[1, n]` (Hörmann and Derflinger),
    /// as sysbench does it.
    fn zipfian(&self, rng: &mut SmallRng, n: u32) -> u32 {
        let h_n = h_integral(f64::from(n) + 0.5, ZIPF_EXP);
        loop {
            let u = h_n + unit(rng) * (self.zipf_h_integral_x1 - h_n);
            let x = h_integral_inverse(u, ZIPF_EXP);
            let k = ((x + 0.5) as u32).clamp(1, n);
            let kf = f64::from(k);
            if kf - x <= self.zipf_s || u >= h_integral(kf + 0.5, ZIPF_EXP) - h(kf, ZIPF_EXP) {
                return k;
            }
        }
    }
}

/// A double in `[0, 1)`.
#[inline]
fn unit(rng: &mut SmallRng) -> f64 {
    rng.gen::<f64>()
}

/// sysbench's `sb_rand_uniform`: every value of `[a, b]` equally likely.
#[inline]
pub fn uniform(rng: &mut SmallRng, a: u32, b: u32) -> u32 {
    a + (unit(rng) * f64::from(b - a + 1)) as u32
}

/// sysbench's "special": `SPEC_RES`% of draws fall uniformly on the middle `SPEC_PCT`% of the range, the
/// rest are gaussian over all of it.
fn special(rng: &mut SmallRng, a: u32, b: u32) -> u32 {
    let t = f64::from(b - a);
    let range_size = t * (100.0 / (100.0 - SPEC_RES));
    let rnd = unit(rng);
    if rnd * range_size < t {
        let sum: f64 = (0..SPEC_ITER).map(|_| unit(rng)).sum();
        return a + (sum * t / f64::from(SPEC_ITER)) as u32;
    }
    let d = t * SPEC_PCT / 100.0;
    let res = rnd * (d + 1.0) + t / 2.0 - t * SPEC_PCT / 200.0;
    a + res as u32
}

fn h_integral(x: f64, e: f64) -> f64 {
    let log_x = x.ln();
    helper2((1.0 - e) * log_x) * log_x
}

fn h(x: f64, e: f64) -> f64 {
    (-e * x.ln()).exp()
}

fn h_integral_inverse(x: f64, e: f64) -> f64 {
    let t = (x * (1.0 - e)).max(-1.0);
    (helper1(t) * x).exp()
}

/// `ln(1 + x) / x`, by its Taylor series near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(exp(x) - 1) / x`, by its Taylor series near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// Two ASCII digits for every number below 100, for writing digit groups quickly.
static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Fills `buf` (`12 * groups - 1` bytes) with `groups` groups of eleven uniform random digits joined by
/// `-`: sysbench's `###########-...` templates. One 64-bit draw makes one group; the modulo bias is below
/// 1e-8.
#[inline]
pub fn fill_digit_groups(rng: &mut SmallRng, buf: &mut [u8]) {
    debug_assert_eq!((buf.len() + 1) % 12, 0);
    for group in buf.chunks_mut(12) {
        let mut v = rng.next_u64() % 100_000_000_000;
        // Digits 10..1 in pairs from the right, digit 0 alone.
        let mut pos = 11;
        while pos > 1 {
            let pair = DIGIT_PAIRS[(v % 100) as usize];
            group[pos - 2] = pair[0];
            group[pos - 1] = pair[1];
            v /= 100;
            pos -= 2;
        }
        group[0] = b'0' + v as u8;
        if group.len() == 12 {
            group[11] = b'-';
        }
    }
}

/// A fresh `c` value.
pub fn c_value(rng: &mut SmallRng) -> [u8; C_LEN] {
    let mut buf = [0u8; C_LEN];
    fill_digit_groups(rng, &mut buf);
    buf
}

/// A fresh `pad` value.
pub fn pad_value(rng: &mut SmallRng) -> [u8; PAD_LEN] {
    let mut buf = [0u8; PAD_LEN];
    fill_digit_groups(rng, &mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u32 = 1000;
    const SAMPLES: usize = 400_000;

    fn sample(d: Distribution) -> Vec<u64> {
        let gen = IdGenerator::new(d);
        let mut rng = seeded_rng(42, 0);
        let mut counts = vec![0u64; N as usize + 1];
        for _ in 0..SAMPLES {
            let v = gen.draw(&mut rng, 1, N);
            assert!((1..=N).contains(&v), "{d}: {v} out of range");
            counts[v as usize] += 1;
        }
        counts
    }

    /// Pearson's chi-squared statistic of `counts[1..=N]` against expected probabilities `p(i)`.
    fn chi_squared(counts: &[u64], p: impl Fn(u32) -> f64) -> f64 {
        (1..=N)
            .map(|i| {
                let e = p(i) * SAMPLES as f64;
                let o = counts[i as usize] as f64;
                (o - e).powi(2) / e
            })
            .sum()
    }

    #[test]
    fn uniform_passes_chi_squared() {
        let counts = sample(Distribution::Uniform);
        let chi = chi_squared(&counts, |_| 1.0 / f64::from(N));
        // 999 degrees of freedom: the 99.9th percentile is about 1143.
        assert!(chi < 1143.0, "chi-squared {chi}");
    }

    #[test]
    fn zipfian_passes_chi_squared_against_its_mass_function() {
        let counts = sample(Distribution::Zipfian);
        let norm: f64 = (1..=N).map(|i| f64::from(i).powf(-ZIPF_EXP)).sum();
        let chi = chi_squared(&counts, |i| f64::from(i).powf(-ZIPF_EXP) / norm);
        assert!(chi < 1143.0, "chi-squared {chi}");
    }

    #[test]
    fn pareto_passes_chi_squared_against_its_cdf() {
        // P(value <= a + j) = ((j + 1) / n)^(1 / power) for the inverse transform sysbench uses.
        let counts = sample(Distribution::Pareto);
        let power = PARETO_H.ln() / (1.0 - PARETO_H).ln();
        let cdf = |j: u32| (f64::from(j) / f64::from(N)).powf(1.0 / power);
        let chi = chi_squared(&counts, |i| cdf(i) - cdf(i - 1));
        assert!(chi < 1143.0, "chi-squared {chi}");
        // The 80/20 rule of h = 0.2: the first 20% of ids take about 80% of draws.
        let head: u64 = counts[1..=(N as usize / 5)].iter().sum();
        let share = head as f64 / SAMPLES as f64;
        assert!((share - 0.8).abs() < 0.01, "{share}");
    }

    #[test]
    fn gaussian_is_centred_with_the_variance_of_twelve_uniforms() {
        let counts = sample(Distribution::Gaussian);
        let mean = (1..=N)
            .map(|i| f64::from(i) * counts[i as usize] as f64)
            .sum::<f64>()
            / SAMPLES as f64;
        let var = (1..=N)
            .map(|i| (f64::from(i) - mean).powi(2) * counts[i as usize] as f64)
            .sum::<f64>()
            / SAMPLES as f64;
        // Mean of 12 uniforms on [0, n): n/2 (+0.5 for truncation and a = 1); variance n^2 / 144.
        assert!((mean - 500.5).abs() < 1.0, "mean {mean}");
        let expected = f64::from(N * N) / 144.0;
        assert!(
            (var / expected - 1.0).abs() < 0.02,
            "variance {var} vs {expected}"
        );
    }

    #[test]
    fn special_puts_three_quarters_on_one_percent() {
        let counts = sample(Distribution::Special);
        // The special values: the middle 1% of [1, 1000], i.e. about 496..=505.
        let hot: u64 = counts[495..=506].iter().sum();
        let share = hot as f64 / SAMPLES as f64;
        // 75% land there directly, plus the gaussian part's own small share of that window.
        assert!((0.75..0.80).contains(&share), "{share}");
    }

    #[test]
    fn seeded_streams_repeat_and_differ() {
        let gen = IdGenerator::new(Distribution::Uniform);
        let draw = |seed, stream| {
            let mut rng = seeded_rng(seed, stream);
            (0..8)
                .map(|_| gen.draw(&mut rng, 1, 1 << 30))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert_ne!(draw(1, 0), draw(2, 0));
    }

    #[test]
    fn digit_groups_match_sysbench_templates() {
        let mut rng = seeded_rng(7, 0);
        let c = c_value(&mut rng);
        let pad = pad_value(&mut rng);
        for (value, groups) in [(&c[..], 10), (&pad[..], 5)] {
            let s = std::str::from_utf8(value).unwrap();
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(parts.len(), groups, "{s}");
            assert!(parts
                .iter()
                .all(|p| p.len() == 11 && p.bytes().all(|b| b.is_ascii_digit())));
        }
        // Every digit position is uniform: the leading digits of many groups cover 0..=9 evenly.
        let mut first = [0u32; 10];
        for _ in 0..20_000 {
            first[(c_value(&mut rng)[0] - b'0') as usize] += 1;
        }
        assert!(
            first.iter().all(|&n| (1_800..2_200).contains(&n)),
            "{first:?}"
        );
    }
}
