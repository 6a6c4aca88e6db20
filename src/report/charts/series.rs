//! Throughput through each measured window: one chart per workload and client count, one line per mode
//! (and repeat) of transactions per second, with every checkpoint start marked by a dashed vertical line
//! in its mode's colour — where full-page writes make throughput drop.

use super::{
    draw_legend, mode_color, text, upper_bound, LegendEntry, Marker, LABEL_SIZE, SERIES_SIZE,
    TICK_SIZE, TITLE_SIZE, VALUE_SIZE,
};
use crate::report::model::{Cell, Group, ReportModel};
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// One line: a mode's TPS per second in one repeat, and where its checkpoints started.
#[derive(Debug, Clone)]
pub struct Line {
    /// The mode.
    pub mode: String,
    /// Its colour.
    pub color: RGBColor,
    /// (seconds into the measured window at the end of the interval, TPS).
    pub points: Vec<(f64, f64)>,
    /// Seconds into the window at which checkpoints started.
    pub checkpoints: Vec<f64>,
}

/// Everything one throughput-over-time chart shows.
#[derive(Debug, Clone)]
pub struct SeriesChart {
    /// The title.
    pub title: String,
    /// Every line.
    pub lines: Vec<Line>,
    /// Legend entries (one per mode, saying how many repeats or why none).
    pub legend: Vec<LegendEntry>,
}

/// TPS per second through the measured windows of `group`.
pub fn throughput_chart(model: &ReportModel, group: &Group, path: &Path) -> Result<PathBuf> {
    let mut lines = Vec::new();
    let mut legend = Vec::new();
    for mode in &model.modes {
        let color = mode_color(model, mode);
        let cell = group.cell(mode);
        let label = match Cell::gap(cell) {
            Some(gap) => format!("{mode} ({})", gap.word()),
            None => {
                let n = cell.map(|c| c.completed().count()).unwrap_or(0);
                if n > 1 {
                    format!("{mode} ({n} repeats)")
                } else {
                    mode.clone()
                }
            }
        };
        legend.push(LegendEntry {
            label,
            color,
            marker: Marker::Line,
        });
        for (r, b) in cell.into_iter().flat_map(Cell::completed) {
            lines.push(Line {
                mode: mode.clone(),
                color,
                points: b.series.iter().map(|s| (s.t, s.tps())).collect(),
                checkpoints: r.checkpoints.iter().map(|c| c.start_secs).collect(),
            });
        }
    }
    let any_checkpoint = lines.iter().any(|l| !l.checkpoints.is_empty());
    legend.push(LegendEntry {
        label: if any_checkpoint {
            "checkpoint start (dashed)".to_string()
        } else {
            "no checkpoint started in these windows".to_string()
        },
        color: RGBColor(0x70, 0x70, 0x70),
        marker: if any_checkpoint {
            Marker::Dashed
        } else {
            Marker::Note
        },
    });
    draw(
        &SeriesChart {
            title: format!(
                "Throughput per second: {}, {} clients",
                group.workload, group.clients
            ),
            lines,
            legend,
        },
        path,
    )
}

/// Renders a throughput-over-time chart to `path`.
pub fn draw(chart: &SeriesChart, path: &Path) -> Result<PathBuf> {
    let err = |e: &dyn std::fmt::Debug| anyhow!("drawing {}: {e:?}", path.display());
    let root = BitMapBackend::new(path, SERIES_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let body = root
        .margin(8, 0, 0, 0)
        .titled(&chart.title, text(TITLE_SIZE))
        .map_err(|e| err(&e))?;
    let (legend_area, plot) = body.split_vertically(40);
    draw_legend(&legend_area, &chart.legend)?;
    let points = chart.lines.iter().flat_map(|l| &l.points);
    let x_max = upper_bound(points.clone().map(|p| p.0).fold(0.0, f64::max), 0.0);
    let y_max = upper_bound(points.map(|p| p.1).fold(0.0, f64::max), 0.1);
    let mut cc = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(25)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(95)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|e| err(&e))?;
    cc.configure_mesh()
        .x_desc("seconds into the measured window (each point: the interval ending there)")
        .y_desc("TPS (transactions/s)")
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(text(TICK_SIZE))
        .axis_desc_style(text(LABEL_SIZE))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| err(&e))?;
    for line in &chart.lines {
        for &cp in &line.checkpoints {
            cc.draw_series(DashedLineSeries::new(
                vec![(cp, 0.0), (cp, y_max)],
                6,
                5,
                line.color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        }
    }
    for line in &chart.lines {
        cc.draw_series(LineSeries::new(
            line.points.iter().copied(),
            line.color.stroke_width(3),
        ))
        .map_err(|e| err(&e))?;
    }
    if chart.lines.is_empty() {
        cc.draw_series(std::iter::once(
            EmptyElement::at((x_max / 2.0, y_max / 2.0))
                + Text::new(
                    "nothing measured",
                    (0, 0),
                    text(VALUE_SIZE + 5).pos(Pos::new(HPos::Center, VPos::Center)),
                ),
        ))
        .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_and_empty_charts_draw() {
        crate::report::charts::register_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let chart = SeriesChart {
            title: "t".into(),
            lines: vec![Line {
                mode: "fpw_on".into(),
                color: super::super::FPW_ON_COLOR,
                points: vec![(1.0, 100.0), (2.0, 40.0), (3.0, 90.0)],
                checkpoints: vec![1.5],
            }],
            legend: vec![],
        };
        draw(&chart, &dir.path().join("a.png")).unwrap();
        let empty = SeriesChart {
            title: "t".into(),
            lines: vec![],
            legend: vec![],
        };
        draw(&empty, &dir.path().join("b.png")).unwrap();
    }
}
