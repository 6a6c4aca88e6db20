//! Throughput against the host-speed probe (`stats::probe`): how much of the repeat-to-repeat spread of a
//! mode's TPS went with the host's speed, and each mode's mean TPS moved to one common host speed. The
//! fit is an analysis of covariance with one slope for every mode: the slope comes from the differences
//! within each mode only, so a mode that is simply slower does not bend it.

/// The fit of one scenario's modes.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedFit {
    /// TPS change per millisecond of probe time, from the spread within the modes.
    pub slope: f64,
    /// The probe time every mode is moved to: the mean over every window of the scenario.
    pub common_probe_ms: f64,
    /// Per mode, in the order given: windows fitted.
    pub windows: Vec<usize>,
    /// Per mode, in the order given: mean probe time of its windows.
    pub mean_probe_ms: Vec<f64>,
    /// Per mode, in the order given: mean TPS of its windows, as measured.
    pub mean_tps: Vec<f64>,
    /// Per mode, in the order given: mean TPS at `common_probe_ms`.
    pub adjusted_tps: Vec<f64>,
    /// Share of the within-mode TPS variance that goes with the probe (pooled r²), 0 to 1.
    pub explained: f64,
}

/// Fits `modes`, each a list of (probe ms, TPS) windows. `None` unless every mode has a window, some
/// mode has two, and the probe varied within a mode.
pub fn fit(modes: &[Vec<(f64, f64)>]) -> Option<SpeedFit> {
    if modes.is_empty() || modes.iter().any(|m| m.is_empty()) || modes.iter().all(|m| m.len() < 2) {
        return None;
    }
    let mean =
        |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    let mut means = Vec::new();
    for m in modes {
        let (mx, my) = (mean(m, |p| p.0), mean(m, |p| p.1));
        for (x, y) in m {
            sxx += (x - mx) * (x - mx);
            sxy += (x - mx) * (y - my);
            syy += (y - my) * (y - my);
        }
        means.push((mx, my));
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let windows: Vec<(f64, f64)> = modes.iter().flatten().copied().collect();
    let common_probe_ms = mean(&windows, |p| p.0);
    let explained = if syy > 0.0 {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(SpeedFit {
        slope,
        common_probe_ms,
        windows: modes.iter().map(Vec::len).collect(),
        mean_probe_ms: means.iter().map(|m| m.0).collect(),
        mean_tps: means.iter().map(|m| m.1).collect(),
        adjusted_tps: means
            .iter()
            .map(|(mx, my)| my - slope * (mx - common_probe_ms))
            .collect(),
        explained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_that_ran_on_a_faster_host_loses_its_head_start() {
        // Both modes lose 100 TPS per probe millisecond; b is 200 TPS slower at the same speed but ran
        // on a faster host (probe 8 instead of 12 ms), which hid it in the raw means.
        let a = vec![(10.0, 1000.0), (12.0, 800.0), (14.0, 600.0)];
        let b = vec![(6.0, 1000.0), (8.0, 800.0), (10.0, 600.0)];
        let f = fit(&[a, b]).unwrap();
        assert!((f.slope + 100.0).abs() < 1e-9, "{f:?}");
        assert!((f.common_probe_ms - 10.0).abs() < 1e-9);
        assert_eq!(f.windows, vec![3, 3]);
        assert_eq!(f.mean_probe_ms, vec![12.0, 8.0]);
        assert_eq!(f.mean_tps, vec![800.0, 800.0]);
        assert!((f.adjusted_tps[0] - 1000.0).abs() < 1e-9, "{f:?}");
        assert!((f.adjusted_tps[1] - 600.0).abs() < 1e-9, "{f:?}");
        assert!((f.explained - 1.0).abs() < 1e-9);
    }

    #[test]
    fn spread_unrelated_to_the_probe_explains_nothing_and_moves_nothing() {
        let a = vec![(10.0, 900.0), (12.0, 1100.0), (10.0, 1100.0), (12.0, 900.0)];
        let b = vec![(10.0, 500.0), (12.0, 500.0)];
        let f = fit(&[a, b]).unwrap();
        assert_eq!(f.slope, 0.0);
        assert_eq!(f.explained, 0.0);
        assert_eq!(f.adjusted_tps, vec![1000.0, 500.0]);
    }

    #[test]
    fn no_fit_without_spread_or_windows() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[vec![(10.0, 1.0)], vec![]]), None);
        assert_eq!(fit(&[vec![(10.0, 1.0)], vec![(11.0, 2.0)]]), None);
        assert_eq!(fit(&[vec![(10.0, 1.0), (10.0, 3.0)]]), None);
    }
}
