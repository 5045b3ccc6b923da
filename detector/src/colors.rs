//! Colour names for `DetectLabels`' `IMAGE_PROPERTIES`.
//!
//! Rekognition reports a dominant colour as a CSS named colour: its RGB
//! values are the named colour's, not the pixels' mean (a real answer has
//! `{"Red": 47, "Green": 79, "Blue": 79, "HexCode": "#2f4f4f", "CSSColor":
//! "darkslategrey", "SimplifiedColor": "grey"}`). So pixels are snapped to
//! the nearest of [`CSS_COLORS`], by distance in CIELAB (CIE76 ΔE), which
//! follows what eyes see far better than distance in RGB.
//!
//! **Names.** CSS Color 4's 148 names, one per RGB value (139): where CSS
//! has two names for one colour, the one Rekognition was seen to use
//! ("gray", "dimgrey", "darkslategrey"), otherwise the "-grey" spelling and
//! CSS 2's "aqua" and "fuchsia".
//!
//! **Simplified colours.** The API reference says "one of 12 simplified
//! color names" without listing them; these are [`SIMPLIFIED_COLORS`]
//! (lower case, as Rekognition answers "grey", "green", "black"), given by
//! [`simplified`] from hue, chroma and lightness.

use std::sync::OnceLock;

/// The simplified colours [`simplified`] answers with.
pub const SIMPLIFIED_COLORS: [&str; 12] = [
    "black", "white", "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink",
    "brown",
];

/// CSS named colours, one name per RGB value, by name.
pub const CSS_COLORS: [(&str, [u8; 3]); 139] = [
    ("aliceblue", [240, 248, 255]),
    ("antiquewhite", [250, 235, 215]),
    ("aqua", [0, 255, 255]),
    ("aquamarine", [127, 255, 212]),
    ("azure", [240, 255, 255]),
    ("beige", [245, 245, 220]),
    ("bisque", [255, 228, 196]),
    ("black", [0, 0, 0]),
    ("blanchedalmond", [255, 235, 205]),
    ("blue", [0, 0, 255]),
    ("blueviolet", [138, 43, 226]),
    ("brown", [165, 42, 42]),
    ("burlywood", [222, 184, 135]),
    ("cadetblue", [95, 158, 160]),
    ("chartreuse", [127, 255, 0]),
    ("chocolate", [210, 105, 30]),
    ("coral", [255, 127, 80]),
    ("cornflowerblue", [100, 149, 237]),
    ("cornsilk", [255, 248, 220]),
    ("crimson", [220, 20, 60]),
    ("darkblue", [0, 0, 139]),
    ("darkcyan", [0, 139, 139]),
    ("darkgoldenrod", [184, 134, 11]),
    ("darkgreen", [0, 100, 0]),
    ("darkgrey", [169, 169, 169]),
    ("darkkhaki", [189, 183, 107]),
    ("darkmagenta", [139, 0, 139]),
    ("darkolivegreen", [85, 107, 47]),
    ("darkorange", [255, 140, 0]),
    ("darkorchid", [153, 50, 204]),
    ("darkred", [139, 0, 0]),
    ("darksalmon", [233, 150, 122]),
    ("darkseagreen", [143, 188, 143]),
    ("darkslateblue", [72, 61, 139]),
    ("darkslategrey", [47, 79, 79]),
    ("darkturquoise", [0, 206, 209]),
    ("darkviolet", [148, 0, 211]),
    ("deeppink", [255, 20, 147]),
    ("deepskyblue", [0, 191, 255]),
    ("dimgrey", [105, 105, 105]),
    ("dodgerblue", [30, 144, 255]),
    ("firebrick", [178, 34, 34]),
    ("floralwhite", [255, 250, 240]),
    ("forestgreen", [34, 139, 34]),
    ("fuchsia", [255, 0, 255]),
    ("gainsboro", [220, 220, 220]),
    ("ghostwhite", [248, 248, 255]),
    ("gold", [255, 215, 0]),
    ("goldenrod", [218, 165, 32]),
    ("gray", [128, 128, 128]),
    ("green", [0, 128, 0]),
    ("greenyellow", [173, 255, 47]),
    ("honeydew", [240, 255, 240]),
    ("hotpink", [255, 105, 180]),
    ("indianred", [205, 92, 92]),
    ("indigo", [75, 0, 130]),
    ("ivory", [255, 255, 240]),
    ("khaki", [240, 230, 140]),
    ("lavender", [230, 230, 250]),
    ("lavenderblush", [255, 240, 245]),
    ("lawngreen", [124, 252, 0]),
    ("lemonchiffon", [255, 250, 205]),
    ("lightblue", [173, 216, 230]),
    ("lightcoral", [240, 128, 128]),
    ("lightcyan", [224, 255, 255]),
    ("lightgoldenrodyellow", [250, 250, 210]),
    ("lightgreen", [144, 238, 144]),
    ("lightgrey", [211, 211, 211]),
    ("lightpink", [255, 182, 193]),
    ("lightsalmon", [255, 160, 122]),
    ("lightseagreen", [32, 178, 170]),
    ("lightskyblue", [135, 206, 250]),
    ("lightslategrey", [119, 136, 153]),
    ("lightsteelblue", [176, 196, 222]),
    ("lightyellow", [255, 255, 224]),
    ("lime", [0, 255, 0]),
    ("limegreen", [50, 205, 50]),
    ("linen", [250, 240, 230]),
    ("maroon", [128, 0, 0]),
    ("mediumaquamarine", [102, 205, 170]),
    ("mediumblue", [0, 0, 205]),
    ("mediumorchid", [186, 85, 211]),
    ("mediumpurple", [147, 112, 219]),
    ("mediumseagreen", [60, 179, 113]),
    ("mediumslateblue", [123, 104, 238]),
    ("mediumspringgreen", [0, 250, 154]),
    ("mediumturquoise", [72, 209, 204]),
    ("mediumvioletred", [199, 21, 133]),
    ("midnightblue", [25, 25, 112]),
    ("mintcream", [245, 255, 250]),
    ("mistyrose", [255, 228, 225]),
    ("moccasin", [255, 228, 181]),
    ("navajowhite", [255, 222, 173]),
    ("navy", [0, 0, 128]),
    ("oldlace", [253, 245, 230]),
    ("olive", [128, 128, 0]),
    ("olivedrab", [107, 142, 35]),
    ("orange", [255, 165, 0]),
    ("orangered", [255, 69, 0]),
    ("orchid", [218, 112, 214]),
    ("palegoldenrod", [238, 232, 170]),
    ("palegreen", [152, 251, 152]),
    ("paleturquoise", [175, 238, 238]),
    ("palevioletred", [219, 112, 147]),
    ("papayawhip", [255, 239, 213]),
    ("peachpuff", [255, 218, 185]),
    ("peru", [205, 133, 63]),
    ("pink", [255, 192, 203]),
    ("plum", [221, 160, 221]),
    ("powderblue", [176, 224, 230]),
    ("purple", [128, 0, 128]),
    ("rebeccapurple", [102, 51, 153]),
    ("red", [255, 0, 0]),
    ("rosybrown", [188, 143, 143]),
    ("royalblue", [65, 105, 225]),
    ("saddlebrown", [139, 69, 19]),
    ("salmon", [250, 128, 114]),
    ("sandybrown", [244, 164, 96]),
    ("seagreen", [46, 139, 87]),
    ("seashell", [255, 245, 238]),
    ("sienna", [160, 82, 45]),
    ("silver", [192, 192, 192]),
    ("skyblue", [135, 206, 235]),
    ("slateblue", [106, 90, 205]),
    ("slategrey", [112, 128, 144]),
    ("snow", [255, 250, 250]),
    ("springgreen", [0, 255, 127]),
    ("steelblue", [70, 130, 180]),
    ("tan", [210, 180, 140]),
    ("teal", [0, 128, 128]),
    ("thistle", [216, 191, 216]),
    ("tomato", [255, 99, 71]),
    ("turquoise", [64, 224, 208]),
    ("violet", [238, 130, 238]),
    ("wheat", [245, 222, 179]),
    ("white", [255, 255, 255]),
    ("whitesmoke", [245, 245, 245]),
    ("yellow", [255, 255, 0]),
    ("yellowgreen", [154, 205, 50]),
];

/// `#rrggbb`, lower case, as Rekognition writes `HexCode`.
pub fn hex_code([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The index in [`CSS_COLORS`] of the colour nearest `rgb`.
pub fn nearest_css(rgb: [u8; 3]) -> usize {
    let [l, a, b] = to_lab(rgb);
    let mut best = (0, f32::INFINITY);
    for (i, [pl, pa, pb]) in palette_lab().iter().enumerate() {
        let d = (l - pl).powi(2) + (a - pa).powi(2) + (b - pb).powi(2);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// [`CSS_COLORS`] in CIELAB, computed once.
fn palette_lab() -> &'static [[f32; 3]] {
    static LAB: OnceLock<Vec<[f32; 3]>> = OnceLock::new();
    LAB.get_or_init(|| CSS_COLORS.iter().map(|(_, rgb)| to_lab(*rgb)).collect())
}

/// sRGB to CIELAB (D65 white).
pub fn to_lab([r, g, b]: [u8; 3]) -> [f32; 3] {
    fn linear(c: u8) -> f32 {
        let c = c as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }
    fn f(t: f32) -> f32 {
        const D: f32 = 6.0 / 29.0;
        if t > D * D * D {
            t.cbrt()
        } else {
            t / (3.0 * D * D) + 4.0 / 29.0
        }
    }
    let (r, g, b) = (linear(r), linear(g), linear(b));
    let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = 0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b;
    let (fx, fy, fz) = (f(x / 0.950_47), f(y), f(z / 1.088_83));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The simplified colour of `rgb`, one of [`SIMPLIFIED_COLORS`]:
/// * little chroma (max - min of the channels under 40, or under 60 near
///   black or white): black, grey or white by lightness;
/// * a hue from 10° to 50° (orange) that is dark or greyish: brown;
/// * otherwise by hue: red (under 10° or from 345°; pink when light),
///   orange (to 45°), yellow (to 70°), green (to 160°), teal (to 195°),
///   blue (to 255°), purple (to 290°), then purple or pink (light, or from
///   315°).
pub fn simplified([r, g, b]: [u8; 3]) -> &'static str {
    let (r, g, b) = (r as f32, g as f32, b as f32);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    let lightness = (max + min) / 2.0;
    if chroma < 40.0 || (chroma < 60.0 && !(70.0..=235.0).contains(&max)) {
        return if lightness < 45.0 {
            "black"
        } else if lightness > 215.0 {
            "white"
        } else {
            "grey"
        };
    }
    let sector = if max == r {
        ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        (b - r) / chroma + 2.0
    } else {
        (r - g) / chroma + 4.0
    };
    let hue = sector * 60.0;
    let saturation = chroma / max;
    if (10.0..50.0).contains(&hue) && (max < 180.0 || (saturation < 0.45 && max < 235.0)) {
        return "brown";
    }
    match hue {
        h if !(10.0..345.0).contains(&h) => {
            if lightness >= 175.0 {
                "pink"
            } else {
                "red"
            }
        }
        h if h < 45.0 => "orange",
        h if h < 70.0 => "yellow",
        h if h < 160.0 => "green",
        h if h < 195.0 => "teal",
        h if h < 255.0 => "blue",
        h if h < 290.0 => "purple",
        h if lightness >= 120.0 || h >= 315.0 => "pink",
        _ => "purple",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn css(name: &str) -> [u8; 3] {
        CSS_COLORS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn every_css_colour_is_its_own_nearest_and_named_once() {
        for (i, (name, rgb)) in CSS_COLORS.iter().enumerate() {
            assert_eq!(nearest_css(*rgb), i, "{name}");
            assert!(SIMPLIFIED_COLORS.contains(&simplified(*rgb)), "{name}");
        }
        let mut names: Vec<&str> = CSS_COLORS.iter().map(|(n, _)| *n).collect();
        names.dedup();
        assert_eq!(names.len(), CSS_COLORS.len());
        assert!(CSS_COLORS.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    }

    #[test]
    fn near_colours_snap_to_the_named_one() {
        assert_eq!(CSS_COLORS[nearest_css([250, 2, 3])].0, "red");
        assert_eq!(CSS_COLORS[nearest_css([3, 3, 3])].0, "black");
        assert_eq!(CSS_COLORS[nearest_css([126, 129, 128])].0, "gray");
        assert_eq!(CSS_COLORS[nearest_css([48, 80, 78])].0, "darkslategrey");
    }

    #[test]
    fn simplified_colours_agree_with_rekognitions_answers() {
        // Pairs seen in a Rekognition response.
        for (name, simple) in [
            ("darkslategrey", "grey"),
            ("darkolivegreen", "green"),
            ("gray", "grey"),
            ("dimgrey", "grey"),
            ("black", "black"),
        ] {
            assert_eq!(simplified(css(name)), simple, "{name}");
        }
        for (name, simple) in [
            ("white", "white"),
            ("red", "red"),
            ("darkred", "red"),
            ("orange", "orange"),
            ("gold", "yellow"),
            ("forestgreen", "green"),
            ("teal", "teal"),
            ("navy", "blue"),
            ("royalblue", "blue"),
            ("indigo", "purple"),
            ("hotpink", "pink"),
            ("lightpink", "pink"),
            ("saddlebrown", "brown"),
            ("tan", "brown"),
        ] {
            assert_eq!(simplified(css(name)), simple, "{name}");
        }
    }

    #[test]
    fn hex_codes_are_lower_case_with_a_hash() {
        assert_eq!(hex_code([47, 79, 79]), "#2f4f4f");
        assert_eq!(hex_code([255, 0, 10]), "#ff000a");
    }
}
