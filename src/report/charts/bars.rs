//! Grouped bar charts: one group of bars per workload and client count, one bar per mode, the value on
//! top, the spread of the repeats (min to max) as a whisker when there are repeats, and the reason in place of a bar
//! that was not measured. One function per chart builds its [`BarChart`] context; [`draw`] renders any.

use super::{
    draw_legend, mode_color, text, upper_bound, LegendEntry, Marker, BAR_SIZE, LABEL_SIZE,
    REFERENCE_COLOR, TICK_SIZE, TITLE_SIZE, VALUE_SIZE,
};
use crate::bench::BenchResult;
use crate::profile::mode::BASELINE_MODE;
use crate::report::model::{Cell, Costs, Group, ReportModel};
use crate::report::reference;
use crate::report::stats::Summary;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// One bar: a value (with the range of its repeats), or the word saying why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Bar {
    /// A measured value.
    Value {
        /// The height.
        value: f64,
        /// The smallest and largest repeat, with repeats. (Not the confidence interval: with two or three
        /// repeats it is many times wider than the data and would flatten every bar.)
        spread: Option<(f64, f64)>,
    },
    /// Not measured: `skipped`, `failed`, `not run`.
    Gap(&'static str),
}

/// The bars of one mode, one per group.
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// The mode.
    pub name: String,
    /// Its colour.
    pub color: RGBColor,
    /// One bar per group.
    pub bars: Vec<Bar>,
}

/// Everything one grouped bar chart shows.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The title.
    pub title: String,
    /// The value axis, with its unit.
    pub y_label: String,
    /// One label per group of bars.
    pub groups: Vec<String>,
    /// One series per mode.
    pub series: Vec<BarSeries>,
    /// Decimals of the values printed on the bars.
    pub decimals: usize,
    /// Appended to the values printed on the bars (`%`).
    pub suffix: &'static str,
    /// Reference marks per series and group (the published ratios), with their legend label.
    pub reference: Option<(String, Vec<Vec<Option<f64>>>)>,
    /// A horizontal line across the chart (100% = the baseline), with its label.
    pub baseline: Option<(f64, String)>,
}

fn repeats_bar(cell: Option<&Cell>, f: impl Fn(&BenchResult) -> f64) -> Bar {
    if let Some(gap) = Cell::gap(cell) {
        return Bar::Gap(gap.word());
    }
    let values: Vec<f64> = cell
        .into_iter()
        .flat_map(Cell::completed)
        .map(|(_, b)| f(b))
        .collect();
    match Summary::of(&values) {
        Some(s) => Bar::Value {
            value: s.mean,
            spread: (s.n > 1).then(|| {
                values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(*v), hi.max(*v))
                    })
            }),
        },
        None => Bar::Gap("no data"),
    }
}

fn value_bar(cell: Option<&Cell>, f: impl Fn(&Cell) -> Option<f64>) -> Bar {
    if let Some(gap) = Cell::gap(cell) {
        return Bar::Gap(gap.word());
    }
    match cell.and_then(f) {
        Some(value) => Bar::Value {
            value,
            spread: None,
        },
        None => Bar::Gap("no data"),
    }
}

fn per_mode(
    model: &ReportModel,
    modes: &[&String],
    bar: impl Fn(&Group, &str) -> Bar,
) -> Vec<BarSeries> {
    modes
        .iter()
        .map(|m| BarSeries {
            name: m.to_string(),
            color: mode_color(model, m),
            bars: model.groups.iter().map(|g| bar(g, m)).collect(),
        })
        .collect()
}

fn base_chart(
    model: &ReportModel,
    title: &str,
    y_label: &str,
    decimals: usize,
    series: Vec<BarSeries>,
) -> BarChart {
    BarChart {
        title: title.to_string(),
        y_label: y_label.to_string(),
        groups: model
            .groups
            .iter()
            .map(|g| format!("{}, {} clients", g.workload, g.clients))
            .collect(),
        series,
        decimals,
        suffix: "",
        reference: None,
        baseline: None,
    }
}

/// TPS per mode, grouped by workload and clients (the article's chart).
pub fn tps_chart(model: &ReportModel, path: &Path) -> Result<PathBuf> {
    let modes: Vec<&String> = model.modes.iter().collect();
    let series = per_mode(model, &modes, |g, m| repeats_bar(g.cell(m), |b| b.tps));
    draw(
        &base_chart(
            model,
            "Transactions per second by mode (higher is better)",
            "TPS (transactions/s)",
            0,
            series,
        ),
        path,
    )
}

/// QPS per mode, grouped by workload and clients.
pub fn qps_chart(model: &ReportModel, path: &Path) -> Result<PathBuf> {
    let modes: Vec<&String> = model.modes.iter().collect();
    let series = per_mode(model, &modes, |g, m| repeats_bar(g.cell(m), |b| b.qps));
    draw(
        &base_chart(
            model,
            "Queries per second by mode (higher is better)",
            "QPS (statements/s)",
            0,
            series,
        ),
        path,
    )
}

/// Average latency per mode, grouped by workload and clients.
pub fn latency_chart(model: &ReportModel, path: &Path) -> Result<PathBuf> {
    let modes: Vec<&String> = model.modes.iter().collect();
    let series = per_mode(model, &modes, |g, m| {
        value_bar(g.cell(m), |c| Some(c.latency()?.avg_ms))
    });
    draw(
        &base_chart(
            model,
            "Average transaction latency by mode (lower is better)",
            "latency (ms)",
            2,
            series,
        ),
        path,
    )
}

/// WAL bytes per transaction per mode.
pub fn wal_chart(model: &ReportModel, path: &Path) -> Result<PathBuf> {
    let modes: Vec<&String> = model.modes.iter().collect();
    let series = per_mode(model, &modes, |g, m| {
        value_bar(g.cell(m), |c| {
            c.costs().and_then(|c: Costs| c.wal_bytes_per_txn)
        })
    });
    draw(
        &base_chart(
            model,
            "WAL written per transaction by mode (lower is better)",
            "WAL (bytes/transaction)",
            0,
            series,
        ),
        path,
    )
}

/// Each mode's TPS as a percentage of the baseline's, with the published ratios as reference marks.
pub fn relative_chart(model: &ReportModel, path: &Path) -> Result<PathBuf> {
    let modes: Vec<&String> = model.compared_modes().collect();
    let series = per_mode(model, &modes, |g, m| {
        match Cell::gap(g.cell(m)).or(Cell::gap(g.cell(BASELINE_MODE))) {
            Some(gap) => Bar::Gap(gap.word()),
            None => match g.tps_ratio(m, BASELINE_MODE) {
                Some(r) => Bar::Value {
                    value: r * 100.0,
                    spread: None,
                },
                None => Bar::Gap("no data"),
            },
        }
    });
    let marks: Vec<Vec<Option<f64>>> = modes
        .iter()
        .map(|m| {
            model
                .groups
                .iter()
                .map(|g| {
                    reference::published(g.workload, g.clients)?
                        .ratio(m, BASELINE_MODE)
                        .map(|r| r * 100.0)
                })
                .collect()
        })
        .collect();
    let mut chart = base_chart(
        model,
        &format!("Throughput relative to {BASELINE_MODE} (higher is better)"),
        &format!("TPS as % of {BASELINE_MODE}"),
        0,
        series,
    );
    chart.suffix = "%";
    chart.baseline = Some((100.0, format!("{BASELINE_MODE} = 100%")));
    let any_mark = marks.iter().flatten().any(Option::is_some);
    chart.reference = Some((
        if any_mark {
            "published ratio (article)".to_string()
        } else {
            "published ratio (article): none at these client counts".to_string()
        },
        marks,
    ));
    draw(&chart, path)
}

/// Thousands separated by a thin space (`18 038`), or `decimals` decimals below 100.
fn tick(v: f64, decimals: usize) -> String {
    if v.abs() < 100.0 && decimals > 0 {
        return format!("{v:.decimals$}");
    }
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Renders a grouped bar chart to `path`.
pub fn draw(chart: &BarChart, path: &Path) -> Result<PathBuf> {
    let err = |e: &dyn std::fmt::Debug| anyhow!("drawing {}: {e:?}", path.display());
    let root = BitMapBackend::new(path, BAR_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let body = root
        .margin(8, 0, 0, 0)
        .titled(&chart.title, text(TITLE_SIZE))
        .map_err(|e| err(&e))?;
    let (legend_area, plot) = body.split_vertically(40);
    let mut legend: Vec<LegendEntry> = chart
        .series
        .iter()
        .map(|s| LegendEntry {
            label: s.name.clone(),
            color: s.color,
            marker: Marker::Square,
        })
        .collect();
    if let Some((label, _)) = &chart.reference {
        legend.push(LegendEntry {
            label: label.clone(),
            color: REFERENCE_COLOR,
            marker: Marker::Line,
        });
    }
    if chart.series.iter().flat_map(|s| &s.bars).any(|b| {
        matches!(
            b,
            Bar::Value {
                spread: Some(_),
                ..
            }
        )
    }) {
        legend.push(LegendEntry {
            label: "whisker: min–max of repeats".to_string(),
            color: BLACK,
            marker: Marker::Line,
        });
    }
    draw_legend(&legend_area, &legend)?;

    let n_groups = chart.groups.len().max(1);
    let n_series = chart.series.len().max(1);
    let mut max = chart
        .series
        .iter()
        .flat_map(|s| &s.bars)
        .filter_map(|b| match b {
            Bar::Value { value, spread } => Some(spread.map_or(*value, |(_, hi)| hi.max(*value))),
            Bar::Gap(_) => None,
        })
        .fold(0.0, f64::max);
    if let Some((_, marks)) = &chart.reference {
        max = marks.iter().flatten().flatten().fold(max, |a, b| a.max(*b));
    }
    if let Some((b, _)) = &chart.baseline {
        max = max.max(*b);
    }
    let y_max = upper_bound(max, 0.15);
    let mut cc = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(25)
        .margin_bottom(10)
        .x_label_area_size(55)
        .y_label_area_size(95)
        .build_cartesian_2d(0f64..n_groups as f64, 0f64..y_max)
        .map_err(|e| err(&e))?;
    let decimals = chart.decimals;
    cc.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|y| tick(*y, decimals))
        .x_desc("workload, concurrent clients")
        .y_desc(chart.y_label.as_str())
        .label_style(text(TICK_SIZE))
        .axis_desc_style(text(LABEL_SIZE))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| err(&e))?;

    if let Some((y, label)) = &chart.baseline {
        cc.draw_series(DashedLineSeries::new(
            vec![(0.0, *y), (n_groups as f64, *y)],
            8,
            6,
            BLACK.mix(0.6).stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
        cc.draw_series(std::iter::once(
            EmptyElement::at((n_groups as f64, *y))
                + Text::new(
                    label.clone(),
                    (-4, -4),
                    text(VALUE_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)),
                ),
        ))
        .map_err(|e| err(&e))?;
    }
    // Group labels centred under each group (plotters puts tick labels where its own ticks are).
    for (g, label) in chart.groups.iter().enumerate() {
        let at = cc.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            label.clone(),
            (at.0, at.1 + 8),
            text(TICK_SIZE).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(|e| err(&e))?;
    }
    let slot = 0.8 / n_series as f64;
    let x_of = |g: usize, s: usize| g as f64 + 0.1 + s as f64 * slot;
    let label_style = text(VALUE_SIZE).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (s, series) in chart.series.iter().enumerate() {
        for (g, bar) in series.bars.iter().enumerate() {
            let (x0, x1) = (x_of(g, s) + slot * 0.06, x_of(g, s) + slot * 0.94);
            let mid = (x0 + x1) / 2.0;
            match bar {
                Bar::Value { value, spread } => {
                    cc.draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x1, *value)],
                        series.color.filled(),
                    )))
                    .map_err(|e| err(&e))?;
                    let mut top = *value;
                    if let Some((lo, hi)) = spread {
                        let cap = slot * 0.12;
                        let whisker = [
                            vec![(mid, *lo), (mid, *hi)],
                            vec![(mid - cap, *lo), (mid + cap, *lo)],
                            vec![(mid - cap, *hi), (mid + cap, *hi)],
                        ];
                        cc.draw_series(
                            whisker
                                .into_iter()
                                .map(|p| PathElement::new(p, BLACK.stroke_width(2))),
                        )
                        .map_err(|e| err(&e))?;
                        top = top.max(*hi);
                    }
                    let label = format!("{}{}", tick(*value, decimals), chart.suffix);
                    cc.draw_series(std::iter::once(
                        EmptyElement::at((mid, top))
                            + Text::new(label, (0, -4), label_style.clone()),
                    ))
                    .map_err(|e| err(&e))?;
                }
                Bar::Gap(word) => {
                    cc.draw_series(std::iter::once(
                        EmptyElement::at((mid, 0.0))
                            + Text::new(
                                word.to_string(),
                                (0, -6),
                                label_style.clone().color(&RGBColor(0x70, 0x70, 0x70)),
                            ),
                    ))
                    .map_err(|e| err(&e))?;
                }
            }
            if let Some(Some(mark)) = chart
                .reference
                .as_ref()
                .and_then(|(_, m)| m.get(s))
                .and_then(|m| m.get(g))
            {
                let (a, b) = (x_of(g, s), x_of(g, s) + slot);
                cc.draw_series(std::iter::once(PathElement::new(
                    vec![(a, *mark), (b, *mark)],
                    REFERENCE_COLOR.stroke_width(3),
                )))
                .map_err(|e| err(&e))?;
            }
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_grouped_and_small_values_keep_decimals() {
        assert_eq!(tick(18038.0, 0), "18,038");
        assert_eq!(tick(999.0, 0), "999");
        assert_eq!(tick(1.5, 2), "1.50");
        assert_eq!(tick(1234567.0, 2), "1,234,567");
    }

    #[test]
    fn a_chart_without_values_still_draws() {
        crate::report::charts::register_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let chart = BarChart {
            title: "empty".into(),
            y_label: "TPS".into(),
            groups: vec!["write_only, 4 clients".into()],
            series: vec![BarSeries {
                name: "dwb_on".into(),
                color: super::super::DWB_ON_COLOR,
                bars: vec![Bar::Gap("skipped")],
            }],
            decimals: 0,
            suffix: "",
            reference: None,
            baseline: None,
        };
        let path = draw(&chart, &dir.path().join("x.png")).unwrap();
        assert!(std::fs::metadata(path).unwrap().len() > 0);
    }
}
