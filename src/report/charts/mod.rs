//! PNG charts (plotters, bitmap backend): one function per chart, each filling a small context struct
//! that one drawing routine per chart kind renders. Sizes, fonts and the colour of every mode are named
//! constants here, so a mode has the same colour in every chart. The font (DejaVu Sans, in `assets/`) is
//! compiled in and registered at run time: no system font or fontconfig is needed.

pub mod bars;
pub mod series;

use super::model::{Group, ReportModel};
use super::Exporter;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The chart of TPS per mode, grouped by workload and clients (the article's chart).
pub const TPS_FILE: &str = "charts/tps.png";
/// The same for QPS.
pub const QPS_FILE: &str = "charts/qps.png";
/// The same for average latency.
pub const LATENCY_FILE: &str = "charts/latency.png";
/// WAL bytes per transaction per mode.
pub const WAL_FILE: &str = "charts/wal_per_txn.png";
/// TPS as a percentage of the baseline, with the published ratios as marks.
pub const RELATIVE_FILE: &str = "charts/relative_tps.png";

/// The throughput-over-time chart of one workload and client count.
pub fn throughput_file(group: &Group) -> String {
    format!("charts/throughput-{}.png", group.id())
}

/// Size of the grouped bar charts, in pixels.
pub const BAR_SIZE: (u32, u32) = (1200, 620);
/// Size of the throughput-over-time charts, in pixels.
pub const SERIES_SIZE: (u32, u32) = (1200, 520);
/// The font family every text uses (registered from the compiled-in font).
pub const FONT: &str = "sans-serif";
/// Chart titles.
pub const TITLE_SIZE: u32 = 26;
/// Axis descriptions and the legend.
pub const LABEL_SIZE: u32 = 18;
/// Tick labels.
pub const TICK_SIZE: u32 = 15;
/// Values printed on bars, and gap words.
pub const VALUE_SIZE: u32 = 13;

/// `fpw_off`: blue.
pub const FPW_OFF_COLOR: RGBColor = RGBColor(0x4C, 0x72, 0xB0);
/// `fpw_on`: orange.
pub const FPW_ON_COLOR: RGBColor = RGBColor(0xDD, 0x84, 0x52);
/// `dwb_on`: green.
pub const DWB_ON_COLOR: RGBColor = RGBColor(0x55, 0xA8, 0x68);
/// Modes a profile adds, in the order the report lists them.
pub const EXTRA_MODE_COLORS: [RGBColor; 6] = [
    RGBColor(0x81, 0x72, 0xB3),
    RGBColor(0x93, 0x78, 0x60),
    RGBColor(0xDA, 0x8B, 0xC3),
    RGBColor(0x8C, 0x8C, 0x8C),
    RGBColor(0xCC, 0xB9, 0x74),
    RGBColor(0x64, 0xB5, 0xCD),
];
/// Published reference marks.
pub const REFERENCE_COLOR: RGBColor = RGBColor(0x20, 0x20, 0x20);

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Registers the compiled-in font once.
fn register() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| ok = register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the compiled-in font assets/DejaVuSans.ttf could not be loaded"
        ))
    }
}

/// Registers the font for unit tests that draw.
#[cfg(test)]
pub(crate) fn register_for_tests() {
    register().unwrap();
}

/// The colour of `mode` in every chart of `model`'s report.
pub fn mode_color(model: &ReportModel, mode: &str) -> RGBColor {
    match mode {
        "fpw_off" => FPW_OFF_COLOR,
        "fpw_on" => FPW_ON_COLOR,
        "dwb_on" => DWB_ON_COLOR,
        _ => {
            let extra = model
                .modes
                .iter()
                .filter(|m| !matches!(m.as_str(), "fpw_off" | "fpw_on" | "dwb_on"))
                .position(|m| m == mode)
                .unwrap_or(0);
            EXTRA_MODE_COLORS[extra % EXTRA_MODE_COLORS.len()]
        }
    }
}

/// A text style of the report's font.
pub fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// An upper bound for a value axis that starts at zero: `max` plus `headroom` (a fraction), never zero,
/// negative, NaN or infinite (a chart with no data still gets an axis).
pub fn upper_bound(max: f64, headroom: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * (1.0 + headroom)
    } else {
        1.0
    }
}

/// One legend entry.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    /// What it names.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// The symbol drawn before the label.
    pub marker: Marker,
}

/// The symbol of a legend entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled square (bars).
    Square,
    /// A solid line (series, reference marks, whiskers).
    Line,
    /// A dashed line (checkpoint marks).
    Dashed,
    /// No symbol: a note.
    Note,
}

/// Draws a one-row legend centred in `area` (a strip above the plot, so it never covers data).
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[LegendEntry],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = text(LABEL_SIZE);
    let widths: Vec<i32> = entries
        .iter()
        .map(|e| {
            area.estimate_text_size(&e.label, &style)
                .map(|(w, _)| w as i32)
                .unwrap_or(80)
                + 50
        })
        .collect();
    let total: i32 = widths.iter().sum();
    let (w, h) = area.dim_in_pixel();
    let mut x = ((w as i32 - total) / 2).max(5);
    let y = h as i32 / 2;
    for (e, width) in entries.iter().zip(widths) {
        let segments: Vec<(i32, i32)> = match e.marker {
            Marker::Line => vec![(0, 24)],
            Marker::Dashed => vec![(0, 6), (9, 15), (18, 24)],
            Marker::Square | Marker::Note => vec![],
        };
        for (a, b) in segments {
            area.draw(&PathElement::new(
                vec![(x + a, y), (x + b, y)],
                e.color.stroke_width(3),
            ))
            .map_err(|err| anyhow!("{err:?}"))?;
        }
        if e.marker == Marker::Square {
            area.draw(&Rectangle::new(
                [(x + 4, y - 8), (x + 20, y + 8)],
                e.color.filled(),
            ))
            .map_err(|err| anyhow!("{err:?}"))?;
        }
        let text_x = if e.marker == Marker::Note { x } else { x + 30 };
        area.draw(&Text::new(
            e.label.clone(),
            (text_x, y),
            style.pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
        ))
        .map_err(|err| anyhow!("{err:?}"))?;
        x += width;
    }
    Ok(())
}

/// Writes every chart.
pub struct Charts;

impl Exporter for Charts {
    fn export(&self, model: &ReportModel, dir: &Path) -> Result<Vec<PathBuf>> {
        register()?;
        std::fs::create_dir_all(dir.join("charts"))?;
        let mut written = vec![
            bars::tps_chart(model, &dir.join(TPS_FILE))?,
            bars::qps_chart(model, &dir.join(QPS_FILE))?,
            bars::latency_chart(model, &dir.join(LATENCY_FILE))?,
            bars::wal_chart(model, &dir.join(WAL_FILE))?,
            bars::relative_chart(model, &dir.join(RELATIVE_FILE))?,
        ];
        for g in &model.groups {
            written.push(series::throughput_chart(
                model,
                g,
                &dir.join(throughput_file(g)),
            )?);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_axes_get_a_range() {
        assert_eq!(upper_bound(0.0, 0.2), 1.0);
        assert_eq!(upper_bound(f64::NAN, 0.2), 1.0);
        assert_eq!(upper_bound(-3.0, 0.2), 1.0);
        assert_eq!(upper_bound(10.0, 0.2), 12.0);
    }

    #[test]
    fn the_font_loads() {
        register().unwrap();
    }
}
