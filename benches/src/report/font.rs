//! The TTF the plots' text is drawn with. plotters' `ab_glyph` text needs a font registered at
//! run time; this finds one once per process: the file named by `STRATA_BENCH_FONT`, else DejaVu
//! Sans (or Liberation Sans) in the usual system folders. Without one the plots are drawn
//! without text and the Markdown says why, so a missing font never fails a run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

/// Names a `.ttf` file to draw the plots' text with, instead of the system's DejaVu Sans.
pub const FONT_ENV: &str = "STRATA_BENCH_FONT";

/// The family name the plots ask for; the font found is registered under it.
pub(crate) const FAMILY: &str = "sans-serif";

/// Where Debian/Ubuntu (`fonts-dejavu-core`), Fedora, Arch and Alpine put the fonts.
const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/ttf-dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// Whether the plots can have text, and what the reader should be told about the font.
#[derive(Debug, Clone)]
pub(crate) struct Fonts {
    /// A font is registered under [`FAMILY`].
    pub(crate) text: bool,
    /// Shown in the Markdown as a warning (no font, or the override could not be used).
    pub(crate) warning: Option<String>,
}

impl Fonts {
    /// Plots without any text (captions, tick labels and legends left out).
    #[cfg(test)]
    pub(crate) fn without_text() -> Self {
        Self {
            text: false,
            warning: Some("text left out for this test".to_string()),
        }
    }
}

/// The process's font, looked up and registered on the first call.
pub(crate) fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(find_and_register)
}

fn find_and_register() -> Fonts {
    let mut problems = Vec::new();
    if let Some(path) = std::env::var_os(FONT_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        match register(&path) {
            Ok(()) => {
                return Fonts {
                    text: true,
                    warning: None,
                };
            }
            Err(problem) => problems.push(format!("{FONT_ENV}={}: {problem}", path.display())),
        }
    }
    for candidate in SYSTEM_FONTS {
        let path = Path::new(candidate);
        if !path.is_file() {
            continue;
        }
        match register(path) {
            Ok(()) => {
                return Fonts {
                    text: true,
                    // The override was set but unusable: the plots have text, from another font.
                    warning: (!problems.is_empty()).then(|| {
                        format!("{}; used {} instead", problems.join("; "), path.display())
                    }),
                };
            }
            Err(problem) => problems.push(format!("{}: {problem}", path.display())),
        }
    }
    problems.push("no DejaVu Sans or Liberation Sans in the usual system font folders".to_string());
    Fonts {
        text: false,
        warning: Some(format!(
            "the plots have no text: {}. Install `fonts-dejavu-core` (scripts/install-deps.sh does) \
             or set {FONT_ENV} to a .ttf file, then render the JSON again",
            problems.join("; ")
        )),
    }
}

/// Reads a TTF and registers it for [`FAMILY`]; its bytes stay for the life of the process,
/// as plotters keeps a reference to them.
fn register(path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read it ({e})"))?;
    // Parse before leaking, so a file that is not a font costs nothing for the process's life.
    if looks_like_font(&data).is_err() {
        return Err("not a TrueType/OpenType font".to_string());
    }
    let bytes: &'static [u8] = Box::leak(data.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| "not a TrueType/OpenType font".to_string())
}

/// The TTF header check `register_font` would do, without keeping the bytes: a sfnt version
/// tag (`0x00010000`, `true` or `OTTO`) and a table directory that fits in the file.
fn looks_like_font(data: &[u8]) -> Result<(), ()> {
    let tag = data.get(0..4).ok_or(())?;
    if !matches!(tag, [0, 1, 0, 0] | b"true" | b"OTTO") {
        return Err(());
    }
    let tables = data.get(4..6).ok_or(())?;
    let tables = usize::from(u16::from_be_bytes([tables[0], tables[1]]));
    if tables == 0 || data.len() < 12 + 16 * tables {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_font_files_pass_the_header_check() {
        assert!(looks_like_font(b"").is_err());
        assert!(looks_like_font(b"<html>not a font</html>").is_err());
        let mut ttf = vec![0, 1, 0, 0, 0, 1];
        ttf.resize(12 + 16, 0);
        assert!(looks_like_font(&ttf).is_ok());
        ttf.truncate(20);
        assert!(looks_like_font(&ttf).is_err());
    }
}
